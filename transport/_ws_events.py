"""The client side of ``GET /events`` (the wire contract (docs/api.md)): a WebSocket over a Unix socket or TCP.

trio-websocket speaks WebSocket over any trio stream, so the byte stream is ours (``trio.open_unix_socket``
for ``events.sock``, ``trio.open_tcp_stream`` for the overlay) and ``wrap_client_stream`` does the rest. Two
of its habits need care:

- A refused handshake (HTTP 4xx/5xx instead of ``101``) raises *inside its reader task*, which it starts in
  the nursery we pass, while ``wrap_client_stream`` itself keeps waiting for a handshake that will never
  come. So the reader runs under a guard (``_ReaderGuard``) that records its error instead of blowing up our
  nursery and cancels the handshake wait; the caller then gets one ``ConnectFailed`` carrying the cause.
- Its reader stops reading the socket while its message queue is full, so pongs go unseen while the consumer
  is busy. The heartbeat therefore only pings while the consumer is actually waiting for the next event.
"""

from __future__ import annotations

import json
import math
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any, Final, cast

import trio
import trio_websocket

from ._client_endpoint import Target
from ._client_nursery import open_quiet_nursery
from ._errors import ConnectFailed, ConnectionLost, ProtocolError, TransportError

#: How long a normal close may wait for the server's closing frame before the socket is just closed.
CLOSE_GRACE: Final = 2.0
#: Frames buffered by trio-websocket between its reader and our consumer (its default of 1 costs a task
#: switch per frame; 64 lets a burst flow without one).
MESSAGE_QUEUE: Final = 64
RECEIVE_BUFFER: Final = 65536
#: The largest event frame accepted: an event carries at most a ticket or comment (bodies up to 64 KiB).
MAX_FRAME: Final = 1024 * 1024

Event = dict[str, Any]


class _ReaderGuard:
    """Stands in for a nursery in ``wrap_client_stream``: runs its reader task under ``EventStream``'s guard."""

    def __init__(self, nursery: trio.Nursery, stream: EventStream) -> None:
        self._nursery = nursery
        self._stream = stream

    def start_soon(self, fn: Callable[..., Awaitable[object]], *args: object, name: object = None) -> None:
        self._nursery.start_soon(self._stream._run_reader, fn, *args)


class EventStream:
    """One subscription: ``async for event in stream`` yields event dicts in ``seq`` order.

    The first event is the server's ``{"type": "subscribed", "project": NAME, "seq": LATEST}``; a
    ``{"type": "resync_required", "seq": LATEST}`` follows it when ``since`` was older than the server keeps
    (refetch state, then carry on). ``subscribed_seq`` is the latest seq at subscription, ``last_seq`` the seq
    to resume from with ``client.events(since=stream.last_seq)``. A broken or closed-by-server stream raises
    ``ConnectionLost`` (``ProtocolError`` for a frame that is not a JSON object); it never just ends.
    """

    def __init__(self, target: Target, since: int | None) -> None:
        self.target = target
        self.since = since
        self.project: str | None = None
        self.subscribed_seq: int | None = None
        self.last_seq: int | None = since
        self.received = 0
        self._ws: trio_websocket.WebSocketConnection | None = None
        self._socket: trio.SocketStream | None = None
        self._pending: deque[Event] = deque()
        self._reader_error: BaseException | None = None
        self._handshake_scope: trio.CancelScope | None = None
        self._closing_scope: trio.CancelScope | None = None
        self._reader_done = False
        self._waiting = False
        self._last_activity = 0.0
        self._lost_reason: str | None = None

    def __repr__(self) -> str:
        return f"<EventStream {self.target} last_seq={self.last_seq}>"

    def __aiter__(self) -> EventStream:
        return self

    async def __anext__(self) -> Event:
        return await self.receive()

    async def receive(self) -> Event:
        """The next event (waits for it); ``ConnectionLost`` when the stream breaks."""
        if self._pending:
            await trio.lowlevel.checkpoint()
            return self._pending.popleft()
        ws = self._ws
        assert ws is not None, "the stream is not open"
        self._waiting = True
        try:
            message = await ws.get_message()
        except trio_websocket.ConnectionClosed as exc:
            raise self._lost(exc) from self._reader_error
        finally:
            self._waiting = False
        self._last_activity = trio.current_time()
        return self._note(_parse(message))

    def _note(self, event: Event) -> Event:
        self.received += 1
        kind = event.get("type")
        seq = event.get("seq")
        if isinstance(seq, int) and not isinstance(seq, bool):
            if kind == "subscribed":
                self.subscribed_seq = seq
                self.project = event.get("project")
                if self.last_seq is None:
                    self.last_seq = seq  # no since: the stream starts live, right after LATEST
            else:
                # An event, or resync_required (whose seq is where the live stream continues from).
                self.last_seq = seq
        return event

    def _lost(self, exc: trio_websocket.ConnectionClosed) -> ConnectionLost:
        if self._lost_reason is not None:
            return ConnectionLost(self._lost_reason)
        reason = exc.reason
        if reason is None or reason.code == 1006:  # 1006: the socket closed without a closing frame
            return ConnectionLost(f"the event stream from {self.target} broke (no closing frame)")
        detail = f" ({reason.reason})" if reason.reason else ""
        return ConnectionLost(f"the server closed the event stream: {reason.code} {reason.name}{detail}")

    # -- opening and closing -----------------------------------------------------------------------
    async def _run_reader(self, fn: Callable[..., Awaitable[object]], *args: object) -> None:
        try:
            await fn(*args)
        except Exception as exc:
            # Recorded, not raised: the consumer sees it as the cause of ConnectFailed / ConnectionLost.
            self._reader_error = exc
        finally:
            # Whoever waits on the reader's progress must stop waiting now that it is gone: the handshake
            # (refused or cut off), or a graceful close (the reader can also die mid-close: trio-websocket
            # 0.12 answers a server ping that crosses our closing frame with a Pong wsproto refuses to send in
            # LOCAL_CLOSING, and its aclose() would then wait for a closing handshake that never comes).
            self._reader_done = True
            for scope in (self._handshake_scope, self._closing_scope):
                if scope is not None:
                    scope.cancel()

    async def _open(
        self,
        nursery: trio.Nursery,
        headers: Sequence[tuple[str, str]],
        connect_timeout: float | None,
    ) -> None:
        resource = self.target.path if self.since is None else f"{self.target.path}?since={self.since}"
        extra = [(k.encode(), v.encode()) for k, v in headers]
        with trio.move_on_after(math.inf if connect_timeout is None else connect_timeout) as deadline:
            self._socket = await self.target.endpoint.open_stream(None)
            with trio.CancelScope() as handshake:
                self._handshake_scope = handshake
                self._ws = await trio_websocket.wrap_client_stream(
                    cast(trio.Nursery, _ReaderGuard(nursery, self)),
                    self._socket,
                    self.target.endpoint.host_header,
                    resource,
                    extra_headers=extra,
                    message_queue_size=MESSAGE_QUEUE,
                    max_message_size=MAX_FRAME,
                    receive_buffer_size=RECEIVE_BUFFER,
                )
            self._handshake_scope = None
            if self._ws is None:
                raise self._refused()
            try:
                first = await self.receive()
            except TransportError as exc:
                raise ConnectFailed(f"the event stream at {self.target} closed before subscribing: {exc}") from exc
            if first.get("type") != "subscribed":
                raise ProtocolError(f"the event stream's first frame is {first.get('type')!r}, not 'subscribed'")
            self._pending.append(first)
        if deadline.cancelled_caught:
            raise ConnectFailed(f"no event stream from {self.target} within {connect_timeout} s")

    def _refused(self) -> ConnectFailed:
        err = self._reader_error
        if isinstance(err, trio_websocket.ConnectionRejected):
            body = (err.body or b"")[:200].decode("utf-8", "replace")
            return ConnectFailed(f"the server refused the event stream at {self.target}: HTTP {err.status_code} {body}")
        return ConnectFailed(f"the WebSocket handshake with {self.target} failed: {err or 'connection closed'}")

    def _abort(self) -> None:
        """Close the socket now; the reader notices and the consumer gets ``ConnectionLost``."""
        if self._socket is not None:
            self._socket.socket.close()

    async def _close_gracefully(self) -> None:
        try:
            if self._ws is not None and self._ws.closed is None and not self._reader_done:
                with trio.move_on_after(CLOSE_GRACE) as self._closing_scope:
                    await self._ws.aclose()
        finally:
            self._closing_scope = None
            self._abort()

    async def _heartbeat(self, interval: float) -> None:
        """Ping a stream that has been silent for ``interval`` while the consumer waits; no pong: lost."""
        ws = self._ws
        assert ws is not None
        while True:
            await trio.sleep_until(self._last_activity + interval)
            if trio.current_time() < self._last_activity + interval:
                continue  # an event arrived meanwhile
            if not self._waiting:
                # The consumer is busy elsewhere: the silence is ours, not the server's. Look again later.
                self._last_activity = trio.current_time()
                continue
            with trio.move_on_after(interval) as scope:
                try:
                    await ws.ping()
                except trio_websocket.ConnectionClosed:
                    return  # the consumer is told by get_message
            if scope.cancelled_caught:
                self._lost_reason = f"the event stream from {self.target} did not answer a ping for {interval} s"
                self._abort()
                return
            self._last_activity = trio.current_time()


def _parse(message: str | bytes) -> Event:
    try:
        event = json.loads(message)
    except ValueError:
        raise ProtocolError("an event frame is not JSON") from None
    if not isinstance(event, dict):
        raise ProtocolError("an event frame is not a JSON object")
    return event


@asynccontextmanager
async def open_event_stream(
    target: Target,
    *,
    since: int | None,
    headers: Sequence[tuple[str, str]],
    connect_timeout: float | None,
    heartbeat_interval: float | None,
) -> AsyncIterator[EventStream]:
    """Connect, wait for the ``subscribed`` frame, yield the stream; close it however the block ends."""
    stream = EventStream(target, since)
    async with open_quiet_nursery() as nursery:
        try:
            await stream._open(nursery, headers, connect_timeout)
            stream._last_activity = trio.current_time()
            if heartbeat_interval is not None:
                nursery.start_soon(stream._heartbeat, heartbeat_interval)
            yield stream
        except BaseException:
            # Cancelled, failed, or the block raised: no goodbye, just close the socket.
            stream._abort()
            raise
        else:
            await stream._close_gracefully()
        finally:
            nursery.cancel_scope.cancel()
