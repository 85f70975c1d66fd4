"""A small ASGI server for ``events.sock``, built for fan-out.

Why not hypercorn here (it serves ``rpc.sock`` and the overlay listener): one event sent to 1,000
WebSocket subscribers costs hypercorn ~100 µs of CPU per subscriber (its per-connection send path
encodes each frame, and hops through its own tasks and events), which alone is 100 ms per event.
This server runs the same ASGI application (routing, attestation, logging and the event streams
stay where they are) but keeps a send to one subscriber at one ``send_all``: a server's WebSocket
frames are not masked, so the frame of an event's text is the same bytes for every subscriber,
and it is encoded once (``_text_frame`` caches it by the text object the hub shares among them).

It speaks only what ``events.sock`` needs: HTTP/1.1 (h11) with keep-alive for ``GET /health``,
``GET /events`` as Server-Sent Events and the error answers; the WebSocket upgrade of ``GET /events``
(RFC 6455 handshake, then wsproto for the client's frames); pings every ``heartbeat_s``.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import logging
import socket
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import unquote

import h11
import trio
import wsproto
import wsproto.connection
import wsproto.events as ws
import wsproto.frame_protocol

log = logging.getLogger("hero_assistance.server.events")

Scope = dict[str, Any]
Message = dict[str, Any]
App = Callable[[Scope, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]], Awaitable[None]]

MAX_REQUEST_HEAD = 64 * 1024
MAX_REQUEST_BODY = 64 * 1024  # events.sock takes no bodies; anything bigger is refused
_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_FRAME_CACHE_SIZE = 256
_frames: OrderedDict[int, tuple[str, bytes]] = OrderedDict()


def _text_frame(text: str) -> bytes:
    """One unmasked, final text frame; cached by identity, since fan-out shares one text object."""
    cached = _frames.get(id(text))
    if cached is not None and cached[0] is text:
        return cached[1]
    payload = text.encode()
    size = len(payload)
    if size < 126:
        header = bytes((0x81, size))
    elif size < 65536:
        header = bytes((0x81, 126)) + size.to_bytes(2, "big")
    else:
        header = bytes((0x81, 127)) + size.to_bytes(8, "big")
    frame = header + payload
    _frames[id(text)] = (text, frame)  # holding the text keeps its id from being reused meanwhile
    if len(_frames) > _FRAME_CACHE_SIZE:
        _frames.popitem(last=False)
    return frame


class _ClientGone(Exception):
    pass


async def serve_events_socket(
    app: App,
    sock: socket.socket,
    *,
    heartbeat_s: float,
    shutdown_trigger: Callable[[], Awaitable[object]],
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve ``app`` on the listening ``sock`` until cancelled; stop accepting at ``shutdown_trigger``.

    Connections already open keep going after the trigger (the application ends its streams); the
    caller bounds that with a cancel scope, as with hypercorn's graceful shutdown.
    """
    listener = trio.SocketListener(trio.socket.from_stdlib_socket(sock))
    async with trio.open_nursery() as connections, listener, trio.open_nursery() as accepting:
        accepting.start_soon(_accept_loop, listener, connections, app, heartbeat_s)
        task_status.started()
        await shutdown_trigger()
        accepting.cancel_scope.cancel()


async def _accept_loop(listener: trio.SocketListener, nursery: trio.Nursery, app: App, heartbeat_s: float) -> None:
    while True:
        try:
            stream = await listener.accept()
        except OSError as exc:  # EMFILE and friends: back off instead of spinning
            log.warning("accept failed: %s", exc)
            await trio.sleep(0.1)
            continue
        nursery.start_soon(_serve_connection, stream, app, heartbeat_s)


async def _serve_connection(stream: trio.SocketStream, app: App, heartbeat_s: float) -> None:
    conn = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_REQUEST_HEAD)
    try:
        async with stream:
            while True:
                request = await _next_event(conn, stream)
                if not isinstance(request, h11.Request):
                    return
                headers = [(name.lower(), value) for name, value in request.headers]
                if _is_websocket_upgrade(request, headers):
                    await _WebSocket(stream, conn, request, headers, heartbeat_s).run(app)
                    return
                await _Http(stream, conn, request, headers).run(app)
                if conn.our_state is not h11.DONE or conn.their_state is not h11.DONE:
                    return
                conn.start_next_cycle()
    except (_ClientGone, trio.BrokenResourceError, trio.ClosedResourceError):
        pass
    except h11.RemoteProtocolError as exc:
        with contextlib.suppress(Exception):
            body = f'{{"error":{{"status":400,"message":"malformed HTTP request: {exc}"}}}}'.encode()
            await _raw_response(stream, 400, body)


async def _next_event(conn: h11.Connection, stream: trio.SocketStream) -> Any:
    while True:
        event = conn.next_event()
        if event is not h11.NEED_DATA:
            return event
        data = await stream.receive_some(65536)
        conn.receive_data(data)


async def _raw_response(stream: trio.SocketStream, status: int, body: bytes) -> None:
    head = (
        f"HTTP/1.1 {status} \r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n"
        "connection: close\r\n\r\n"
    )
    await stream.send_all(head.encode() + body)


def _is_websocket_upgrade(request: h11.Request, headers: list[tuple[bytes, bytes]]) -> bool:
    values = dict(headers)
    return (
        request.method == b"GET"
        and b"upgrade" in values.get(b"connection", b"").lower()
        and values.get(b"upgrade", b"").lower() == b"websocket"
    )


def _scope(kind: str, request: h11.Request, headers: list[tuple[bytes, bytes]]) -> Scope:
    raw_path, _, query = request.target.partition(b"?")
    return {
        "type": kind,
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": request.method.decode("ascii", "replace"),
        "scheme": "ws" if kind == "websocket" else "http",
        "path": unquote(raw_path.decode("latin-1")),
        "raw_path": raw_path,
        "query_string": query,
        "root_path": "",
        "headers": headers,
        "client": None,  # a Unix socket: identity comes from the headers the app attests
        "server": None,
        "extensions": {"websocket.http.response": {}} if kind == "websocket" else {},
    }


class _Http:
    """One HTTP request/response cycle on the connection, as ASGI ``receive`` / ``send``."""

    def __init__(
        self, stream: trio.SocketStream, conn: h11.Connection, request: h11.Request, headers: list[tuple[bytes, bytes]]
    ) -> None:
        self.stream = stream
        self.conn = conn
        self.request = request
        self.headers = headers
        self.body_done = False
        self.status: int | None = None
        self.response_headers: list[tuple[bytes, bytes]] = []

    async def run(self, app: App) -> None:
        await app(_scope("http", self.request, self.headers), self.receive, self.send)
        if self.conn.our_state is h11.SEND_RESPONSE:  # the app answered nothing
            await self.send({"type": "http.response.start", "status": 500, "headers": []})
        if self.conn.our_state is h11.SEND_BODY:
            await self._write(h11.EndOfMessage())

    async def receive(self) -> Message:
        if not self.body_done:
            body = bytearray()
            while True:
                event = await _next_event(self.conn, self.stream)
                if isinstance(event, h11.Data):
                    body += event.data
                    if len(body) > MAX_REQUEST_BODY:
                        raise _ClientGone
                elif isinstance(event, h11.EndOfMessage):
                    break
                else:
                    return {"type": "http.disconnect"}
            self.body_done = True
            return {"type": "http.request", "body": bytes(body), "more_body": False}
        # Afterwards only the client leaving is news (an SSE stream waits on this).
        while True:
            data = await self.stream.receive_some(65536)
            if not data:
                return {"type": "http.disconnect"}

    async def send(self, message: Message) -> None:
        kind = message["type"]
        if kind == "http.response.start":
            self.status = int(message["status"])
            self.response_headers = list(message.get("headers", []))
        elif kind == "http.response.body":
            if self.conn.our_state is h11.SEND_RESPONSE:
                assert self.status is not None
                await self._write(h11.Response(status_code=self.status, headers=self.response_headers))
            body = message.get("body", b"")
            if body:
                await self._write(h11.Data(data=body))
            if not message.get("more_body"):
                await self._write(h11.EndOfMessage())

    async def _write(self, event: Any) -> None:
        data = self.conn.send(event)
        if data:
            await self.stream.send_all(data)


class _WebSocket:
    """The WebSocket of one ``GET /events`` upgrade, as ASGI ``receive`` / ``send``."""

    def __init__(
        self,
        stream: trio.SocketStream,
        conn: h11.Connection,
        request: h11.Request,
        headers: list[tuple[bytes, bytes]],
        heartbeat_s: float,
    ) -> None:
        self.stream = stream
        self.request = request
        self.headers = headers
        self.heartbeat_s = heartbeat_s
        leftover, _closed = conn.trailing_data
        self.ws = wsproto.connection.Connection(wsproto.connection.ConnectionType.SERVER)
        if leftover:  # frames the client sent right behind its handshake
            self.ws.receive_data(bytes(leftover))
        self.connected = False
        self.accepted = False
        self.closed = False
        self.send_lock = trio.Lock()  # the app, our pongs and our pings share one byte stream
        self.reject_status: int | None = None
        self.reject_headers: list[tuple[bytes, bytes]] = []

    async def run(self, app: App) -> None:
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            await app(_scope("websocket", self.request, self.headers), self.receive, self.send)
            nursery.cancel_scope.cancel()

    # -- ASGI ----------------------------------------------------------------------------------
    async def receive(self) -> Message:
        if not self.connected:
            self.connected = True
            return {"type": "websocket.connect"}
        while True:
            for event in self.ws.events():
                if isinstance(event, ws.Ping):
                    await self._send_bytes(self.ws.send(event.response()))
                elif isinstance(event, ws.CloseConnection):
                    if self.ws.state is wsproto.connection.ConnectionState.REMOTE_CLOSING:
                        await self._send_bytes(self.ws.send(event.response()))
                    self.closed = True
                    return {"type": "websocket.disconnect", "code": event.code}
                elif isinstance(event, ws.TextMessage):
                    return {"type": "websocket.receive", "text": event.data}
                elif isinstance(event, ws.BytesMessage):
                    return {"type": "websocket.receive", "bytes": bytes(event.data)}
            try:
                data = await self.stream.receive_some(65536)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                data = b""
            if not data:
                self.closed = True
                return {"type": "websocket.disconnect", "code": 1006}
            self.ws.receive_data(data)

    async def send(self, message: Message) -> None:
        kind = message["type"]
        if kind == "websocket.accept":
            await self._accept()
        elif kind == "websocket.send":
            if "text" in message and message["text"] is not None:
                await self._send_bytes(_text_frame(message["text"]))
            else:
                await self._send_bytes(self.ws.send(ws.BytesMessage(data=message.get("bytes") or b"")))
        elif kind == "websocket.close":
            if not self.accepted:
                await self._refuse(403, b'{"error":{"status":403,"message":"refused"}}')
            elif self.ws.state is wsproto.connection.ConnectionState.OPEN:
                code = int(message.get("code", 1000))
                frame = self.ws.send(ws.CloseConnection(code=code, reason=message.get("reason") or None))
                await self._send_bytes(frame)
        elif kind == "websocket.http.response.start":
            self.reject_status = int(message["status"])
            self.reject_headers = list(message.get("headers", []))
        elif kind == "websocket.http.response.body" and not message.get("more_body"):
            await self._refuse(self.reject_status or 403, message.get("body", b""))

    # -- wire ------------------------------------------------------------------------------------
    async def _accept(self) -> None:
        key = dict(self.headers).get(b"sec-websocket-key", b"").strip()
        accept = base64.b64encode(hashlib.sha1(key + _GUID).digest())  # noqa: S324 - RFC 6455 mandates SHA-1
        await self._send_bytes(
            b"HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\n"
            b"sec-websocket-accept: " + accept + b"\r\n\r\n"
        )
        self.accepted = True
        self._nursery.start_soon(self._heartbeat)

    async def _refuse(self, status: int, body: bytes) -> None:
        head = f"HTTP/1.1 {status} \r\ncontent-length: {len(body)}\r\nconnection: close\r\n"
        for name, value in self.reject_headers:
            head += f"{name.decode('latin-1')}: {value.decode('latin-1')}\r\n"
        await self._send_bytes(head.encode() + b"\r\n" + body)
        self.closed = True

    async def _heartbeat(self) -> None:
        """Pings keep idle streams alive through middleboxes and surface a dead peer as a failed send."""
        while not self.closed:
            await trio.sleep(self.heartbeat_s)
            if self.ws.state is wsproto.connection.ConnectionState.OPEN:
                with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
                    await self._send_bytes(self.ws.send(ws.Ping()))

    async def _send_bytes(self, data: bytes) -> None:
        if not data:
            return
        async with self.send_lock:
            await self.stream.send_all(data)
