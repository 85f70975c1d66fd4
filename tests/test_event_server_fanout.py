"""events.sock's own server: frames encoded once are valid for every client, at every size, and a
fan-out to many subscribers delivers every event to each of them, in order."""

from __future__ import annotations

import pytest
import trio
import wsproto
import wsproto.events as ws

from hero_assistance.transport._http_server import _text_frame

from ._server_fixtures import Http, WsClient, http_unix, running_server, setup_people, websocket


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


@pytest.mark.parametrize("transport", ["unix", "tcp"])
async def test_big_events_written_in_part_arrive_whole_and_in_order(transport: str) -> None:
    """The hub writes an event straight into a subscriber's socket when it can; a socket with room for only
    part of a frame (TCP writes in part) gets the rest from the connection's own task before anything else,
    so frames never mix. (Over TCP the loopback address is the device, signed in as sam by magic link.)"""
    import re
    import socket as stdsocket

    args = ("--mycelium-bind", "[::1]:0") if transport == "tcp" else ()
    with running_server(*args) as server:
        port = int(re.findall(r"overlay=\w+:http://\[[0-9a-f:]+\]:(\d+) ", server.log)[0]) if args else 0
        await setup_people(server.dirs.rpc, ("sam@example.com", "support"))
        if port:
            device = Http(await trio.open_tcp_stream("::1", port), host=f"[::1]:{port}")
            await device.call("auth.request_magic_link", email="sam@example.com")
            token = (await server.wait_for_line(r"MAGIC-LINK .*email=sam@example\.com .* token=(\S+) "))[1]
            await device.call("auth.consume_magic_link", token=token)
            await device.aclose()
        async with http_unix(server.dirs.rpc) as rpc:
            ticket = await rpc.call("ticket.create", as_user="sam@example.com", title="big", body="x")
        received: dict[int, list[tuple[int, int]]] = {}

        async def subscriber(index: int, ready: trio.Semaphore) -> None:
            raw = stdsocket.socket(stdsocket.AF_INET6 if port else stdsocket.AF_UNIX)
            raw.setsockopt(stdsocket.SOL_SOCKET, stdsocket.SO_RCVBUF, 8192)  # far smaller than one event
            raw.connect(("::1", port) if port else str(server.dirs.events))
            raw.setblocking(False)
            async with trio.SocketStream(trio.socket.from_stdlib_socket(raw)) as stream:
                client = await WsClient.connect(stream, "/events", {"x-hero-user": "sam@example.com"})
                assert (await client.receive_json())["type"] == "subscribed"
                ready.release()
                seen = received.setdefault(index, [])
                while len(seen) < 12:
                    frame = await client.receive_json()
                    assert frame is not None, "stream closed early"
                    seen.append((frame["seq"], len(frame["data"]["comment"]["body"])))
                    if len(seen) == 1:
                        await trio.sleep(0.5)  # a hiccup: the socket fills, later frames fit only in part

        ready = trio.Semaphore(0)
        with trio.fail_after(120):
            async with trio.open_nursery() as nursery:
                for index in range(20):
                    nursery.start_soon(subscriber, index, ready)
                for _ in range(20):
                    await ready.acquire()
                async with http_unix(server.dirs.rpc) as rpc:
                    for i in range(12):
                        body = chr(ord("a") + i) * (30_000 + i)
                        await rpc.call("comment.create", as_user="sam@example.com", ticket_id=ticket["id"], body=body)
        assert len(received) == 20
        for seen in received.values():
            assert [size for _seq, size in seen] == [30_000 + i for i in range(12)]
            seqs = [seq for seq, _size in seen]
            assert seqs == sorted(seqs)
        assert "Traceback" not in server.log
