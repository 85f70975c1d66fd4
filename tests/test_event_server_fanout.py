"""events.sock's own server: frames encoded once are valid for every client, at every size, and a
fan-out to many subscribers delivers every event to each of them, in order."""

from __future__ import annotations

import pytest
import trio
import wsproto
import wsproto.events as ws

from hero_assistance.transport._http_server import _text_frame

from ._server_fixtures import http_unix, running_server, setup_people, websocket


@pytest.mark.parametrize("size", [0, 1, 125, 126, 65535, 65536, 200_000])
def test_a_cached_frame_decodes_to_its_text(size: int) -> None:
    text = ("é" * size)[:size]
    client = wsproto.connection.Connection(wsproto.connection.ConnectionType.CLIENT)
    frame = _text_frame(text)
    assert _text_frame(text) is frame  # encoded once per text object
    client.receive_data(frame)
    [message] = list(client.events())
    assert isinstance(message, ws.TextMessage) and message.data == text and message.message_finished


async def test_every_subscriber_gets_every_event_in_order() -> None:
    with running_server() as server:
        await setup_people(server.dirs.rpc, ("sam@example.com", "support"))
        received: dict[int, list[int]] = {}

        async def subscriber(index: int, ready: trio.Semaphore) -> None:
            async with websocket(server.dirs.events, "/events", {"x-hero-user": "sam@example.com"}) as client:
                assert (await client.receive_json())["type"] == "subscribed"
                ready.release()
                seqs = received.setdefault(index, [])
                while len(seqs) < 20:
                    frame = await client.receive_json()
                    assert frame is not None, "stream closed early"
                    seqs.append(frame["seq"])

        ready = trio.Semaphore(0)
        with trio.fail_after(60):
            async with trio.open_nursery() as nursery:
                for index in range(100):
                    nursery.start_soon(subscriber, index, ready)
                for _ in range(100):
                    await ready.acquire()
                async with http_unix(server.dirs.rpc) as rpc:
                    for i in range(20):
                        await rpc.call("ticket.create", as_user="sam@example.com", title=f"t{i}", body="x")
        streams = list(received.values())
        assert len(streams) == 100
        assert all(seqs == streams[0] for seqs in streams)
        assert streams[0] == sorted(streams[0]) and len(set(streams[0])) == 20
