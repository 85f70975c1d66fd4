"""A subscriber that hangs up with data still unread is a client that left, not an internal error:
the stream's log line says ``outcome=client_gone`` and the log holds no traceback (noise would hide
real faults)."""

from __future__ import annotations

import socket

import pytest
import trio

from ._server_fixtures import http_unix, running_server, setup_people


@pytest.mark.parametrize("kind", ["sse", "websocket"])
async def test_a_subscriber_leaving_with_unread_events_is_client_gone(kind: str) -> None:
    with running_server() as server:
        await setup_people(server.dirs.rpc, ("sam@example.com", "support"))
        async with http_unix(server.dirs.rpc) as rpc:
            for i in range(400):  # a replay far bigger than the socket buffers below
                await rpc.call("presence.update", as_user="sam@example.com", status="online", status_text=f"{i:0>200}")
        if kind == "sse":
            head = b"GET /events?since=0 HTTP/1.1\r\nhost: x\r\naccept: text/event-stream\r\n"
        else:
            head = (
                b"GET /events?since=0 HTTP/1.1\r\nhost: x\r\nupgrade: websocket\r\nconnection: Upgrade\r\n"
                b"sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nsec-websocket-version: 13\r\n"
            )
        for _ in range(5):
            with socket.socket(socket.AF_UNIX) as raw:
                raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                raw.connect(str(server.dirs.events))
                raw.sendall(head + b"x-hero-user: sam@example.com\r\n\r\n")
                raw.recv(100)
            # closed with most of the replay unread: the server's next sends fail
        with trio.fail_after(30):  # a hang guard
            while server.log.count(f"stream={kind} outcome=") < 5:
                await trio.sleep(0.05)
        async with http_unix(server.dirs.rpc) as rpc:
            assert (await rpc.request("GET", "/health")).status == 200
        assert "Traceback" not in server.log
        assert "internal error" not in server.log
        assert server.log.count(f"stream={kind} outcome=client_gone") == 5
