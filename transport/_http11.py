"""Keep-alive HTTP/1.1 (h11) connections and ``HttpPool``, the one HTTP/1.1 client of the code base.

A ``Client`` draws its JSON-RPC calls from one; the ui forwards browsers' requests through a ``Client``'s
(``Client.forward``, ``Client.get``), and the supervisor asks local daemons (mycelium's API) through one
directly (``HttpPool.request``).

No background tasks: the task that holds a connection drives it, from the first byte of the request to
the last byte of the response. That makes the cancellation rule simple and strict (httpcore's "poison and
close"): a connection whose exchange was interrupted at any point after the first byte may have been sent
is closed on the spot, never returned to the pool, so no later call can read a reply meant for an
abandoned one. A connection taken from the pool whose call is cancelled before sending anything is still
clean and goes back.
"""

from __future__ import annotations

import json
import select
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any, Final, TypeVar

import attrs
import h11
import trio

from ._client_endpoint import Endpoint, endpoint_from_url
from ._errors import ClientClosed, ConnectionLost, ProtocolError, TransportError

T = TypeVar("T")

RECEIVE_SIZE = 65536
#: Default for ``max_response_bytes``: the largest response body accepted (attachments are at most 10 MiB,
#: the OpenRPC document and big pages far below that).
MAX_RESPONSE_BYTES: Final = 64 * 1024 * 1024
#: Default for ``connect_timeout``: how long opening a socket may take.
DEFAULT_CONNECT_TIMEOUT: Final = 10.0
#: Default pool size: enough that a burst of concurrent calls (a ui serving many browsers) does not queue.
DEFAULT_MAX_CONNECTIONS: Final = 16
#: Methods that carry no body unless given one: no ``Content-Length: 0`` on them, as browsers do.
_BODYLESS: Final = frozenset({b"GET", b"HEAD", b"DELETE", b"OPTIONS"})


@attrs.frozen
class HttpResponse:
    """A whole HTTP response, bytes as the server wrote them."""

    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes

    def header(self, name: str) -> str | None:
        """The first header called ``name`` (any case), decoded as Latin-1; ``None`` if absent."""
        wanted = name.lower().encode()
        for key, value in self.headers:
            if key.lower() == wanted:
                return value.decode("latin-1")
        return None

    def json(self) -> Any:
        """The body as JSON; ``ValueError`` if it is not."""
        return json.loads(self.body)


class _StaleConnection(ConnectionLost):
    """The peer closed the connection before a single byte of the response: a pooled connection gone stale."""


@attrs.frozen
class PoolStatistics:
    """A snapshot of a ``Client``'s connection pool."""

    max_connections: int
    open: int
    idle: int
    in_use: int
    waiting: int
    opened: int
    poisoned: int


class HttpConnection:
    """One HTTP/1.1 connection. ``exchange`` must run to completion, or the connection must be discarded."""

    def __init__(self, stream: trio.SocketStream) -> None:
        self.stream = stream
        self.h11 = h11.Connection(h11.CLIENT)
        self.max_response_bytes = MAX_RESPONSE_BYTES  # the pool sets its own

    def close_now(self) -> None:
        # Synchronous on purpose: it runs in ``except BaseException`` paths, where the task may already be
        # cancelled and could not await a graceful close.
        self.stream.socket.close()

    def looks_hung_up(self) -> bool:
        """True if the idle connection became readable: the server closed it (EOF) or sent something unasked.

        Either way it must not carry another request. This is the check httpcore does before reuse; it
        turns the "server closed an idle keep-alive connection" race into a fresh connection instead of an
        error, without a background task watching idle sockets.
        """
        try:
            poller = select.poll()
            poller.register(self.stream.socket.fileno(), select.POLLIN)
            return bool(poller.poll(0))
        except (OSError, ValueError):
            return True

    def reusable(self) -> bool:
        return self.h11.our_state is h11.DONE and self.h11.their_state is h11.DONE

    async def exchange(
        self, method: bytes, target: str, headers: Sequence[tuple[str, str]], body: bytes
    ) -> HttpResponse:
        """Send one request and read its whole response; raises ``TransportError`` subclasses only."""
        try:
            length = [] if method in _BODYLESS and not body else [("Content-Length", str(len(body)))]
            request = h11.Request(method=method, target=target, headers=[*headers, *length])
            data = self.h11.send(request) or b""
            data += self.h11.send(h11.Data(data=body)) or b""
            data += self.h11.send(h11.EndOfMessage()) or b""
        except h11.LocalProtocolError as exc:
            raise ProtocolError(f"cannot send the request: {exc}") from exc
        try:
            await self.stream.send_all(data)
        except trio.BrokenResourceError as exc:
            # The server may have answered early and hung up while we were still sending: a 413 for a body
            # over its limit does exactly that. If a whole response is waiting in the socket, that is the
            # answer; otherwise the connection simply broke.
            try:
                return await self._read_response()
            except _StaleConnection:
                pass  # nothing came back either: report the broken send
            raise _StaleConnection(f"the connection broke while sending: {exc.__cause__ or exc}") from exc
        return await self._read_response()

    async def _read_response(self) -> HttpResponse:
        received_any = False
        eof = False
        status = 0
        headers: list[tuple[bytes, bytes]] = []
        chunks: list[bytes] = []
        size = 0
        while True:
            try:
                event = self.h11.next_event()
            except h11.RemoteProtocolError as exc:
                if not eof:
                    raise ProtocolError(f"the server's answer is not valid HTTP/1.1: {exc}", status=status) from exc
                if not received_any:
                    raise _StaleConnection("the server closed the connection without answering") from exc
                raise ConnectionLost(f"the server closed the connection mid-response: {exc}") from exc
            if event is h11.NEED_DATA:
                try:
                    data = await self.stream.receive_some(RECEIVE_SIZE)
                except trio.BrokenResourceError as exc:
                    if not received_any:
                        raise _StaleConnection(f"the connection broke: {exc.__cause__ or exc}") from exc
                    raise ConnectionLost(f"the connection broke mid-response: {exc.__cause__ or exc}") from exc
                received_any = received_any or bool(data)
                eof = not data
                self.h11.receive_data(data)
            elif isinstance(event, h11.Response):
                status, headers = event.status_code, list(event.headers)
            elif isinstance(event, h11.Data):
                size += len(event.data)
                if size > self.max_response_bytes:
                    raise ProtocolError(f"response larger than {self.max_response_bytes} bytes", status=status)
                chunks.append(bytes(event.data))
            elif isinstance(event, h11.EndOfMessage):
                return HttpResponse(status, headers, b"".join(chunks))
            elif isinstance(event, h11.ConnectionClosed):
                raise _StaleConnection("the server closed the connection without answering")
            # h11.InformationalResponse (1xx) needs nothing from us.


class HttpPool:
    """Up to ``max_connections`` keep-alive HTTP/1.1 connections to one endpoint; more callers wait in FIFO order.

    ``url`` is ``unix:/path/to.sock`` or ``http://host:port`` (any path in it is ignored: ``request`` names
    the target). ``connect_timeout`` bounds each connection attempt (``None``: as long as the OS waits); every
    other deadline belongs to the caller. ``max_response_bytes`` caps a response body (``ProtocolError`` past it).
    Owns no task; close it with ``aclose`` (or ``async with HttpPool(url) as pool:``).

    Errors are the transport's: ``ConnectFailed``, ``ConnectionLost``, ``ProtocolError``, ``ClientClosed``.
    Safe to cancel at any point: a connection whose exchange was interrupted is closed, never reused.
    """

    def __init__(
        self,
        url: str | Endpoint,
        *,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        connect_timeout: float | None = DEFAULT_CONNECT_TIMEOUT,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
    ) -> None:
        if max_connections < 1:
            raise ValueError("max_connections must be at least 1")
        self.endpoint = endpoint_from_url(url) if isinstance(url, str) else url
        self.max_connections = max_connections
        self.connect_timeout = connect_timeout
        self.max_response_bytes = max_response_bytes
        self._slots = trio.Semaphore(max_connections)
        self._idle: list[HttpConnection] = []
        self._open: set[HttpConnection] = set()
        self._closed = False
        self._opened = 0
        self._poisoned = 0

    def __repr__(self) -> str:
        return f"<HttpPool {self.endpoint}{' closed' if self._closed else ''}>"

    async def __aenter__(self) -> HttpPool:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    @property
    def closed(self) -> bool:
        return self._closed

    def statistics(self) -> PoolStatistics:
        return PoolStatistics(
            max_connections=self.max_connections,
            open=len(self._open),
            idle=len(self._idle),
            in_use=len(self._open) - len(self._idle),
            waiting=self._slots.statistics().tasks_waiting,
            opened=self._opened,
            poisoned=self._poisoned,
        )

    async def request(
        self,
        method: str,
        target: str,
        headers: Sequence[tuple[str, str]] = (),
        body: bytes = b"",
        *,
        retry_stale: bool | None = None,
    ) -> HttpResponse:
        """Send one request and read the whole answer, whatever its status; bytes untouched both ways.

        ``headers`` go as given, after a ``Host`` naming the endpoint unless they carry one; ``Content-Length``
        is added. ``retry_stale``: the request is safe to send twice, so if a *reused* connection turns out to
        have been closed by the server before it answered a single byte, send it once more on a fresh one
        (default: for ``GET`` and ``HEAD`` only).
        """
        if not any(name.lower() == "host" for name, _ in headers):
            headers = [("Host", self.endpoint.host_header), *headers]
        if retry_stale is None:
            retry_stale = method in ("GET", "HEAD")
        return await self.exchange(
            method.encode("ascii"), target, headers, body, retry_stale=retry_stale, parse=unchanged
        )

    async def exchange(
        self,
        method: bytes,
        target: str,
        headers: Sequence[tuple[str, str]],
        body: bytes,
        *,
        retry_stale: bool,
        parse: Callable[[HttpResponse], T],
    ) -> T:
        """One request/response on a pooled connection; returns ``parse(response)``.

        The lower tier of ``request``: ``headers`` go exactly as given (``Host`` included).
        ``parse`` runs before the connection goes back to the pool: if it raises ``ProtocolError`` (an answer
        that is not what was asked for, e.g. another call's id) the connection is out of step and closed;
        any other exception (the server's JSON-RPC error) leaves it clean.
        """
        if self._closed:
            raise ClientClosed("the client is closed")
        async with self._slots:
            for attempt in range(2):
                conn = self._take_idle()
                reused = conn is not None
                if conn is None:
                    conn = await self._open_connection()
                try:
                    # Nothing sent yet: a cancellation here leaves the connection clean, so it goes back.
                    await trio.lowlevel.checkpoint_if_cancelled()
                except BaseException:
                    self._put_back(conn)
                    raise
                try:
                    response = await conn.exchange(method, target, headers, body)
                except BaseException as exc:
                    # Poison and close: whatever happened, this connection's state is unknown.
                    self._discard(conn, poisoned=True)
                    if isinstance(exc, _StaleConnection) and reused and retry_stale and attempt == 0:
                        continue
                    translated = self._translate(exc)
                    if translated is exc:
                        raise
                    raise translated from exc
                try:
                    result = parse(response)
                except ProtocolError:
                    self._discard(conn, poisoned=True)
                    raise
                finally:
                    if conn in self._open:
                        self._check_in(conn)
                return result
        raise AssertionError("unreachable")  # pragma: no cover

    async def warm_up(self) -> None:
        """Make sure one connection is open and idle (``ConnectFailed`` if none can be made)."""
        if self._closed:
            raise ClientClosed("the client is closed")
        async with self._slots:
            conn = self._take_idle()
            if conn is None:
                conn = await self._open_connection()
            else:
                await trio.lowlevel.checkpoint()
            self._put_back(conn)

    def _translate(self, exc: BaseException) -> BaseException:
        if isinstance(exc, TransportError) or not isinstance(exc, Exception):
            return exc  # ours already, or Cancelled / KeyboardInterrupt: pass through untouched
        if isinstance(exc, trio.ClosedResourceError) or self._closed:
            return ClientClosed("the client was closed during the call")
        if isinstance(exc, (trio.BrokenResourceError, OSError)):
            return ConnectionLost(f"the connection broke: {exc}")
        return ProtocolError(f"unexpected failure talking to {self.endpoint}: {exc!r}")

    async def _open_connection(self) -> HttpConnection:
        stream = await self.endpoint.open_stream(self.connect_timeout)
        if self._closed:
            stream.socket.close()
            raise ClientClosed("the client was closed while connecting")
        conn = HttpConnection(stream)
        conn.max_response_bytes = self.max_response_bytes
        self._open.add(conn)
        self._opened += 1
        return conn

    def _take_idle(self) -> HttpConnection | None:
        while self._idle:
            conn = self._idle.pop()  # LIFO: the most recently used is the least likely to have gone stale
            if not conn.looks_hung_up():
                return conn
            self._discard(conn, poisoned=False)
        return None

    def _check_in(self, conn: HttpConnection) -> None:
        if conn.reusable():
            conn.h11.start_next_cycle()
            self._put_back(conn)
        else:
            self._discard(conn, poisoned=False)

    def _put_back(self, conn: HttpConnection) -> None:
        if self._closed:
            self._discard(conn, poisoned=False)
        else:
            self._idle.append(conn)

    def _discard(self, conn: HttpConnection, *, poisoned: bool) -> None:
        self._open.discard(conn)
        if poisoned:
            self._poisoned += 1
        conn.close_now()

    def close(self) -> None:
        """Close every connection now; calls in flight fail with ``ClientClosed``. Idempotent."""
        self._closed = True
        self._idle.clear()
        for conn in list(self._open):
            self._discard(conn, poisoned=False)

    async def aclose(self) -> None:
        """``close``, as a checkpoint."""
        self.close()
        await trio.lowlevel.checkpoint()


def unchanged(response: HttpResponse) -> HttpResponse:
    """The ``parse`` of a raw request: the response as it came."""
    return response
