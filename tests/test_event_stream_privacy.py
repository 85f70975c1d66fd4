"""Privacy over the wire: a customer's event stream carries only what that customer may read."""

from __future__ import annotations

from typing import Any

import trio

from ._server_fixtures import ServerProcess, http_unix, running_server, setup_people, sse, websocket

ANN, BOB, SAM = "ann@example.com", "bob@example.com", "sam@example.com"


async def help_desk_day(server: ServerProcess, ann_ticket: int, bob_ticket: int) -> None:
    """What happens around Ann while she watches: none of it but the last two lines is hers to see."""
    async with http_unix(server.dirs.rpc) as rpc:
        await rpc.call("comment.create", as_user=BOB, ticket_id=bob_ticket, body="bob's private reply")
        await rpc.call("ticket.update", as_user=SAM, id=bob_ticket, priority="high")
        await rpc.call("presence.update", as_user=BOB, status="away", status_text="bob is at lunch")
        await rpc.call("presence.set_viewing_ticket", as_user=BOB, ticket_id=bob_ticket)
        await rpc.call("presence.set_composing", as_user=SAM, ticket_id=ann_ticket, internal=True)
        await rpc.call("comment.create", as_user=SAM, ticket_id=ann_ticket, body="agents only", internal=True)
        # what Ann may see: the agent typing a public reply, then the reply
        await rpc.call("presence.set_composing", as_user=SAM, ticket_id=ann_ticket, internal=False)
        await rpc.call("comment.create", as_user=SAM, ticket_id=ann_ticket, body="public answer")


def is_public_answer(frame: dict[str, Any]) -> bool:
    return frame.get("type") == "comment.created" and frame["data"]["comment"]["body"] == "public answer"


def assert_nothing_private(frames: list[dict[str, Any]], ann_ticket: int, bob_id: int) -> None:
    events = [f for f in frames if "seq" in f and f["type"] not in ("subscribed", "resync_required")]
    assert events, "Ann saw nothing at all"
    for event in events:
        assert event["ticket_id"] in (ann_ticket, None), event
        assert event["actor_id"] != bob_id, event
        assert event["data"].get("user_id") != bob_id, event
        assert not event["data"].get("internal"), event
        assert not event["data"].get("comment", {}).get("internal"), event
    text = str(frames)
    assert "agents only" not in text and "bob's private reply" not in text and "bob is at lunch" not in text
    composing = [e for e in events if e["type"] == "presence.composing"]
    assert composing and all(e["data"]["internal"] is False for e in composing)


async def test_a_customer_stream_carries_no_other_customer_no_internal_note_and_no_internal_composing() -> None:
    with running_server() as server:
        ids = await setup_people(server.dirs.rpc, (ANN, "customer"), (BOB, "customer"), (SAM, "support"))
        async with http_unix(server.dirs.rpc) as rpc:
            ann_ticket = (await rpc.call("ticket.create", as_user=ANN, title="Ann's", body="help"))["id"]
            bob_ticket = (await rpc.call("ticket.create", as_user=BOB, title="Bob's", body="help"))["id"]

        headers = {"x-hero-user": ANN}
        async with (
            websocket(server.dirs.events, "/events", headers) as ann_ws,
            sse(server.dirs.events, "/events", headers) as ann_sse,
            websocket(server.dirs.events, "/events", {"x-hero-user": SAM}) as sam_ws,
        ):
            await help_desk_day(server, ann_ticket, bob_ticket)
            ann_frames, sam_frames, sse_frames = [], [], []
            with trio.fail_after(15):
                while not ann_frames or not is_public_answer(ann_frames[-1]):
                    ann_frames.append(await ann_ws.receive_json())
                while not sam_frames or not is_public_answer(sam_frames[-1]):
                    sam_frames.append(await sam_ws.receive_json())
                while not sse_frames or not is_public_answer(sse_frames[-1]):
                    message = await ann_sse.next()
                    assert message is not None
                    sse_frames.append(message.data)

        assert_nothing_private(ann_frames, ann_ticket, ids[BOB])
        assert_nothing_private(sse_frames, ann_ticket, ids[BOB])
        # the agent's stream shows that the private events did happen
        sam_text = str(sam_frames)
        assert "agents only" in sam_text and "bob's private reply" in sam_text
        assert any(f.get("type") == "presence.composing" and f["data"]["internal"] for f in sam_frames)

        # and replay from the table is filtered the same way as live delivery
        async with websocket(server.dirs.events, "/events?since=0", headers) as replay:
            replayed = []
            with trio.fail_after(15):
                while not replayed or not is_public_answer(replayed[-1]):
                    replayed.append(await replay.receive_json())
        assert_nothing_private(replayed, ann_ticket, ids[BOB])


async def test_an_unbound_device_receives_nothing() -> None:
    with running_server() as server:
        await setup_people(server.dirs.rpc, (ANN, "customer"))
        async with websocket(server.dirs.events, "/events?since=0", {"x-hero-device": "stranger"}) as stranger:
            assert (await stranger.receive_json())["type"] == "subscribed"
            async with http_unix(server.dirs.rpc) as rpc:
                ticket = await rpc.call("ticket.create", as_user=ANN, title="Mine", body="x")
                await rpc.call("comment.create", as_user=ANN, ticket_id=ticket["id"], body="hello")
                await rpc.call("presence.update", as_user=ANN, status="online", status_text="")
            frame: Any = "nothing"
            with trio.move_on_after(1.0):
                frame = await stranger.receive_json()
            assert frame == "nothing"


async def test_signing_in_ends_the_anonymous_stream_so_it_reconnects_with_the_new_rights() -> None:
    with running_server() as server:
        await setup_people(server.dirs.rpc, (ANN, "customer"))
        async with http_unix(server.dirs.rpc) as rpc:
            ticket = await rpc.call("ticket.create", as_user=ANN, title="Mine", body="x")
            invite = await rpc.call("auth.issue_magic_link", email=ANN)
        async with websocket(server.dirs.events, "/events", {"x-hero-device": "web:laptop"}) as before:
            assert (await before.receive_json())["type"] == "subscribed"
            async with http_unix(server.dirs.rpc) as rpc:
                await rpc.call("auth.consume_magic_link", as_device="web:laptop", token=invite["token"])
            with trio.fail_after(5):
                assert await before.receive_json() is None
            assert before.close_code == 1008
        async with websocket(server.dirs.events, "/events", {"x-hero-device": "web:laptop"}) as after:
            assert (await after.receive_json())["type"] == "subscribed"
            async with http_unix(server.dirs.rpc) as rpc:
                await rpc.call("comment.create", as_user=ANN, ticket_id=ticket["id"], body="now visible")
            with trio.fail_after(5):
                frame = await after.receive_json()
            assert frame["type"] == "comment.created" and frame["data"]["comment"]["body"] == "now visible"
