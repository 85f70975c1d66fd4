"""A peer that hangs up at any step of an HTTP request or of a WebSocket handshake and session ends its own
connection only: on events.sock, rpc.sock and the overlay listener (loopback TCP), with a FIN or a reset."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import trio

from .._server_fixtures import http_unix
from ._peers import (
    CLOSE,
    PING,
    RPC_BODY,
    Faulty,
    bind_overlay_to_admin,
    fault_server,
    hang_up,
    post,
    read_until,
    still_serving,
    subscribed,
    upgrade,
)

ROUNDS = 3  # of each way of hanging up, so that a race between the hang-up and the server's answer shows


async def _store_events(faulty: Faulty) -> None:
    await bind_overlay_to_admin(faulty)
    async with http_unix(faulty.server.dirs.rpc) as rpc:
        for i in range(30):  # ~600 KB of replay: far more than a small receive buffer takes
            await rpc.call("ticket.create", as_user="ada@example.com", title=f"t{i}", body="x" * 20_000)


@pytest.fixture(scope="module")
def faulty() -> Iterator[Faulty]:
    with fault_server() as faulty:
        trio.run(_store_events, faulty)
        yield faulty


def _request(listener: str) -> tuple[bytes, int]:
    """A whole request (with a body, and a big answer to leave unread) and the length of its first head."""
    if listener == "events":
        message = (
            post("/events", RPC_BODY) + b"GET /events?since=0 HTTP/1.1\r\nhost: x\r\naccept: text/event-stream\r\n\r\n"
        )
    else:
        message = post("/rpc", RPC_BODY) + b"GET /openrpc.json HTTP/1.1\r\nhost: x\r\n\r\n"
    return message, message.index(b"\r\n\r\n") + 4


HTTP_STEPS = ["mid_request_line", "mid_head", "after_head", "mid_body", "before_reading_the_answer"]


@pytest.mark.parametrize("listener", ["events", "rpc", "overlay"])
@pytest.mark.parametrize("step", HTTP_STEPS)
async def test_hanging_up_mid_http_request(faulty: Faulty, listener: str, step: str) -> None:
    message, head = _request(listener)
    cut = {
        "mid_request_line": 7,
        "mid_head": head - 10,
        "after_head": head,
        "mid_body": head + len(RPC_BODY) // 2,
        "before_reading_the_answer": len(message),
    }[step]
    for reset in [False, True] * ROUNDS:
        stream = await faulty.open(listener)
        await stream.send_all(message[:cut])
        if step == "before_reading_the_answer":
            await trio.sleep(0.01)  # the answer is on its way when we go
        await hang_up(stream, reset=reset)
    await still_serving(faulty)


WS_STEPS = [
    "mid_handshake",
    "right_after_the_upgrade_request",
    "after_101",
    "after_subscribed",
    "mid_frame",
    "right_after_a_close_frame",
    "right_after_a_ping",
]


@pytest.mark.parametrize("listener", ["events", "overlay"])
@pytest.mark.parametrize("step", WS_STEPS)
async def test_hanging_up_during_a_websocket(faulty: Faulty, listener: str, step: str) -> None:
    for reset in [False, True] * ROUNDS:
        stream = await faulty.open(listener)
        if step == "mid_handshake":
            await stream.send_all(upgrade()[:40])
        elif step == "right_after_the_upgrade_request":
            await stream.send_all(upgrade())
        elif step == "after_101":
            await stream.send_all(upgrade())
            assert (await read_until(stream, b"\r\n\r\n")).startswith(b"HTTP/1.1 101")
        else:
            await subscribed(stream)
            if step == "mid_frame":  # the first bytes of a masked 64 KiB text frame
                await stream.send_all(b"\x81\xfe\xff\xff\x01\x02\x03\x04partial")
            elif step == "right_after_a_close_frame":
                await stream.send_all(CLOSE)
            elif step == "right_after_a_ping":
                await stream.send_all(PING)
        await hang_up(stream, reset=reset)
    await still_serving(faulty)


@pytest.mark.parametrize("listener", ["events", "overlay"])
async def test_clients_leaving_mid_replay_never_take_the_server_down(faulty: Faulty, listener: str) -> None:
    for i in range(20):
        with faulty.raw(listener, rcvbuf=4096) as raw:  # the replay fills it at once
            raw.sendall(upgrade("/events?since=0"))
            raw.recv(200)
            if i % 2:
                raw.setsockopt(trio.socket.SOL_SOCKET, trio.socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        # closed with unread replay queued behind it: the server's sends now fail
    await still_serving(faulty)
