"""The project server's HTTP face: a raw ASGI application, one instance per listener.

No framework: ``POST /rpc`` is the hot path (the benchmark compares it with a bare hypercorn app),
so a request costs one dict lookup for the route, one pass over the headers, the body, the
dispatcher and two ``send`` calls. Each listener gets its own instance because the identity rules
differ (Unix sockets honour ``X-Hero-*`` headers, the overlay listener only the peer address) and
because ASGI cannot tell two Unix sockets apart.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

import attrs
import trio

from hero_assistance.core import Caller, Project, RpcError

from ._events_http import EventStreams, parse_since
from ._http_server import ClientDisconnected
from ._listen import BadIdentityHeaders
from ._server_config import MAX_BODY_BYTES

log = logging.getLogger("hero_assistance.http")

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
#: A handler answers and returns the status to log, or None when the request is logged elsewhere.
Handler = Callable[[Scope, Receive, Send], Awaitable[int | None]]

_JSON_HEADERS = [(b"content-type", b"application/json")]
_JSON_TYPES = (b"application/json", b"application/json-rpc")
_ATTACHMENT = re.compile(r"/attachments/([0-9]{1,18})(/thumb)?")
_GET = ("GET", "HEAD")
CHUNK = 256 * 1024
#: Before an error answer we read and discard (a bounded amount of) the unread request body:
#: a connection whose request is incomplete when the answer ends cannot be kept alive, so this
#: keeps a keep-alive connection usable, and a client still writing is not reset before it can
#: read the answer (TCP sends RST when a socket closes with unread data).
_DRAIN_BYTES = 4 * 1024 * 1024
_DRAIN_S = 1.0


@attrs.frozen
class Listener:
    """One listening socket's identity rules and the endpoints it serves."""

    name: str
    rpc: bool
    events: bool
    attest: Callable[[Scope], Caller]


class InFlight:
    """How many requests and streams the app is serving; ``wait_idle`` for a graceful stop."""

    def __init__(self) -> None:
        self.count = 0
        self._idle = trio.Event()
        self._idle.set()

    def enter(self) -> None:
        self.count += 1
        if self._idle.is_set():
            self._idle = trio.Event()

    def leave(self) -> None:
        self.count -= 1
        if not self.count:
            self._idle.set()

    async def wait_idle(self, settle_s: float = 0.1) -> None:
        """Return once nothing is in flight and nothing new has started for ``settle_s``.

        The settling time lets a request whose bytes had already arrived when the stop began
        reach the app (and count) before we call the server idle.
        """
        while True:
            while self.count:
                await self._idle.wait()
            await trio.sleep(settle_s)
            if not self.count:
                return


class _ClientGone(Exception):
    """The client disconnected before its request body was complete."""


def _json(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


async def send_bytes(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> int:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [*headers, (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
    return status


async def send_error(
    receive: Receive | None,
    send: Send,
    status: int,
    message: str,
    *,
    rpc_error: RpcError | None = None,
    close: bool = False,
) -> int:
    """A JSON error body: ``{"error": {"status", "message"[, "code", "data"]}}``.

    With ``receive``, the unread request body is discarded first (bounded, see ``_DRAIN_BYTES``).
    """
    if receive is not None:
        await _discard_body(receive)
    error: dict[str, Any] = {"status": status, "message": message}
    if rpc_error is not None:
        error.update(rpc_error.to_wire())
    headers = [*_JSON_HEADERS, (b"connection", b"close")] if close else _JSON_HEADERS
    return await send_bytes(send, status, _json({"error": error}), headers)


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return value
    return None


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


class ServerApp:
    """The ASGI application for one listener of one project."""

    def __init__(self, project: Project, listener: Listener, streams: EventStreams, in_flight: InFlight) -> None:
        self.project = project
        self.listener = listener
        self.streams = streams
        self.in_flight = in_flight
        self._static: dict[str, bytes] = {"/health": _json(project.health())}
        routes: dict[str, tuple[tuple[str, ...], Handler]] = {"/health": (_GET, self._static_json)}
        if listener.rpc:
            self._static["/.well-known/heroservice.json"] = _json(project.service_manifest())
            routes["/rpc"] = (("POST",), self._rpc)
            routes["/openrpc.json"] = (_GET, self._openrpc)
            routes["/.well-known/heroservice.json"] = (_GET, self._static_json)
        if listener.events:
            routes["/events"] = (("GET",), self._events_sse)
        self._routes = routes
        self._openrpc_body: bytes | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            await _lifespan(receive, send)
            return
        self.in_flight.enter()
        try:
            if kind == "http":
                await self._http(scope, receive, send)
            elif kind == "websocket":
                await self._websocket(scope, receive, send)
        finally:
            self.in_flight.leave()

    # -- HTTP ----------------------------------------------------------------------------------
    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        path: str = scope["path"]
        method: str = scope["method"]
        status: int | None
        route = self._routes.get(path)
        if route is None and self.listener.rpc and path.startswith("/attachments/"):
            route = (_GET, self._attachment)
        try:
            if route is None:
                where = f"{path[:200]}{self._elsewhere(path)}"
                status = await send_error(receive, send, 404, f"no such endpoint: {where}")
            elif method not in route[0]:
                status = await self._not_allowed(receive, send, method, path, route[0])
            else:
                status = await route[1](scope, receive, send)
        except BadIdentityHeaders as exc:
            status = await send_error(receive, send, 400, str(exc))
        except (_ClientGone, ClientDisconnected):
            status = 499  # nginx's "client closed request": it left before its answer was whole
        except Exception:
            trace_id = uuid.uuid4().hex[:16]
            log.exception("internal error serving %s trace_id=%s", path[:200], trace_id)
            status = 500
            with contextlib.suppress(Exception):  # the response may have started already
                message = f"internal error (trace_id {trace_id}; the server log has the rest)"
                await send_error(None, send, 500, message, close=True)
        if status is not None:
            self._log(scope, status, started)

    def _elsewhere(self, path: str) -> str:
        if path == "/events" and not self.listener.events:
            return " (event streams are served on events.sock)"
        if not self.listener.rpc and (path in ("/rpc", "/openrpc.json") or path.startswith("/attachments/")):
            return " (this is served on rpc.sock)"
        return ""

    def _log(self, scope: Scope, status: int, started: float, extra: str = "") -> None:
        raw: bytes = scope.get("raw_path") or scope["path"].encode()
        log.info(
            "http listener=%s method=%s path=%s status=%d ms=%.2f%s",
            self.listener.name,
            scope.get("method", "GET"),
            raw[:200].decode("ascii", "backslashreplace"),
            status,
            (time.perf_counter() - started) * 1000,
            extra,
        )

    async def _not_allowed(self, receive: Receive, send: Send, method: str, path: str, allowed: tuple[str, ...]) -> int:
        await _discard_body(receive)
        body = _json({"error": {"status": 405, "message": f"{path[:200]} takes {' or '.join(allowed)}, not {method}"}})
        return await send_bytes(send, 405, body, [*_JSON_HEADERS, (b"allow", ", ".join(allowed).encode())])

    async def _static_json(self, scope: Scope, receive: Receive, send: Send) -> int:
        return await send_bytes(send, 200, self._static[scope["path"]], _JSON_HEADERS)

    async def _openrpc(self, scope: Scope, receive: Receive, send: Send) -> int:
        if self._openrpc_body is None:
            self._openrpc_body = _json(self.project.openrpc())
        return await send_bytes(send, 200, self._openrpc_body, _JSON_HEADERS)

    async def _rpc(self, scope: Scope, receive: Receive, send: Send) -> int | None:
        content_type = b""
        length: bytes | None = None
        for name, value in scope["headers"]:
            if name == b"content-type":
                content_type = value
            elif name == b"content-length":
                length = value
        if content_type.split(b";", 1)[0].strip().lower() not in _JSON_TYPES:
            message = "POST /rpc takes a JSON-RPC body with Content-Type: application/json"
            return await send_error(receive, send, 415, message)
        if length is not None and (not length.isdigit() or int(length) > MAX_BODY_BYTES):
            return await self._too_large(receive, send)
        caller = self.listener.attest(scope)
        body = await _read_body(receive)
        if body is None:
            return await self._too_large(receive, send)
        answer = await self.project.handle_rpc(body, caller)
        if answer is None:  # notifications only
            await send({"type": "http.response.start", "status": 204, "headers": []})
            await send({"type": "http.response.body", "body": b""})
        else:
            await send_bytes(send, 200, answer, _JSON_HEADERS)
        return None  # the dispatcher has logged each call

    async def _too_large(self, receive: Receive, send: Send) -> int:
        # Answered at once, before the rest is read; the connection then closes.
        return await send_error(None, send, 413, f"request bodies are limited to {MAX_BODY_BYTES} bytes", close=True)

    async def _attachment(self, scope: Scope, receive: Receive, send: Send) -> int:
        match = _ATTACHMENT.fullmatch(scope["path"])
        if match is None:
            message = "no such endpoint: use /attachments/{id} or /attachments/{id}/thumb"
            return await send_error(receive, send, 404, message)
        actor = self.project.resolve(self.listener.attest(scope))
        try:
            path, content_type, filename = self.project.services.attachments.open_for(
                actor, int(match[1]), thumb=bool(match[2])
            )
        except RpcError as err:
            return await send_error(receive, send, 404, err.message, rpc_error=err)
        try:
            handle = await trio.open_file(path, "rb")
        except FileNotFoundError:
            log.error("attachment %s: its file %s is missing", match[1], path)
            return await send_error(receive, send, 404, "the attachment's file is missing on the server")
        async with handle:
            size = os.fstat(handle.fileno()).st_size
            disposition = f"inline; filename*=UTF-8''{quote(filename)}"
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [
                        (b"content-type", content_type.encode()),
                        (b"content-length", str(size).encode()),
                        (b"content-disposition", disposition.encode()),
                        (b"x-content-type-options", b"nosniff"),
                        (b"content-security-policy", b"default-src 'none'"),
                        (b"cache-control", b"private, max-age=300"),
                    ],
                }
            )
            remaining = size
            while remaining > 0:
                chunk = await handle.read(min(CHUNK, remaining))
                if not chunk:
                    break  # the file shrank under us; the short body makes the client notice
                remaining -= len(chunk)
                await send({"type": "http.response.body", "body": chunk, "more_body": remaining > 0})
            if remaining > 0:
                await send({"type": "http.response.body", "body": b""})
        return 200

    # -- event streams ---------------------------------------------------------------------------
    async def _events_sse(self, scope: Scope, receive: Receive, send: Send) -> int | None:
        accept = _header(scope, b"accept") or b""
        if b"text/event-stream" not in accept:
            message = "GET /events is a WebSocket, or Server-Sent Events with Accept: text/event-stream"
            return await send_error(receive, send, 406, message)
        last_event_id = _header(scope, b"last-event-id")
        try:
            since = parse_since(scope["query_string"], last_event_id)
        except ValueError as exc:
            return await send_error(receive, send, 400, str(exc))
        caller = self.listener.attest(scope)
        started = time.perf_counter()
        outcome, count = await self.streams.serve_sse(caller, since, receive, send)
        self._log(scope, 200, started, f" stream=sse outcome={outcome} events={count}")
        return None

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        status, reason = 101, ""
        if scope["path"] != "/events" or not self.listener.events:
            status, reason = 404, f"no such WebSocket endpoint: {scope['path'][:200]}{self._elsewhere(scope['path'])}"
        else:
            try:
                since = parse_since(scope["query_string"], None)
                caller = self.listener.attest(scope)
            except (ValueError, BadIdentityHeaders) as exc:
                status, reason = 400, str(exc)
        if status != 101:
            await _reject_websocket(scope, receive, send, status, reason)
            self._log(scope, status, started, " stream=websocket")
            return
        extensions = scope.get("extensions", {})
        outcome, count = await self.streams.serve_websocket(
            caller,
            since,
            receive,
            send,
            send_many="hero.send_many" in extensions,
            try_send=extensions.get("hero.try_send_text"),
        )
        self._log(scope, 101, started, f" stream=websocket outcome={outcome} events={count}")


async def _read_body(receive: Receive) -> bytes | None:
    """The whole request body, or ``None`` as soon as it exceeds the limit."""
    message = await receive()
    if message["type"] != "http.request":
        raise _ClientGone
    body: bytes = message.get("body", b"")
    if not message.get("more_body"):
        return body if len(body) <= MAX_BODY_BYTES else None
    chunks = [body]
    size = len(body)
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise _ClientGone  # a truncated body: the client went away mid-request
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return None
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


async def _discard_body(receive: Receive) -> None:
    """Read what is left of the request body, up to ``_DRAIN_BYTES`` and ``_DRAIN_S``."""
    with trio.move_on_after(_DRAIN_S):
        drained = 0
        while drained < _DRAIN_BYTES:
            message = await receive()
            drained += len(message.get("body", b""))
            if message["type"] != "http.request" or not message.get("more_body"):
                return


async def _reject_websocket(scope: Scope, receive: Receive, send: Send, status: int, reason: str) -> None:
    """Refuse a WebSocket handshake with a JSON body when the server supports it (ours does)."""
    await receive()  # websocket.connect
    if "websocket.http.response" in scope.get("extensions", {}):
        await send({"type": "websocket.http.response.start", "status": status, "headers": _JSON_HEADERS})
        body = _json({"error": {"status": status, "message": reason}})
        await send({"type": "websocket.http.response.body", "body": body})
    else:
        await send({"type": "websocket.close", "code": 1008, "reason": reason[:120]})
