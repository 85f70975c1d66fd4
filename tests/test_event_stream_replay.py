"""``GET /events`` over the wire: every event exactly once and in order — across reconnects, a
restart, and a ``kill -9`` mid-load; SSE's Last-Event-ID; resync when history is gone; slow
subscribers cut off (and able to resume); heartbeats."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import h11
import trio

from ._server_fixtures import (
    Http,
    ServerProcess,
    SseClient,
    WsClient,
    http_unix,
    project_dirs,
    running_server,
    sse,
    websocket,
)

Frame = dict[str, Any]


async def frames_until(client: WsClient, done: Callable[[Frame], bool], *, timeout: float = 15.0) -> list[Frame]:
    """Frames up to and including the first for which ``done`` is true (or until the stream closes)."""
    frames: list[Frame] = []
    with trio.fail_after(timeout):
        while (frame := await client.receive_json()) is not None:
            frames.append(frame)
            if done(frame):
                break
    return frames


def comment_bodies(frames: list[Frame]) -> list[str]:
    return [f["data"]["comment"]["body"] for f in frames if f.get("type") == "comment.created"]


def assert_in_order_once(frames: list[Frame]) -> None:
    seqs = [f["seq"] for f in frames if "seq" in f and f.get("type") not in ("subscribed", "resync_required")]
    assert seqs == sorted(set(seqs)), "events repeated or out of order"


async def batch(client: Http, calls: list[tuple[str, dict[str, Any]]]) -> list[Any]:
    """Many calls in one JSON-RPC batch (quicker than one request each); their results, in order."""
    request = [{"jsonrpc": "2.0", "id": i, "method": m, "params": p} for i, (m, p) in enumerate(calls)]
    answers = (await client.request("POST", "/rpc", json_body=request)).json()
    by_id = {a["id"]: a for a in answers}
    assert all("result" in a for a in answers), answers[:3]
    return [by_id[i]["result"] for i in range(len(calls))]


async def comment(client: Http, ticket_id: int, *bodies: str) -> list[Any]:
    return await batch(client, [("comment.create", {"ticket_id": ticket_id, "body": b}) for b in bodies])


def is_comment(body: str) -> Callable[[Frame], bool]:
    return lambda f: f.get("type") == "comment.created" and f["data"]["comment"]["body"] == body


async def test_reconnecting_with_since_delivers_every_missed_event_once_in_order() -> None:
    with running_server() as server:
        async with http_unix(server.dirs.rpc) as rpc:
            ticket = await rpc.call("ticket.create", title="Replay", body="x")
            async with websocket(server.dirs.events, "/events?since=0") as first:
                await comment(rpc, ticket["id"], "a1", "a2", "a3")
                seen = await frames_until(first, is_comment("a3"))
            assert seen[0] == {"type": "subscribed", "project": "acme", "seq": seen[0]["seq"]}
            assert seen[1]["type"] == "ticket.created"  # replayed from the table
            assert comment_bodies(seen) == ["a1", "a2", "a3"]  # live

            await comment(rpc, ticket["id"], "b1", "b2")  # while nobody listens
            last = seen[-1]["seq"]
            async with websocket(server.dirs.events, f"/events?since={last}") as second:
                resumed = await frames_until(second, is_comment("b2"))
                await comment(rpc, ticket["id"], "c1")
                resumed += await frames_until(second, is_comment("c1"))
            b2 = next(f for f in resumed if is_comment("b2")(f))
            assert resumed[0]["seq"] == b2["seq"]  # "subscribed" reports the latest seq at that moment
            assert comment_bodies(resumed) == ["b1", "b2", "c1"]
            assert_in_order_once(seen + resumed)


async def test_replay_survives_a_server_restart() -> None:
    with project_dirs() as dirs:
        server = await ServerProcess(dirs).astart()
        async with http_unix(dirs.rpc) as rpc:
            ticket = await rpc.call("ticket.create", title="Restart", body="x")
            async with websocket(dirs.events, "/events?since=0") as ws:
                await comment(rpc, ticket["id"], "before")
                seen = await frames_until(ws, is_comment("before"))
        assert await server.stop() == 0

        server = await ServerProcess(dirs).astart()
        try:
            async with http_unix(dirs.rpc) as rpc:
                await comment(rpc, ticket["id"], "after-1", "after-2")
                async with websocket(dirs.events, f"/events?since={seen[-1]['seq']}") as ws:
                    resumed = await frames_until(ws, is_comment("after-2"))
            assert comment_bodies(resumed) == ["after-1", "after-2"]
            assert_in_order_once(seen + resumed)
        finally:
            assert await server.stop() == 0


async def test_every_acknowledged_write_survives_kill_9_during_a_write_load() -> None:
    acknowledged: list[int] = []
    with project_dirs() as dirs:
        server = await ServerProcess(dirs).astart()
        async with http_unix(dirs.rpc) as rpc:
            ticket = await rpc.call("ticket.create", title="Crash", body="x")

        async def writer(n: int) -> None:
            try:
                async with http_unix(dirs.rpc) as client:
                    for i in range(100_000):
                        result = await client.call("comment.create", ticket_id=ticket["id"], body=f"w{n}-{i}")
                        acknowledged.append(result["id"])
            except (OSError, trio.BrokenResourceError, h11.ProtocolError):
                pass  # the server died under us: whatever was not acknowledged may or may not be there

        async with trio.open_nursery() as nursery:
            for n in range(4):
                nursery.start_soon(writer, n)
            while len(acknowledged) < 200:
                await trio.sleep(0.01)
            server.kill()  # SIGKILL: no clean shutdown, the socket files stay behind
        assert dirs.rpc.exists()

        server = await ServerProcess(dirs).astart()  # replaces the stale sockets
        try:
            async with websocket(dirs.events, "/events?since=0") as ws:
                subscribed = await ws.receive_json()
                replay = await frames_until(ws, lambda f: f["seq"] >= subscribed["seq"])
            assert_in_order_once(replay)
            created = [f["data"]["comment"]["id"] for f in replay if f["type"] == "comment.created"]
            assert len(created) == len(set(created))
            assert set(acknowledged) <= set(created)
            async with http_unix(dirs.rpc) as rpc:
                stored, cursor = set(), None
                while True:
                    page = await rpc.call("comment.list", ticket_id=ticket["id"], limit=200, cursor=cursor)
                    stored |= {c["id"] for c in page["items"]}
                    if not (cursor := page["next_cursor"]):
                        break
            assert set(acknowledged) <= stored
        finally:
            assert await server.stop() == 0


async def sse_until(stream: SseClient, body: str) -> list[Any]:
    messages = []
    with trio.fail_after(15):
        while (message := await stream.next()) is not None:
            messages.append(message)
            if message.data.get("type") == "comment.created" and message.data["data"]["comment"]["body"] == body:
                break
    return messages


async def test_sse_resumes_from_last_event_id() -> None:
    with running_server() as server:
        async with http_unix(server.dirs.rpc) as rpc:
            ticket = await rpc.call("ticket.create", title="SSE", body="x")
            async with sse(server.dirs.events, "/events") as stream:
                assert stream.head.status_code == 200
                assert dict(stream.head.headers)[b"content-type"].startswith(b"text/event-stream")
                subscribed = await stream.next()
                assert subscribed is not None and subscribed.data["type"] == "subscribed"
                assert subscribed.id == str(subscribed.data["seq"])  # a fresh stream resumes from "now"
                await comment(rpc, ticket["id"], "s1", "s2")
                first = await sse_until(stream, "s2")
            assert [m.id for m in first] == [str(m.data["seq"]) for m in first]
            await comment(rpc, ticket["id"], "s3", "s4")
            # Last-Event-ID (what a browser sends when it reconnects) wins over the URL's since
            headers = {"last-event-id": first[-1].id}
            async with sse(server.dirs.events, "/events?since=0", headers) as stream:
                subscribed = await stream.next()
                assert subscribed is not None and subscribed.id is None  # a replay follows: no id yet
                resumed = await sse_until(stream, "s4")
            bodies = [m.data["data"]["comment"]["body"] for m in resumed if m.data["type"] == "comment.created"]
            assert bodies == ["s3", "s4"]
            assert int(resumed[0].id) == int(first[-1].id) + 1


async def test_a_since_older_than_what_is_kept_gets_resync_required() -> None:
    with running_server("--event-retention", "5") as server:
        async with http_unix(server.dirs.rpc) as rpc:
            for _ in range(11):  # the hub prunes every thousand events
                await batch(rpc, [("presence.update", {"status": "online", "status_text": "hi"})] * 100)
            latest = (await batch(rpc, [("project.info", {})]))[0]
            ticket = await rpc.call("ticket.create", title="Resync", body="x")
            await comment(rpc, ticket["id"], "after")
        async with websocket(server.dirs.events, "/events?since=1") as ws:
            frames = await frames_until(ws, lambda f: f["type"] == "resync_required")
            assert [f["type"] for f in frames] == ["subscribed", "resync_required"]
            assert frames[1]["seq"] == frames[0]["seq"] > 1000
            async with http_unix(server.dirs.rpc) as rpc:  # then live events, as usual
                await comment(rpc, ticket["id"], "live")
            live = await frames_until(ws, is_comment("live"))
            assert comment_bodies(live) == ["live"]
        async with sse(server.dirs.events, "/events?since=99999999") as stream:  # newer than anything
            assert (await stream.next()).data["type"] == "subscribed"
            resync = await stream.next()
            assert resync is not None and resync.data["type"] == "resync_required"
            assert resync.id == str(resync.data["seq"])
        assert latest["name"] == "acme"


async def test_a_subscriber_that_cannot_keep_up_is_cut_off_and_resumes_with_since() -> None:
    with running_server("--event-buffer", "8") as server:
        async with http_unix(server.dirs.rpc) as rpc:
            ticket = await rpc.call("ticket.create", title="Firehose", body="x")
            stream = await trio.open_unix_socket(str(server.dirs.events))
            slow = await WsClient.connect(stream, "/events")
            big = "x" * 60_000
            bodies = [f"{i:04d}{big}" for i in range(240)]
            for start in range(0, len(bodies), 20):  # ~14 MB of events while the client reads nothing
                await comment(rpc, ticket["id"], *bodies[start : start + 20])
            await server.wait_for_line("dropped a subscriber")
            got = await frames_until(slow, lambda f: False)
            await stream.aclose()
            assert slow.close_code == 1013  # try again later
            received = comment_bodies(got)
            assert 0 < len(received) < len(bodies)
            assert received == bodies[: len(received)]  # what came, came in order and without gaps
            await server.wait_for_line("stream=websocket outcome=too_slow")

            async with websocket(server.dirs.events, f"/events?since={got[-1]['seq']}") as ws:
                rest = await frames_until(ws, is_comment(bodies[-1]), timeout=30)
            assert received + comment_bodies(rest) == bodies
            assert (await rpc.request("GET", "/health")).status == 200


async def test_idle_streams_carry_heartbeats() -> None:
    with running_server("--heartbeat", "0.2") as server:
        async with websocket(server.dirs.events) as ws, sse(server.dirs.events) as stream:
            assert (await ws.receive_json())["type"] == "subscribed"
            assert (await stream.next()).data["type"] == "subscribed"
            frame: Any = "nothing"
            with trio.move_on_after(1.0):
                frame = await ws.receive_json()  # answers pings while waiting for a frame
            assert frame == "nothing"  # pings are control frames, never JSON frames of their own
            assert ws.pings >= 2
            message: Any = "nothing"
            with trio.move_on_after(1.0):
                message = await stream.next()
            assert message == "nothing"  # ": ping" is a comment, not an event
            assert stream.comments.count("ping") >= 2
        await server.wait_for_line("stream=sse outcome=client_gone")
