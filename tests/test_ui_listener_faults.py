"""The ui's listener faces browsers (and, as a gateway, the internet): no peer can take it down.

These are the faults that ended a hypercorn-served process: stray bytes after an upgrade request
(hypercorn issue #225), a bad frame racing the server's own ping or close, hang-ups right after the
upgrade. The ui now runs on the project's engine; after each fault the same ui keeps serving, and its
nursery (this test's) never sees an exception.
"""

from __future__ import annotations

import base64
import os

import trio

from ._ui_fixtures import http
from .test_ui_proxy import proxy_setup


def _upgrade(host: str, origin: str, *, path: str = "/ws") -> bytes:
    key = base64.b64encode(os.urandom(16))
    return (
        f"GET {path} HTTP/1.1\r\nhost: {host}\r\nupgrade: websocket\r\nconnection: Upgrade\r\n"
        f"origin: {origin}\r\nsec-websocket-version: 13\r\nsec-websocket-key: {key.decode()}\r\n\r\n"
    ).encode()


async def _open(url: str) -> tuple[trio.SocketStream, str]:
    netloc = url.split("://", 1)[1]
    host, _, port = netloc.rpartition(":")
    return await trio.open_tcp_stream(host.strip("[]"), int(port)), netloc


async def _read_some(stream: trio.SocketStream) -> bytes:
    with trio.move_on_after(2):
        try:
            return await stream.receive_some(65536)
        except trio.BrokenResourceError:
            return b""
    return b""


async def test_faulty_peers_end_only_their_own_connections() -> None:
    async with proxy_setup() as setup:
        ui = setup.ui.url

        async def stray_bytes_after_upgrade() -> None:
            stream, netloc = await _open(ui)
            async with stream:
                await stream.send_all(_upgrade(netloc, ui) + b"x\n")
                await _read_some(stream)

        async def unmasked_frame_after_101() -> None:
            stream, netloc = await _open(ui)
            async with stream:
                await stream.send_all(_upgrade(netloc, ui))
                await _read_some(stream)
                await stream.send_all(b"\x81\x05hello")  # a client's frame must be masked
                await _read_some(stream)

        async def invalid_utf8_text() -> None:
            stream, netloc = await _open(ui)
            async with stream:
                await stream.send_all(_upgrade(netloc, ui))
                await _read_some(stream)
                await stream.send_all(b"\x81\x82\x00\x00\x00\x00\xff\xfe")  # masked, payload not UTF-8
                await _read_some(stream)

        async def hang_up_after_upgrade_request() -> None:
            stream, netloc = await _open(ui)
            async with stream:
                await stream.send_all(_upgrade(netloc, ui))

        async def close_frame_then_hang_up() -> None:
            stream, netloc = await _open(ui)
            async with stream:
                await stream.send_all(_upgrade(netloc, ui))
                await _read_some(stream)
                await stream.send_all(b"\x88\x82\x00\x00\x00\x00\x03\xe8")  # close 1000, masked with zeros

        async def garbage_request_line() -> None:
            stream, _ = await _open(ui)
            async with stream:
                await stream.send_all(b"\x00\x01 NOT HTTP\r\n\r\n")
                answer = await _read_some(stream)
                assert answer.startswith(b"HTTP/1.1 400"), answer

        faults = [
            stray_bytes_after_upgrade,
            unmasked_frame_after_101,
            invalid_utf8_text,
            hang_up_after_upgrade_request,
            close_frame_then_hang_up,
            garbage_request_line,
        ]
        with trio.fail_after(60):  # a hang guard
            async with trio.open_nursery() as nursery:
                for _ in range(5):  # many at once, as an attacker would
                    for fault in faults:
                        nursery.start_soon(fault)
        reply = await http(ui, "GET", "/health")
        assert reply.status == 200
        assert setup.ui.gateway is not None
        # And on the app socket the same.
        reply = await http(f"unix:{setup.root / 'app.sock'}", "GET", "/health")
        assert reply.status == 200
