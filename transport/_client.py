"""``Client``: JSON-RPC calls to one project server over keep-alive HTTP/1.1, plus its event stream.

Two tiers, as trio-websocket does it: ``Client(url)`` is the object (close it with ``aclose``), and
``async with connect(url) as client`` is the usual way in, which also proves the server is reachable
before the block starts. A ``Client`` owns no background task: calls are driven by the calling task
over a small connection pool (an ``HttpPool``, see ``_http11``), and an event stream owns its own nursery inside
``async with client.events()``.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from types import TracebackType
from typing import Any, Final, TypeVar

import outcome
import trio

from hero_assistance.core import PayloadTooLarge, RpcError, error_from_wire
from hero_assistance.core._methods import methods

from ._client_api import TypedNamespaces
from ._client_endpoint import parse_url
from ._errors import ClientClosed, ProtocolError
from ._http11 import DEFAULT_CONNECT_TIMEOUT as DEFAULT_CONNECT_TIMEOUT
from ._http11 import DEFAULT_MAX_CONNECTIONS as DEFAULT_MAX_CONNECTIONS
from ._http11 import HttpPool, HttpResponse, PoolStatistics, unchanged
from ._ws_events import EventStream, open_event_stream

#: Default for ``heartbeat_interval``: after this long with no event while the reader waits, ping the server.
DEFAULT_HEARTBEAT_INTERVAL: Final = 20.0

T = TypeVar("T")

_IDEMPOTENT: Final = frozenset(spec.name for spec in methods if spec.idempotent)


def _error(obj: Any) -> RpcError | ProtocolError:
    """The exception for a JSON-RPC error object; one without an integer code breaks the wire contract."""
    if not isinstance(obj, dict) or not isinstance(obj.get("code"), int) or isinstance(obj.get("code"), bool):
        return ProtocolError(f"malformed JSON-RPC error object: {str(obj)[:200]}")
    return error_from_wire(obj)


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


class Client(TypedNamespaces):
    """A connection to one project server.

    ``url`` is ``unix:/path/rpc.sock`` (events on ``events.sock`` beside it) or ``http://[addr]:port``
    (the TCP overlay; events at ``/events``); ``events_url`` overrides where events come from.
    ``as_user`` / ``as_device`` set ``X-Hero-User`` / ``X-Hero-Device`` (honoured on Unix sockets only; over
    TCP the server attests the peer address instead). ``connect_timeout`` bounds each connection attempt
    (``None``: wait as long as the OS does); it is the only timeout here, every other deadline belongs to
    the caller (``with trio.move_on_after(...)``). ``heartbeat_interval`` (``None``: off) is how long an event
    stream may stay silent before the client pings the server and, without an answer within the same
    interval, declares the connection lost.
    """

    def __init__(
        self,
        url: str,
        *,
        as_user: str | None = None,
        as_device: str | None = None,
        events_url: str | None = None,
        connect_timeout: float | None = DEFAULT_CONNECT_TIMEOUT,
        heartbeat_interval: float | None = DEFAULT_HEARTBEAT_INTERVAL,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
    ) -> None:
        self.url = url
        self.as_user = as_user
        self.as_device = as_device
        self.connect_timeout = connect_timeout
        self.heartbeat_interval = heartbeat_interval
        self._rpc, self._events = parse_url(url, events_url)
        if as_user is not None and as_device is not None:
            raise ValueError("give as_user or as_device, not both (the server refuses both headers at once)")
        for value in (as_user, as_device):
            if value is not None and (not value.strip() or any(c in value for c in "\r\n\0")):
                raise ValueError(f"identity {value!r} is empty or has a line break: it cannot be an HTTP header")
        self.identity_headers: list[tuple[str, str]] = []
        if as_user is not None:
            self.identity_headers.append(("X-Hero-User", as_user))
        if as_device is not None:
            self.identity_headers.append(("X-Hero-Device", as_device))
        self._rpc_headers = [
            ("Host", self._rpc.endpoint.host_header),
            ("Content-Type", "application/json"),
            ("Accept", "application/json"),
            *self.identity_headers,
        ]
        self._pool = HttpPool(self._rpc.endpoint, max_connections=max_connections, connect_timeout=connect_timeout)
        self._base_path = self._rpc.path.removesuffix("/rpc")
        self._ids = itertools.count(1)
        self._bind_namespaces(self)

    def __repr__(self) -> str:
        who = "".join(f" {h.lower()}={v!r}" for h, v in self.identity_headers)
        return f"<Client {self.url}{who}{' closed' if self._pool.closed else ''}>"

    # -- lifetime --------------------------------------------------------------------------------
    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close every pooled connection; calls still in flight fail with ``ClientClosed``. Idempotent."""
        self._pool.close()
        await trio.lowlevel.checkpoint()

    def _close_now(self) -> None:
        # For owners that must close from a ``finally`` without awaiting (``connect``, ``MultiProjectClient``).
        self._pool.close()

    @property
    def closed(self) -> bool:
        return self._pool.closed

    def statistics(self) -> PoolStatistics:
        """The connection pool: open, idle, in use, callers waiting, connections opened and poisoned so far."""
        return self._pool.statistics()

    # -- calls -----------------------------------------------------------------------------------
    async def call(self, method: str, /, **params: Any) -> Any:
        """Call ``method`` with named ``params``; the ``result`` as wire JSON.

        Raises the ``RpcError`` subclass of the answer's error code (``NotFound``, ``Forbidden``, …), or a
        ``TransportError`` (``ConnectFailed``, ``ConnectionLost``, ``ProtocolError``, ``ClientClosed``).
        Safe to cancel at any point: the connection it was using is closed, never reused.
        """
        ident = next(self._ids)
        body = _dumps({"jsonrpc": "2.0", "id": ident, "method": method, "params": params})

        def parse(response: HttpResponse) -> Any:
            return self._unwrap(self._decode(response), ident)

        return await self._post(body, retry_stale=method in _IDEMPOTENT, parse=parse)

    async def notify(self, method: str, /, **params: Any) -> None:
        """Send a JSON-RPC notification: no id, no answer (the server replies 204), errors not reported."""
        body = _dumps({"jsonrpc": "2.0", "method": method, "params": params})

        def parse(response: HttpResponse) -> None:
            if response.status != 204:
                self._decode(response)  # raises for statuses other than 200
                raise ProtocolError("the server answered a notification", status=response.status)

        await self._post(body, retry_stale=False, parse=parse)

    async def batch(self, calls: Iterable[tuple[str, Mapping[str, Any]]]) -> list[outcome.Outcome[Any]]:
        """Send several calls in one JSON-RPC batch; one ``outcome`` per call, in order.

        ``outcome.Value(result)`` for a success, ``outcome.Error(RpcError)`` for a failed call, so one bad
        entry does not hide the others (``[o.unwrap() for o in outcomes]`` raises the first error). A failure
        of the whole exchange (transport error, a batch the server refuses as a whole) raises instead.
        """
        requests: list[dict[str, Any]] = [
            {"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": dict(params)}
            for method, params in calls
        ]
        if not requests:
            await trio.lowlevel.checkpoint()
            return []
        idempotent = all(r["method"] in _IDEMPOTENT for r in requests)

        def parse(response: HttpResponse) -> list[outcome.Outcome[Any]]:
            reply = self._decode(response)
            if isinstance(reply, dict) and "error" in reply:
                raise _error(reply["error"])  # the batch itself was refused (too long, not parseable)
            if not isinstance(reply, list):
                raise ProtocolError("the answer to a batch is not a list")
            by_id = {item.get("id"): item for item in reply if isinstance(item, dict)}
            results: list[outcome.Outcome[Any]] = []
            for request in requests:
                item = by_id.get(request["id"])
                if item is None:
                    raise ProtocolError(f"the batch answer has no reply for {request['method']} (id {request['id']})")
                results.append(outcome.capture(self._unwrap, item, request["id"]))
            return results

        return await self._post(_dumps(requests), retry_stale=idempotent, parse=parse)

    async def forward(self, body: bytes, headers: Sequence[tuple[str, str]] = ()) -> HttpResponse:
        """POST ``body`` to the server's ``/rpc`` exactly as given and return its answer exactly as written.

        For proxies (the ui): a single call, a batch, a notification or garbage goes through untouched, and
        the response comes back whatever its status, undecoded. Sent with ``Content-Type``/``Accept:
        application/json``, this client's identity headers, then ``headers``. Raises ``TransportError``
        subclasses only (never for an HTTP status); never retried, since the body may change state.
        Safe to cancel at any point, as ``call`` is.
        """
        return await self._pool.exchange(
            b"POST", self._rpc.path, [*self._rpc_headers, *headers], body, retry_stale=False, parse=unchanged
        )

    async def get(self, path: str, headers: Sequence[tuple[str, str]] = ()) -> HttpResponse:
        """GET ``path`` (``/health``, ``/openrpc.json``, ``/attachments/ID``) from the server, answer untouched.

        ``path`` is below the server's base (the URL's path without ``/rpc``). Sent with this client's identity
        headers, then ``headers``; raises ``TransportError`` subclasses only, never for an HTTP status.
        """
        all_headers = [("Host", self._rpc.endpoint.host_header), *self.identity_headers, *headers]
        return await self._pool.exchange(
            b"GET", self._base_path + path, all_headers, b"", retry_stale=True, parse=unchanged
        )

    async def wait_reachable(self) -> None:
        """Open one pooled connection now (``ConnectFailed`` if the server cannot be reached)."""
        await self._pool.warm_up()

    async def _post(self, body: bytes, *, retry_stale: bool, parse: Callable[[HttpResponse], T]) -> T:
        return await self._pool.exchange(
            b"POST", self._rpc.path, self._rpc_headers, body, retry_stale=retry_stale, parse=parse
        )

    @staticmethod
    def _decode(response: HttpResponse) -> Any:
        if response.status == 413:
            raise PayloadTooLarge("request body too large for the server (HTTP 413)")
        if response.status != 200:
            snippet = response.body[:200].decode("utf-8", "replace")
            raise ProtocolError(f"HTTP {response.status} from /rpc: {snippet}", status=response.status)
        try:
            return json.loads(response.body)
        except ValueError:
            raise ProtocolError("the /rpc answer is not JSON", status=200) from None

    @staticmethod
    def _unwrap(reply: Any, ident: int) -> Any:
        if not isinstance(reply, dict):
            raise ProtocolError("the /rpc answer is not a JSON-RPC response object")
        if "error" in reply:
            raise _error(reply["error"])
        if reply.get("id") != ident or "result" not in reply:
            # Never hand a caller someone else's answer; poisoning makes this unreachable, but check anyway.
            raise ProtocolError(f"the answer carries id {reply.get('id')!r}, not {ident}")
        return reply["result"]

    # -- events ----------------------------------------------------------------------------------
    def events(self, since: int | None = None) -> AbstractAsyncContextManager[EventStream]:
        """Subscribe to the project's event stream (WIRE.md section 5).

        ``async with client.events(since=0) as events: async for event in events: ...`` — entering connects
        and waits for the ``subscribed`` frame (``ConnectFailed`` if it cannot); each event is a dict, starting
        with that ``{"type": "subscribed", "seq": LATEST}`` frame and, when ``since`` is older than the server
        retains, ``{"type": "resync_required", "seq": LATEST}``. ``events.last_seq`` is where to resume. A
        broken stream raises ``ConnectionLost`` from the iteration; leaving the block closes it cleanly.
        """
        if self._pool.closed:
            raise ClientClosed("the client is closed")
        return open_event_stream(
            self._events,
            since=since,
            headers=self.identity_headers,
            connect_timeout=self.connect_timeout,
            heartbeat_interval=self.heartbeat_interval,
        )


@asynccontextmanager
async def connect(
    url: str,
    *,
    as_user: str | None = None,
    as_device: str | None = None,
    events_url: str | None = None,
    connect_timeout: float | None = DEFAULT_CONNECT_TIMEOUT,
    heartbeat_interval: float | None = DEFAULT_HEARTBEAT_INTERVAL,
    max_connections: int = DEFAULT_MAX_CONNECTIONS,
) -> AsyncIterator[Client]:
    """A ``Client`` for the block, connected first (``ConnectFailed`` here if the server is unreachable).

    See ``Client`` for the arguments. Leaving the block closes every connection it opened.
    """
    client = Client(
        url,
        as_user=as_user,
        as_device=as_device,
        events_url=events_url,
        connect_timeout=connect_timeout,
        heartbeat_interval=heartbeat_interval,
        max_connections=max_connections,
    )
    try:
        await client.wait_reachable()
        yield client
    finally:
        client._close_now()
