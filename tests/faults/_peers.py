"""Bad peers for the fault-injection suite: raw sockets that say, or fail to say, what no client should.

Each case runs against a real server process (``python -m hero_assistance server``) and ends by proving
that the process is alive and that normal clients are still served (``still_serving``); a module's server
is checked at the end for any traceback or internal error in its log (``fault_server``).
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import struct
from collections.abc import Iterator
from typing import Any

import attrs
import trio

from .._server_fixtures import (
    Http,
    ServerProcess,
    WsClient,
    http_unix,
    running_server,
    setup_people,
    websocket,
)

KEY = b"dGhlIHNhbXBsZSBub25jZQ=="
ADA = "ada@example.com"
#: Log lines no peer may cause: a traceback, an internal error of the app, a connection the engine lost to a bug.
FORBIDDEN = re.compile(r"Traceback|internal error|connection failed and was closed")


@attrs.frozen
class Faulty:
    """A running server and how to reach each of its listeners (``overlay`` only with a TCP listener)."""

    server: ServerProcess
    port: int | None = None

    async def open(self, listener: str) -> trio.SocketStream:
        if listener == "overlay":
            assert self.port is not None
            return await trio.open_tcp_stream("::1", self.port)
        path = self.server.dirs.rpc if listener == "rpc" else self.server.dirs.events
        return await trio.open_unix_socket(str(path))

    def raw(self, listener: str, *, rcvbuf: int | None = None) -> socket.socket:
        """A blocking stdlib socket to ``listener`` (for peers that never read, or read only a little)."""
        if listener == "overlay":
            sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
            address: Any = ("::1", self.port)
        else:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            address = str(self.server.dirs.rpc if listener == "rpc" else self.server.dirs.events)
        try:
            if rcvbuf is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
            sock.settimeout(10)
            sock.connect(address)
        except BaseException:
            sock.close()
            raise
        return sock

    @property
    def pid(self) -> int:
        assert self.server.proc is not None
        return self.server.proc.pid


def overlay_port(server: ServerProcess) -> int:
    return int(server.wait_for_line_sync(r"overlay=\w+:http://\[[0-9a-f:]+\]:(\d+) ")[1])


@contextlib.contextmanager
def fault_server(*args: str, overlay: bool = True) -> Iterator[Faulty]:
    """A server (with a loopback overlay listener whose peers are devices); its log must stay clean."""
    flags = ["--mycelium-bind", "[::1]:0", *args] if overlay else list(args)
    with running_server(*flags) as server:
        yield Faulty(server, overlay_port(server) if overlay else None)
        assert server.proc is not None and server.proc.poll() is None, f"the server exited:\n{server.log}"
    bad = [line for line in server.lines if FORBIDDEN.search(line)]
    assert not bad, "the server logged a fault a peer caused:\n" + "\n".join(bad[:20])


async def bind_overlay_to_admin(faulty: Faulty) -> None:
    """Enroll ada as admin and bind the loopback device (``::1``) to her, so overlay streams see every event."""
    await setup_people(faulty.server.dirs.rpc, (ADA, "admin"))
    async with http_unix(faulty.server.dirs.rpc) as rpc:
        token = (await rpc.call("auth.issue_magic_link", email=ADA))["token"]
    client = Http(await faulty.open("overlay"), host=f"[::1]:{faulty.port}")
    try:
        await client.call("auth.consume_magic_link", token=token, device_label="fault suite")
        assert (await client.call("auth.whoami"))["role"] == "admin"
    finally:
        await client.aclose()


async def still_serving(faulty: Faulty) -> None:
    """The process is alive, and a normal client is served: /health and a JSON-RPC call on rpc.sock (and on the
    overlay listener), a WebSocket subscription on events.sock."""
    server = faulty.server
    assert server.proc is not None and server.proc.poll() is None, f"the server died:\n{server.log[-3000:]}"
    with trio.fail_after(30):  # generous: a loaded machine; this is no timing assertion
        async with http_unix(server.dirs.rpc) as client:
            health = await client.request("GET", "/health")
            assert health.status == 200 and health.json()["status"] == "ok"
            assert (await client.call("auth.whoami"))["role"] == "admin"
        async with websocket(server.dirs.events, "/events") as events:
            assert (await events.receive_json())["type"] == "subscribed"
        if faulty.port is not None:
            client = Http(await faulty.open("overlay"), host=f"[::1]:{faulty.port}")
            try:
                assert (await client.request("GET", "/health")).status == 200
                assert (await client.call("auth.whoami"))["device"] == "::1"
            finally:
                await client.aclose()
    assert server.proc.poll() is None


# -- bytes a peer sends ------------------------------------------------------------------------------
def upgrade(
    target: str = "/events",
    *,
    key: bytes | None = KEY,
    version: bytes | None = b"13",
    http: bytes = b"1.1",
    extra: bytes = b"",
) -> bytes:
    head = (
        b"GET " + target.encode() + b" HTTP/" + http + b"\r\nhost: x\r\nupgrade: websocket\r\nconnection: Upgrade\r\n"
    )
    if key is not None:
        head += b"sec-websocket-key: " + key + b"\r\n"
    if version is not None:
        head += b"sec-websocket-version: " + version + b"\r\n"
    return head + extra + b"\r\n"


def frame(
    opcode: int, payload: bytes = b"", *, fin: bool = True, mask: bool = True, rsv: int = 0, zero_mask: bool = False
) -> bytes:
    """One WebSocket frame, masked as a client must (unless told otherwise), with any opcode or flags;
    ``zero_mask``: a mask of zeros, valid and cheap for big payloads."""
    first = (0x80 if fin else 0) | (rsv << 4) | opcode
    size = len(payload)
    mask_bit = 0x80 if mask else 0
    if size < 126:
        header = bytes((first, mask_bit | size))
    elif size < 65536:
        header = bytes((first, mask_bit | 126)) + struct.pack("!H", size)
    else:
        header = bytes((first, mask_bit | 127)) + struct.pack("!Q", size)
    if not mask:
        return header + payload
    if zero_mask:
        return header + b"\0\0\0\0" + payload
    key = os.urandom(4)
    return header + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


CLOSE = frame(0x8, struct.pack("!H", 1000))
PING = frame(0x9, b"are you there")


def post(target: str, body: bytes, *, extra: bytes = b"") -> bytes:
    return (
        b"POST " + target.encode() + b" HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
        b"content-length: " + str(len(body)).encode() + b"\r\n" + extra + b"\r\n" + body
    )


RPC_BODY = b'{"jsonrpc":"2.0","id":1,"method":"auth.whoami","params":{}}'


# -- hanging up ----------------------------------------------------------------------------------
async def hang_up(stream: trio.SocketStream, *, reset: bool = False) -> None:
    """Close at once; ``reset`` makes it an RST (linger 0) rather than a FIN."""
    if reset:
        with contextlib.suppress(OSError):
            stream.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    await stream.aclose()


async def read_until(stream: trio.SocketStream, marker: bytes, *, limit: int = 1 << 20) -> bytes:
    """Read until ``marker`` has arrived (or the server closes); what was read."""
    received = b""
    with trio.fail_after(30):
        while marker not in received and len(received) < limit:
            try:
                data = await stream.receive_some(65536)
            except trio.BrokenResourceError:
                break
            if not data:
                break
            received += data
    return received


async def read_to_end(stream: trio.SocketStream) -> bytes:
    """Everything until the server closes (a reset counts as closed)."""
    received = b""
    with trio.fail_after(30):
        while True:
            try:
                data = await stream.receive_some(65536)
            except trio.BrokenResourceError:
                break
            if not data:
                break
            received += data
    return received


async def subscribed(stream: trio.SocketStream, target: str = "/events") -> WsClient:
    """A WebSocket on ``stream`` that has received its ``subscribed`` frame."""
    client = await WsClient.connect(stream, target)
    with trio.fail_after(30):
        first = await client.receive_json()
    assert first is not None and first["type"] == "subscribed", first
    return client


async def close_code(client: WsClient) -> int | None:
    """Read (and drop) frames until the server closes; its close code (1006 for none)."""
    with trio.fail_after(30):
        while await client.receive_json() is not None:
            pass
    return client.close_code


def socket_fds(pid: int) -> int:
    """How many sockets the process holds open (a real count from /proc, not a statistic it reports)."""
    count = 0
    for name in os.listdir(f"/proc/{pid}/fd"):
        with contextlib.suppress(OSError):
            if os.readlink(f"/proc/{pid}/fd/{name}").startswith("socket:"):
                count += 1
    return count


def server_frames(data: bytes) -> tuple[list[tuple[int, bytes]], bytes]:
    """The whole (unmasked) frames a server sent in ``data`` as (opcode, payload), and the bytes left over."""
    frames = []
    while len(data) >= 2:
        size = data[1] & 0x7F
        start = 2
        if size == 126:
            if len(data) < 4:
                break
            size, start = struct.unpack("!H", data[2:4])[0], 4
        elif size == 127:
            if len(data) < 10:
                break
            size, start = struct.unpack("!Q", data[2:10])[0], 10
        if len(data) < start + size:
            break
        frames.append((data[0] & 0x0F, data[start : start + size]))
        data = data[start + size :]
    return frames, data


async def read_close_code(stream: trio.SocketStream, received: bytes = b"") -> int | None:
    """After a handshake: read the server's frames until its close frame; the close code (None if the
    connection ended without one). ``received`` is what was read already, perhaps part of the 101 head."""
    with trio.fail_after(30):
        while True:
            if b"\r\n\r\n" in received:
                head, _, rest = received.partition(b"\r\n\r\n")
                assert head.startswith(b"HTTP/1.1 101"), head[:200]
                for opcode, payload in server_frames(rest)[0]:
                    if opcode == 0x8:
                        return struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
            try:
                data = await stream.receive_some(65536)
            except trio.BrokenResourceError:
                return None
            if not data:
                return None
            received += data


async def send_ignoring_hangup(stream: trio.SocketStream, data: bytes) -> None:
    """Send what may be cut off: the server is entitled to hang up on us half way."""
    with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
        await stream.send_all(data)


async def exchange(stream: trio.SocketStream, data: bytes) -> bytes:
    """Send ``data`` (the server may stop reading it) while reading its answer until it closes."""
    async with trio.open_nursery() as nursery:
        nursery.start_soon(send_ignoring_hangup, stream, data)
        answer = await read_to_end(stream)
        nursery.cancel_scope.cancel()
    return answer


def status_of(answer: bytes) -> int:
    assert answer.startswith(b"HTTP/1.1 "), answer[:200]
    return int(answer.split(b" ", 2)[1])
