"""A subscriber that reads as fast as it can is never dropped while the server keeps up with its writes
(WIRE.md section 5): its writer sends whatever is waiting in one batch, so many writers cannot starve it.

The buffer is made small (``--event-buffer 32``) so that a writer taking one scheduler turn per event falls
behind within a few hundred comments; a batching writer never does, however small the buffer.
"""

from __future__ import annotations

import trio

from ._server_fixtures import Http, running_server, setup_people, websocket

WRITERS = 8
COMMENTS_EACH = 60


async def test_a_prompt_reader_keeps_up_with_eight_writers() -> None:
    with running_server("--event-buffer", "32") as server:
        ids = await setup_people(server.dirs.rpc, ("sam@example.com", "support"))
        assert ids
        async with websocket(server.dirs.events, "/events", {"x-hero-user": "sam@example.com"}) as reader:
            assert (await reader.receive_json())["type"] == "subscribed"
            stream = await trio.open_unix_socket(str(server.dirs.rpc))
            async with stream:
                ticket = await Http(stream).call("ticket.create", as_user="sam@example.com", title="busy", body="x")
            expected = 1 + WRITERS * COMMENTS_EACH  # ticket.created, then every comment.created
            received: list[dict[str, object]] = []

            async def write(index: int) -> None:
                stream = await trio.open_unix_socket(str(server.dirs.rpc))
                async with stream:
                    client = Http(stream)
                    for n in range(COMMENTS_EACH):
                        await client.call(
                            "comment.create", as_user="sam@example.com", ticket_id=ticket["id"], body=f"{index}/{n}"
                        )

            async def read() -> None:
                while len(received) < expected:
                    frame = await reader.receive_json()
                    assert frame is not None, f"dropped after {len(received)} events: close {reader.close_code}"
                    received.append(frame)

            with trio.fail_after(240):  # a hang guard only
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(read)
                    for index in range(WRITERS):
                        nursery.start_soon(write, index)
        seqs = [int(str(frame["seq"])) for frame in received]
        assert seqs == sorted(seqs) and len(set(seqs)) == expected
        assert [frame["type"] for frame in received].count("comment.created") == WRITERS * COMMENTS_EACH
        assert "dropped a subscriber" not in server.log
