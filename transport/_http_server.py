"""The project server's HTTP/1.1 and WebSocket engine: every listener of a project server runs on it.

Why our own engine rather than hypercorn (which serves the ui and the admin dashboard):

- **One seam owns a connection.** ``_serve_connection`` runs everything a connection does and contains
  whatever it raises, exception groups included: a peer's bytes, hang-ups or silence end that connection,
  never a listener or the server. hypercorn 0.18 on trio 0.35 lets two peer-triggered bugs escape its
  per-connection task and end the process (a ping racing the close of a WebSocket,
  ``BusyResourceError`` from ``_send_pings``; stray bytes after an upgrade, ``h11.LocalProtocolError``,
  hypercorn issue #225), and its ``serve`` nursery is ours to lose. Limits belong at the same seam:
  connections per overlay /64 and per listener, a deadline for a request head, idle keep-alive.
- **Fan-out.** One event sent to 1,000 WebSocket subscribers costs hypercorn ~100 µs of CPU per
  subscriber. A server's frames are not masked, so the frame of an event's text is the same bytes for
  every subscriber: it is encoded once (``_text_frame`` caches it by the text object the hub shares among
  them) and a send to one subscriber is one ``send_all``.

It speaks HTTP/1.1 with h11 (keep-alive, pipelined requests answered in order, ``HEAD`` without a body,
``Date``, ``100 Continue``, ``400``/``431``/``408`` for bad or slow heads) and RFC 6455 with wsproto after
validating the handshake itself (``400`` for a bad key or HTTP/1.0, ``426`` for a version other than 13),
closing with 1002/1007/1009 on a protocol error, an invalid UTF-8 text or a message over 1 MiB. The
application is plain ASGI (``ServerApp``), so routing, attestation and logging stay in one place.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import ipaddress
import logging
import os
import socket
from collections import Counter, OrderedDict
from collections.abc import Awaitable, Callable
from email.utils import formatdate
from typing import Any
from urllib.parse import unquote

import attrs
import h11
import trio
import wsproto
import wsproto.connection
import wsproto.events as ws
import wsproto.frame_protocol

log = logging.getLogger("hero_assistance.server.connections")

Scope = dict[str, Any]
Message = dict[str, Any]
App = Callable[[Scope, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]], Awaitable[None]]

MAX_REQUEST_HEAD = 64 * 1024
#: Text or binary messages a client may send us (we expect none but control frames).
MAX_WEBSOCKET_MESSAGE = 1024 * 1024
#: A refused or unread request body is read and thrown away up to this much, so the connection stays usable.
DRAIN_BYTES = 4 * 1024 * 1024
RECEIVE_SIZE = 65536
_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_FRAME_CACHE_SIZE = 256
_frames: OrderedDict[int, tuple[str, bytes]] = OrderedDict()


@attrs.frozen(kw_only=True)
class ConnectionLimits:
    """What one listener allows its peers (WIRE.md section 2)."""

    #: Open connections per peer: an overlay /64 (one mycelium node owns a whole /64). Not applied on Unix sockets.
    per_peer: int = 64
    #: Open connections on the listener; beyond it new ones are closed at once.
    per_listener: int = 4096
    #: A request head must arrive whole within this long of its first byte (or of the connection's start).
    head_deadline_s: float = 30.0
    #: A keep-alive connection idle this long between requests is closed.
    keep_alive_s: float = 30.0
    #: How long a closing WebSocket waits to send its close frame and for the peer's, before the socket just closes.
    close_grace_s: float = 2.0

    def __attrs_post_init__(self) -> None:
        if min(self.per_peer, self.per_listener) < 1:
            raise ValueError("connection limits must be at least 1")
        if min(self.head_deadline_s, self.keep_alive_s, self.close_grace_s) <= 0:
            raise ValueError("connection deadlines must be positive")


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


class ClientDisconnected(OSError):
    """ASGI's ``send`` after the client went away (the name the ASGI spec gives it)."""


class _PeerFault(Exception):
    """The peer broke the protocol or vanished: end the connection, nothing to answer."""


def http_date() -> bytes:
    return formatdate(usegmt=True).encode()


def peer_key(host: str) -> str:
    """The unit a connection cap counts: an IPv6 peer's /64 (a mycelium node), else the address."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if address.version == 6 and address.ipv4_mapped is None:
        return str(ipaddress.IPv6Network((int(address) >> 64 << 64, 64)))
    return str(address)


@attrs.define
class ListenerStatistics:
    open: int
    accepted: int
    refused_over_limit: int
    failed: int


class HttpListener:
    """One listening socket served by the engine: its connections, their limits and statistics."""

    def __init__(self, app: App, sock: socket.socket, *, name: str, limits: ConnectionLimits, heartbeat_s: float):
        self.app = app
        self.name = name
        self.limits = limits
        self.heartbeat_s = heartbeat_s
        self.tcp = sock.family in (socket.AF_INET, socket.AF_INET6)
        #: ``(host, port)`` of a TCP listener, as an ASGI scope's ``server``.
        self.address: tuple[str, int] | None = None
        if self.tcp:
            host, port = sock.getsockname()[:2]
            self.address = (host, port)
        self._listener = trio.SocketListener(trio.socket.from_stdlib_socket(sock))
        self._per_peer: Counter[str] = Counter()
        self._open = 0
        self._accepted = 0
        self._refused = 0
        self._failed = 0
        self.stopping = False
        #: Connections waiting for a request (idle keep-alive): cancelled at once on a stop.
        self._idle: set[trio.CancelScope] = set()

    def statistics(self) -> ListenerStatistics:
        return ListenerStatistics(self._open, self._accepted, self._refused, self._failed)

    async def serve(
        self,
        shutdown_trigger: Callable[[], Awaitable[object]],
        *,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Serve until cancelled; at ``shutdown_trigger`` stop accepting and close idle connections.

        Connections in the middle of a request finish it and then close; the application ends its event
        streams itself. The caller bounds that with a cancel scope (the grace period). Returns once every
        connection is closed.
        """
        async with trio.open_nursery() as connections, self._listener, trio.open_nursery() as accepting:
            accepting.start_soon(self._accept_loop, connections)
            task_status.started()
            await shutdown_trigger()
            self.stopping = True
            accepting.cancel_scope.cancel()
            for scope in list(self._idle):
                scope.cancel()

    async def _accept_loop(self, connections: trio.Nursery) -> None:
        while True:
            try:
                stream = await self._listener.accept()
            except OSError as exc:  # EMFILE and friends: back off instead of spinning
                log.warning("listener=%s accept failed: %s", self.name, exc.strerror or exc)
                await trio.sleep(0.1)
                continue
            self._accepted += 1
            peer: str | None = None
            client: tuple[str, int] | None = None
            if self.tcp:
                try:
                    host, port = stream.socket.getpeername()[:2]
                except OSError:  # already gone
                    await _abort(stream)
                    continue
                client = (host, port)
                peer = peer_key(host)
            if self._open >= self.limits.per_listener or (
                peer is not None and self._per_peer[peer] >= self.limits.per_peer
            ):
                self._refused += 1
                if self._refused == 1 or self._refused % 1000 == 0:
                    log.warning(
                        "listener=%s refused a connection over the limit peer=%s (%d refused so far)",
                        self.name,
                        peer or "-",
                        self._refused,
                    )
                await _abort(stream)
                continue
            self._open += 1
            if peer is not None:
                self._per_peer[peer] += 1
            connections.start_soon(self._serve_connection, stream, peer, client)

    async def _serve_connection(self, stream: trio.SocketStream, peer: str | None, client: Any) -> None:
        """The seam: everything one connection does runs here, and nothing it raises gets past.

        ``Cancelled`` (the server stopping) passes through untouched; everything else, grouped or not,
        ends this connection with one log line and no traceback.
        """
        try:
            try:
                await _Connection(self, stream, client).run()
            finally:
                with trio.CancelScope(shield=True):
                    await _abort_quietly(stream)
        except* (_PeerFault, ClientDisconnected, trio.BrokenResourceError, trio.ClosedResourceError, OSError):
            pass  # the peer went away or broke the protocol: its connection is over, and that is all
        except* Exception as group:
            self._failed += 1
            first = group.exceptions[0]
            where = ""
            tb = first.__traceback__
            while tb is not None and tb.tb_next is not None:
                tb = tb.tb_next
            if tb is not None:
                where = f" at {tb.tb_frame.f_code.co_filename.rsplit('/', 1)[-1]}:{tb.tb_lineno}"
            log.error(
                "listener=%s connection failed and was closed (the server keeps serving): %s: %s%s",
                self.name,
                type(first).__name__,
                str(first)[:300],
                where,
            )
        finally:
            self._open -= 1
            if peer is not None:
                self._per_peer[peer] -= 1
                if not self._per_peer[peer]:
                    del self._per_peer[peer]


async def _abort(stream: trio.SocketStream) -> None:
    """Close a connection we will not serve, without waiting on the peer."""
    with contextlib.suppress(OSError):
        # linger 0: a reset, so the kernel keeps no state for a peer we refuse
        stream.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    await _abort_quietly(stream)


async def _abort_quietly(stream: trio.SocketStream) -> None:
    with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError, OSError):
        await trio.aclose_forcefully(stream)


class _Connection:
    """One accepted connection: HTTP/1.1 request cycles, possibly ending in a WebSocket."""

    def __init__(self, listener: HttpListener, stream: trio.SocketStream, client: Any) -> None:
        self.listener = listener
        self.limits = listener.limits
        self.stream = stream
        self.client = client
        self.conn = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_REQUEST_HEAD)
        self.send_lock = trio.Lock()  # a WebSocket's app, pongs and pings share the byte stream
        self.broken = False  # a send was cut short: the stream holds half a message

    async def run(self) -> None:
        first = True
        while not self.listener.stopping:
            request = await self._read_head(first)
            first = False
            if request is None:
                return
            headers = [(name.lower(), value) for name, value in request.headers]
            if _head_size(request) > MAX_REQUEST_HEAD:
                await self._error(431, "the request head is over 64 KiB")
                return
            if _is_websocket_upgrade(request, headers):
                await self._websocket(request, headers)
                return
            await _Http(self, request, headers).run()
            if not await self._finish_cycle():
                return

    # -- reading ---------------------------------------------------------------------------------
    async def receive_some(self) -> bytes:
        try:
            return await self.stream.receive_some(RECEIVE_SIZE)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            return b""

    async def next_event(self, *, answer_errors: bool = True) -> Any:
        """The next h11 event; a protocol error from the peer answers 400 (or 431) and ends the connection.

        Within a request the application owns the answer, so ``answer_errors=False`` only raises."""
        while True:
            try:
                event = self.conn.next_event()
            except h11.RemoteProtocolError as exc:
                if answer_errors and self.conn.our_state in (h11.IDLE, h11.SEND_RESPONSE):
                    await self._error(exc.error_status_hint, f"malformed HTTP request: {exc}")
                raise _PeerFault from None
            if event is not h11.NEED_DATA:
                return event
            data = await self.receive_some()
            self.conn.receive_data(data)

    async def _read_head(self, first: bool) -> h11.Request | None:
        """The next request head, or ``None`` to close quietly.

        A new connection must send its whole first head within the head deadline; between requests a
        keep-alive connection may idle up to ``keep_alive_s``, and once the next head's first byte is in,
        the rest must follow within the head deadline. Only the wait for a first byte is cut short by a
        stop: nothing is half-read then.
        """
        start = trio.current_time()
        idle = trio.CancelScope(deadline=start + (self.limits.head_deadline_s if first else self.limits.keep_alive_s))
        self.listener._idle.add(idle)
        try:
            with idle:
                while self.conn.their_state is h11.IDLE and not self.conn.trailing_data[0]:
                    data = await self.receive_some()
                    self.conn.receive_data(data)
                    if not data:
                        break
        finally:
            self.listener._idle.discard(idle)
        if idle.cancelled_caught:
            return None  # idle past its time (or the server is stopping): close without a word
        deadline = start + self.limits.head_deadline_s if first else trio.current_time() + self.limits.head_deadline_s
        # A head not yet whole is no request in flight: a stop ends it too (as the same idle set).
        head = trio.CancelScope(deadline=deadline)
        if self.listener.stopping:
            head.cancel()
        self.listener._idle.add(head)
        try:
            with head:
                event = await self.next_event()
                if isinstance(event, h11.Request):
                    return event
                return None  # the peer closed between requests (ConnectionClosed)
        finally:
            self.listener._idle.discard(head)
        if self.listener.stopping:
            await self._error(503, "the server is stopping")
        else:
            await self._error(408, "the request head did not arrive in time")
        return None

    # -- writing ---------------------------------------------------------------------------------
    async def send_all(self, data: bytes) -> None:
        """Write bytes whole or not at all: a send cut short by cancellation breaks the connection."""
        if self.broken:
            raise ClientDisconnected("the connection is closed")
        self.broken = True
        try:
            await self.stream.send_all(data)
        except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            raise ClientDisconnected("the client went away") from exc
        self.broken = False

    async def _error(self, status: int, message: str) -> None:
        """A last answer for a request we will not serve; best effort, bounded, then the connection closes."""
        text = message.replace("\\", "\\\\").replace('"', "'")[:400]
        body = f'{{"error":{{"status":{status},"message":"{text}"}}}}'.encode("utf-8", "replace")
        head = (
            f"HTTP/1.1 {status} {_reason(status)}\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n"
            f"date: {http_date().decode()}\r\nconnection: close\r\n\r\n"
        )
        with trio.move_on_after(self.limits.close_grace_s), contextlib.suppress(ClientDisconnected):
            await self.send_all(head.encode() + body)

    async def _finish_cycle(self) -> bool:
        """After a response: read what is left of the request, then start the next cycle if both sides can."""
        if self.conn.our_state is not h11.DONE:
            return False
        if self.conn.their_state is h11.SEND_BODY:  # the app answered without reading the whole body
            drained = 0
            with trio.move_on_after(1.0):
                while drained <= DRAIN_BYTES:
                    event = await self.next_event()
                    if isinstance(event, h11.Data):
                        drained += len(event.data)
                    else:
                        break
        if self.conn.our_state is not h11.DONE or self.conn.their_state is not h11.DONE:
            return False
        self.conn.start_next_cycle()
        return True

    # -- WebSocket -------------------------------------------------------------------------------
    async def _websocket(self, request: h11.Request, headers: list[tuple[bytes, bytes]]) -> None:
        values = dict(headers)
        if request.http_version != b"1.1":
            await self._error(400, "a WebSocket upgrade needs HTTP/1.1")
            return
        key = values.get(b"sec-websocket-key", b"").strip()
        try:
            valid_key = len(base64.b64decode(key, validate=True)) == 16
        except (binascii.Error, ValueError):
            valid_key = False
        if not valid_key:
            await self._error(400, "the WebSocket handshake needs a Sec-WebSocket-Key of 16 base64-encoded bytes")
            return
        if values.get(b"sec-websocket-version", b"").strip() != b"13":
            body = b'{"error":{"status":426,"message":"this server speaks WebSocket version 13"}}'
            head = (
                b"HTTP/1.1 426 Upgrade Required\r\nsec-websocket-version: 13\r\ncontent-type: application/json\r\n"
                b"content-length: " + str(len(body)).encode() + b"\r\ndate: " + http_date() + b"\r\n"
                b"connection: close\r\n\r\n"
            )
            with trio.move_on_after(self.limits.close_grace_s), contextlib.suppress(ClientDisconnected):
                await self.send_all(head + body)
            return
        await _WebSocket(self, request, headers, key).run()


def _reason(status: int) -> str:
    return {
        200: "OK",
        400: "Bad Request",
        403: "Forbidden",
        404: "Not Found",
        408: "Request Timeout",
        426: "Upgrade Required",
        431: "Request Header Fields Too Large",
        500: "Internal Server Error",
        503: "Service Unavailable",
    }.get(status, "")


def _head_size(request: h11.Request) -> int:
    return len(request.method) + len(request.target) + 12 + sum(len(n) + len(v) + 4 for n, v in request.headers)


def _is_websocket_upgrade(request: h11.Request, headers: list[tuple[bytes, bytes]]) -> bool:
    values = dict(headers)
    return (
        request.method == b"GET"
        and b"upgrade" in [token.strip() for token in values.get(b"connection", b"").lower().split(b",")]
        and values.get(b"upgrade", b"").strip().lower() == b"websocket"
    )


def _scope(kind: str, connection: _Connection, request: h11.Request, headers: list[tuple[bytes, bytes]]) -> Scope:
    raw_path, _, query = request.target.partition(b"?")
    tcp = connection.listener.tcp
    return {
        "type": kind,
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": request.http_version.decode("ascii", "replace"),
        "method": request.method.decode("ascii", "replace"),
        "scheme": ("ws" if kind == "websocket" else "http"),
        "path": unquote(raw_path.decode("latin-1")),
        "raw_path": raw_path,
        "query_string": query,
        "root_path": "",
        "headers": headers,
        # On a Unix socket identity comes from the headers the app attests; on TCP from the peer's address.
        "client": connection.client if tcp else None,
        # None on a Unix socket, as hypercorn does: the ui and the admin check the Host header only over TCP.
        "server": connection.listener.address if tcp else None,
        # hero.send_many: ``websocket.send`` may carry ``texts`` (a list), sent as consecutive frames in one write.
        "extensions": {"websocket.http.response": {}, "hero.send_many": {}} if kind == "websocket" else {},
    }


class _Http:
    """One HTTP request/response cycle on the connection, as ASGI ``receive`` / ``send``."""

    def __init__(self, connection: _Connection, request: h11.Request, headers: list[tuple[bytes, bytes]]) -> None:
        self.connection = connection
        self.conn = connection.conn
        self.request = request
        self.headers = headers
        self.head = request.method == b"HEAD"
        self.status: int | None = None
        self.response_headers: list[tuple[bytes, bytes]] = []
        self.body_told = False
        self.body_broken = False

    async def run(self) -> None:
        app = self.connection.listener.app
        await app(_scope("http", self.connection, self.request, self.headers), self.receive, self.send)
        if self.conn.our_state is h11.SEND_RESPONSE and self.body_broken:
            # The body was cut short or malformed and the app gave up on it: a half-closed peer may
            # still read why. The connection then ends (h11 will not start another cycle).
            await self.connection._error(400, "the request body was cut short or malformed")
            return
        if self.conn.our_state is h11.SEND_RESPONSE:  # the app answered nothing: a bug of ours
            log.error("the application answered nothing to %s", self.request.target[:200].decode("latin-1"))
            self.response_headers = [(b"content-length", b"0"), (b"connection", b"close")]
            self.status = 500
            await self._write(self._response())
        if self.conn.our_state is h11.SEND_BODY:
            await self._write(h11.EndOfMessage())

    async def receive(self) -> Message:
        if self.conn.their_state is h11.SEND_BODY:
            if self.conn.they_are_waiting_for_100_continue and self.conn.our_state is h11.SEND_RESPONSE:
                await self._write(h11.InformationalResponse(status_code=100, headers=[]))
            try:
                event = await self.connection.next_event(answer_errors=False)
            except _PeerFault:  # a body cut short or malformed: to the app, the client has gone
                self.body_broken = True
                return {"type": "http.disconnect"}
            if isinstance(event, h11.Data):
                return {"type": "http.request", "body": bytes(event.data), "more_body": True}
            if isinstance(event, h11.EndOfMessage):
                self.body_told = True
                return {"type": "http.request", "body": b"", "more_body": False}
            return {"type": "http.disconnect"}  # ConnectionClosed: the body was cut short
        if self.conn.their_state is h11.DONE and not self.body_told:
            self.body_told = True
            return {"type": "http.request", "body": b"", "more_body": False}
        # Afterwards only the client leaving is news (an event stream waits on this). Pipelined
        # requests that arrive meanwhile stay buffered in h11 for the next cycle, within bounds.
        while True:
            if len(self.conn.trailing_data[0]) > MAX_REQUEST_HEAD:
                await trio.sleep_forever()  # enough queued: read no more until this answer is done
            data = await self.connection.receive_some()
            if not data:
                return {"type": "http.disconnect"}
            self.conn.receive_data(data)

    async def send(self, message: Message) -> None:
        kind = message["type"]
        if kind == "http.response.start":
            self.status = int(message["status"])
            self.response_headers = list(message.get("headers", []))
        elif kind == "http.response.body":
            if self.conn.our_state is h11.SEND_RESPONSE:
                await self._write(self._response())
            body = message.get("body", b"")
            if body and not self.head:
                await self._write(h11.Data(data=body))
            if not message.get("more_body") and self.conn.our_state is h11.SEND_BODY:
                await self._write(h11.EndOfMessage())

    def _response(self) -> h11.Response:
        assert self.status is not None, "http.response.body before http.response.start"
        headers = self.response_headers
        if not any(name.lower() == b"date" for name, _ in headers):
            headers = [*headers, (b"date", http_date())]
        if self.connection.listener.stopping:
            headers = [*headers, (b"connection", b"close")]
        return h11.Response(status_code=self.status, headers=headers)

    async def _write(self, event: Any) -> None:
        if self.connection.broken:  # an earlier write failed: h11 must not count what will never be sent
            raise ClientDisconnected("the connection is closed")
        data = self.conn.send(event)
        if data:
            await self.connection.send_all(data)


class _WebSocket:
    """The WebSocket of one upgrade, as ASGI ``receive`` / ``send``; the handshake was validated already."""

    def __init__(
        self, connection: _Connection, request: h11.Request, headers: list[tuple[bytes, bytes]], key: bytes
    ) -> None:
        self.connection = connection
        self.limits = connection.limits
        self.request = request
        self.headers = headers
        self.key = key
        leftover, _closed = connection.conn.trailing_data
        self.ws = wsproto.connection.Connection(wsproto.connection.ConnectionType.SERVER)
        if leftover:  # frames the client sent right behind its handshake
            self.ws.receive_data(bytes(leftover))
        self.connected = False
        self.accepted = False
        self.closed = False  # no more frames to read: the peer closed, vanished or broke the protocol
        self.message_size = 0
        self.reject_status: int | None = None
        self.reject_headers: list[tuple[bytes, bytes]] = []
        #: The unsent tail of a frame ``try_send_text`` could only partly write: sent before anything else.
        self.pending = b""
        self._flush_wakeup = trio.Event()

    async def run(self) -> None:
        app = self.connection.listener.app
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            scope = _scope("websocket", self.connection, self.request, self.headers)
            scope["extensions"]["hero.try_send_text"] = self.try_send_text
            await app(scope, self.receive, self.send)
            nursery.cancel_scope.cancel()
        if self.accepted and not self.closed:
            await self._close(1000, None)

    # -- ASGI ----------------------------------------------------------------------------------
    async def receive(self) -> Message:
        if not self.connected:
            self.connected = True
            return {"type": "websocket.connect"}
        while not self.closed:
            for event in self.ws.events():
                message = await self._on_event(event)
                if message is not None:
                    return message
            data = await self.connection.receive_some()
            if not data:
                self.closed = True
                break
            self.ws.receive_data(data)
        return {"type": "websocket.disconnect", "code": 1006}

    async def _on_event(self, event: ws.Event) -> Message | None:
        if isinstance(event, ws.Ping):
            await self._send_frame(self.ws.send(event.response()))
        elif isinstance(event, ws.CloseConnection):
            self.closed = True
            if self.ws.state is wsproto.connection.ConnectionState.REMOTE_CLOSING:
                await self._send_frame(self.ws.send(event.response()))  # the peer's close: answer it
            elif self.ws.state is wsproto.connection.ConnectionState.OPEN:
                await self._close(event.code, event.reason)  # a protocol error wsproto found: 1002 / 1007
            return {"type": "websocket.disconnect", "code": event.code}
        elif isinstance(event, ws.TextMessage | ws.BytesMessage):
            self.message_size += len(event.data)
            if self.message_size > MAX_WEBSOCKET_MESSAGE:
                self.closed = True
                await self._close(1009, "messages are limited to 1 MiB")
                return {"type": "websocket.disconnect", "code": 1009}
            if event.message_finished:
                self.message_size = 0
            # What clients send is not part of the events protocol: the app ignores it, so fragments
            # are not reassembled (a message is bounded above all the same).
            if isinstance(event, ws.TextMessage):
                return {"type": "websocket.receive", "text": event.data}
            return {"type": "websocket.receive", "bytes": bytes(event.data)}
        return None

    async def send(self, message: Message) -> None:
        kind = message["type"]
        if kind == "websocket.accept":
            await self._accept()
        elif kind == "websocket.send":
            if self.ws.state is not wsproto.connection.ConnectionState.OPEN:
                raise ClientDisconnected("the WebSocket is closing")
            if message.get("text") is not None:
                await self._send_frame(_text_frame(message["text"]))
            elif message.get("texts") is not None:  # the "hero.send_many" extension: one write for a batch
                await self._send_frame(b"".join(_text_frame(text) for text in message["texts"]))
            else:
                await self._send_frame(self.ws.send(ws.BytesMessage(data=message.get("bytes") or b"")))
        elif kind == "websocket.close":
            if not self.accepted:
                await self._refuse(403, b'{"error":{"status":403,"message":"refused"}}')
            else:
                await self._close(int(message.get("code", 1000)), message.get("reason") or None)
        elif kind == "websocket.http.response.start":
            self.reject_status = int(message["status"])
            self.reject_headers = list(message.get("headers", []))
        elif kind == "websocket.http.response.body" and not message.get("more_body"):
            await self._refuse(self.reject_status or 403, message.get("body", b""))

    # -- wire ------------------------------------------------------------------------------------
    async def _accept(self) -> None:
        accept = base64.b64encode(hashlib.sha1(self.key + _GUID).digest())  # noqa: S324 - RFC 6455 mandates SHA-1
        await self.connection.send_all(
            b"HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\n"
            b"sec-websocket-accept: " + accept + b"\r\ndate: " + http_date() + b"\r\n\r\n"
        )
        self.accepted = True
        self._nursery.start_soon(self._heartbeat)
        self._nursery.start_soon(self._flusher)

    async def _refuse(self, status: int, body: bytes) -> None:
        head = f"HTTP/1.1 {status} {_reason(status)}\r\ncontent-length: {len(body)}\r\nconnection: close\r\n"
        for name, value in self.reject_headers:
            if name.lower() in (b"content-length", b"connection", b"date", b"transfer-encoding"):
                continue  # ours: the body is sent whole, then the connection closes
            head += f"{name.decode('latin-1')}: {value.decode('latin-1')}\r\n"
        head += f"date: {http_date().decode()}\r\n"
        self.closed = True
        with trio.move_on_after(self.limits.close_grace_s):
            await self.connection.send_all(head.encode() + b"\r\n" + body)

    async def _close(self, code: int, reason: str | None) -> None:
        """Our close frame, then the peer's, each within the close grace: a peer that never reads or
        never answers cannot hold the connection open."""
        if self.ws.state is not wsproto.connection.ConnectionState.OPEN:
            return
        frame = self.ws.send(ws.CloseConnection(code=code, reason=reason))
        with trio.move_on_after(self.limits.close_grace_s):
            async with self.connection.send_lock:
                await self._flush_locked()
                await self.connection.send_all(frame)
            while not self.closed:  # the peer's answering close frame
                for event in self.ws.events():
                    if isinstance(event, ws.CloseConnection):
                        self.closed = True
                        break
                if self.closed:
                    break
                data = await self.connection.receive_some()
                if not data:
                    break
                self.ws.receive_data(data)
        self.closed = True

    async def _heartbeat(self) -> None:
        """Pings keep idle streams alive through middleboxes and surface a dead peer as a failed send."""
        while True:
            await trio.sleep(self.connection.listener.heartbeat_s)
            if self.ws.state is not wsproto.connection.ConnectionState.OPEN:
                return
            await self._send_frame(self.ws.send(ws.Ping()))

    async def _send_frame(self, data: bytes) -> None:
        if not data:
            return
        async with self.connection.send_lock:
            await self._flush_locked()
            await self.connection.send_all(data)

    # -- the direct path of fan-out ----------------------------------------------------------------
    def try_send_text(self, text: str) -> bool:
        """Write one text frame now, without blocking or yielding, if nothing else is being sent: the
        ``hero.try_send_text`` extension, which the event hub calls while it fans an event out.

        One event to many subscribers then costs one non-blocking ``send`` per socket in the hub's own
        loop, instead of a task wake-up, a lock and a scheduler turn per subscriber. ``False`` (the
        caller then queues the event for the subscriber's task as usual) when another send is under
        way or queued, the socket has no room, or the connection is failing; a partial write is kept in
        ``pending`` and finished by ``_flusher`` before anything else goes out, so frames never mix.
        """
        connection = self.connection
        if (
            self.pending
            or connection.broken
            or connection.send_lock.locked()
            or self.ws.state is not wsproto.connection.ConnectionState.OPEN
        ):
            return False
        frame = _text_frame(text)
        try:
            sent = os.write(connection.stream.socket.fileno(), frame)
        except OSError:  # no room (EAGAIN) or a failing peer: the task's send sees to it
            return False
        if sent < len(frame):
            self.pending = frame[sent:]
            self._flush_wakeup.set()
        return True

    async def _flush_locked(self) -> None:
        while self.pending:
            pending, self.pending = self.pending, b""
            await self.connection.send_all(pending)

    async def _flusher(self) -> None:
        """Finishes frames that ``try_send_text`` could only partly write."""
        while True:
            await self._flush_wakeup.wait()
            self._flush_wakeup = trio.Event()
            async with self.connection.send_lock:
                await self._flush_locked()
