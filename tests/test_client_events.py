"""``client.events()``: replay then live, resync, heartbeats, and every way the stream can end."""

from __future__ import annotations

import json
import socket
from functools import partial
from pathlib import Path

import pytest
import trio
import trio.testing
from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, Request, TextMessage

from hero_assistance.transport._client import Client, connect
from hero_assistance.transport._errors import ConnectFailed, ConnectionLost

from ._client_fixtures import ServerProcess, server_fixture, servers_fixture  # noqa: F401


async def test_replay_then_live_in_seq_order(server: ServerProcess) -> None:
    async with connect(server.url) as client:
        for i in range(3):
            await client.tickets.create(f"before {i}")
        async with client.events(since=0) as events:
            assert events.subscribed_seq == 3 and events.project == "acme"
            first = await events.receive()
            assert first == {"type": "subscribed", "project": "acme", "seq": 3}
            replayed = [await events.receive() for _ in range(3)]
            assert [e["seq"] for e in replayed] == [1, 2, 3]
            assert {e["type"] for e in replayed} == {"ticket.created"}
            await client.tickets.create("live one")
            live = await events.receive()
            assert (live["seq"], live["type"], live["data"]["ticket"]["title"]) == (4, "ticket.created", "live one")
            assert events.last_seq == 4


async def test_without_since_the_stream_starts_live(server: ServerProcess) -> None:
    async with connect(server.url) as client:
        await client.tickets.create("old news")
        async with client.events() as events:
            assert (await events.receive())["type"] == "subscribed"
            assert events.last_seq == 1
            await client.tickets.create("fresh")
            event = await events.receive()
            assert event["seq"] == 2 and event["data"]["ticket"]["title"] == "fresh"


async def test_since_beyond_the_server_gives_resync_required(server: ServerProcess) -> None:
    async with connect(server.url) as client:
        await client.tickets.create("one")
        async with client.events(since=10**6) as events:
            assert (await events.receive())["type"] == "subscribed"
            assert await events.receive() == {"type": "resync_required", "seq": 1}
            assert events.last_seq == 1


async def test_events_are_filtered_for_the_subscriber(server: ServerProcess) -> None:
    async with connect(server.url) as operator:
        await operator.users.enroll("ann@example.com", "customer")
        await operator.users.enroll("bob@example.com", "customer")
        async with connect(server.url, as_user="ann@example.com") as ann, ann.events() as events:
            await events.receive()
            async with connect(server.url, as_user="bob@example.com") as bob:
                await bob.tickets.create("bob's secret")
            await ann.tickets.create("ann's own")
            event = await events.receive()
            assert event["data"]["ticket"]["title"] == "ann's own"


async def test_a_stopping_server_ends_the_stream_with_connection_lost(server: ServerProcess) -> None:
    client = Client(server.url)
    async with client.events() as events:
        await events.receive()
        await server.stop()
        with pytest.raises(ConnectionLost, match=r"1001|broke"):
            await events.receive()
    await client.aclose()


async def test_a_killed_server_ends_the_stream_with_connection_lost(server: ServerProcess) -> None:
    async with Client(server.url) as client, client.events() as events:
        await events.receive()
        await server.kill()
        with pytest.raises(ConnectionLost):
            async for _event in events:
                pass


async def test_no_server_and_a_refused_upgrade_are_connect_failed(server: ServerProcess) -> None:
    async with Client("unix:/nonexistent/x/rpc.sock") as nowhere:
        with pytest.raises(ConnectFailed, match="cannot connect"):
            async with nowhere.events():
                pass
    # rpc.sock does not serve /events: the upgrade is refused with an HTTP status.
    async with Client(server.url, events_url=server.url) as wrong:
        with pytest.raises(ConnectFailed, match="HTTP 404"):
            async with wrong.events():
                pass


async def test_a_failing_body_raises_its_own_exception(server: ServerProcess) -> None:
    async with Client(server.url) as client:
        with pytest.raises(KeyError):
            async with client.events() as events:
                await events.receive()
                raise KeyError("mine")


# -- a WebSocket peer that goes quiet -------------------------------------------------------------
async def quiet_websocket_server(
    path: Path, *, handshake: bool, task_status: trio.TaskStatus[list[trio.SocketListener]] = trio.TASK_STATUS_IGNORED
) -> None:
    """Accepts (or, without ``handshake``, never answers) and then neither reads nor writes: a dead peer."""
    sock = trio.socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    await sock.bind(str(path))
    sock.listen(4)

    async def handle(stream: trio.SocketStream) -> None:
        ws = WSConnection(ConnectionType.SERVER)
        while handshake:
            ws.receive_data(await stream.receive_some(65536))
            if any(isinstance(e, Request) for e in ws.events()):
                subscribed = json.dumps({"type": "subscribed", "project": "quiet", "seq": 0})
                await stream.send_all(ws.send(AcceptConnection()) + ws.send(TextMessage(data=subscribed)))
                break
        await trio.sleep_forever()

    await trio.serve_listeners(handle, [trio.SocketListener(sock)], task_status=task_status)


async def test_heartbeat_declares_a_silent_peer_lost(tmp_path: Path, autojump_clock: trio.abc.Clock) -> None:
    async with trio.open_nursery() as nursery:
        await nursery.start(partial(quiet_websocket_server, tmp_path / "events.sock", handshake=True))
        client = Client(f"unix:{tmp_path}/rpc.sock", heartbeat_interval=5)
        async with client.events() as events:
            await events.receive()
            started = trio.current_time()
            with pytest.raises(ConnectionLost, match="did not answer a ping"):
                await events.receive()
            # Silent for one interval, then a ping unanswered for another.
            assert 10 <= trio.current_time() - started <= 10.5
        nursery.cancel_scope.cancel()


async def test_heartbeat_leaves_a_busy_consumer_alone(tmp_path: Path, autojump_clock: trio.abc.Clock) -> None:
    async with trio.open_nursery() as nursery:
        await nursery.start(partial(quiet_websocket_server, tmp_path / "events.sock", handshake=True))
        async with Client(f"unix:{tmp_path}/rpc.sock", heartbeat_interval=5) as client, client.events() as events:
            await events.receive()
            await trio.sleep(60)  # busy elsewhere: the silence is ours, not the server's
            assert events._lost_reason is None
            with trio.move_on_after(4):
                await events.receive()  # still open: nothing arrives, nothing breaks
        nursery.cancel_scope.cancel()


async def test_handshake_past_the_connect_timeout_is_connect_failed(
    tmp_path: Path, autojump_clock: trio.abc.Clock
) -> None:
    async with trio.open_nursery() as nursery:
        await nursery.start(partial(quiet_websocket_server, tmp_path / "events.sock", handshake=False))
        async with Client(f"unix:{tmp_path}/rpc.sock", connect_timeout=3) as client:
            started = trio.current_time()
            with pytest.raises(ConnectFailed, match="within 3"):
                async with client.events():
                    pass
            assert trio.current_time() - started == pytest.approx(3)
        nursery.cancel_scope.cancel()
