"""``GET /events``: the event hub's subscriptions carried over WebSocket or Server-Sent Events.

The hub does the hard parts (replay then live with nothing missed or doubled, per-recipient
filtering, dropping a subscriber whose buffer fills). Here: the frames of the wire contract (docs/api.md), noticing
a peer that went away, heartbeats, and closing every stream cleanly when the server stops.

Heartbeats: on WebSocket, the server engine sends ping frames (``heartbeat_s``), so no JSON
frame type is invented; on SSE we write ``: ping`` comment lines. Either way a dead TCP peer then
has unacknowledged data in flight, which the listener's ``TCP_USER_TIMEOUT`` turns into an error.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Iterator
from contextlib import aclosing, contextmanager
from typing import Any
from urllib.parse import parse_qs

import attrs
import trio

from hero_assistance.core import Caller, IdentityChanged, Project, SubscriberTooSlow, Subscription

from ._http_server import ClientDisconnected

log = logging.getLogger("hero_assistance.events")

Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

#: WebSocket close codes: 1001 going away (server stopping), 1013 try again later (too slow).
CLOSE_GOING_AWAY = 1001
CLOSE_TRY_AGAIN = 1013
CLOSE_POLICY = 1008  # the subscriber's rights changed: its stream ends, a new one gets the new rights


def _dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"))  # the hub encodes events the same way


def parse_since(query_string: bytes, last_event_id: bytes | None) -> int | None:
    """The ``since`` to resume from: SSE's ``Last-Event-ID`` (the browser's own resume point) wins."""
    raw: str | None = None
    if last_event_id is not None and last_event_id.strip():
        raw = last_event_id.decode("ascii", "replace").strip()
    else:
        values = parse_qs(query_string.decode("ascii", "replace")).get("since")
        raw = values[-1] if values else None
    if raw is None:
        return None
    if not raw.isdigit() or len(raw) > 18:
        raise ValueError(f"since must be a non-negative integer event seq, not {raw[:40]!r}")
    return int(raw)


@attrs.define
class _Progress:
    """How a stream went, for its log line; "shutdown" unless something else ended it."""

    outcome: str = "shutdown"
    events: int = 0


@attrs.define
class StreamStatistics:
    open: int
    opened: int
    too_slow: int


class EventStreams:
    """The open event streams of one server: serves them, and closes them all on ``close_all``."""

    def __init__(self, project: Project, *, heartbeat_s: float) -> None:
        self.project = project
        self.heartbeat_s = heartbeat_s
        self.closing = False
        self._scopes: set[trio.CancelScope] = set()
        self._opened = 0
        self._too_slow = 0

    def close_all(self) -> None:
        """End every stream now (WebSocket close 1001, SSE end of body) and refuse new ones."""
        self.closing = True
        for scope in list(self._scopes):
            scope.cancel()

    def statistics(self) -> StreamStatistics:
        return StreamStatistics(open=len(self._scopes), opened=self._opened, too_slow=self._too_slow)

    @contextmanager
    def _tracked(self) -> Iterator[trio.CancelScope]:
        scope = trio.CancelScope()
        if self.closing:
            scope.cancel()
        self._scopes.add(scope)
        self._opened += 1
        try:
            with scope:
                yield scope
        finally:
            self._scopes.discard(scope)

    def _frames(self, sub: Subscription) -> list[str]:
        frames = [_dumps({"type": "subscribed", "project": self.project.name, "seq": sub.latest_seq})]
        if sub.resync:
            frames.append(_dumps({"type": "resync_required", "seq": sub.latest_seq}))
        return frames

    async def _pump(
        self, sub: Subscription, write: Callable[[list[tuple[Any, str]]], Awaitable[None]], progress: _Progress
    ) -> None:
        """Write every event of ``sub`` until the hub drops it (or we are cancelled).

        Events go out in batches (all that is waiting, one write): the writer then needs one turn of the
        scheduler per batch, not per event, so a prompt reader keeps up however busy the writers are."""
        try:
            # aclosing: a cancelled stream finalises the generator now, not whenever GC gets to it.
            async with aclosing(sub.batches()) as batches:
                async for batch in batches:
                    await write(batch)
                    progress.events += len(batch)
        except SubscriberTooSlow:
            self._too_slow += 1
            progress.outcome = "too_slow"
        except IdentityChanged:
            progress.outcome = "identity_changed"
        else:
            progress.outcome = "ended"

    # -- WebSocket -----------------------------------------------------------------------------
    async def serve_websocket(
        self,
        caller: Caller,
        since: int | None,
        receive: Receive,
        send: Send,
        *,
        send_many: bool = False,
        try_send: Callable[[str], bool] | None = None,
    ) -> tuple[str, int]:
        """One WebSocket stream; ``send_many`` when the server takes a batch of texts in one ``websocket.send``,
        ``try_send`` when it can write a text at once without blocking (the hub's direct fan-out path)."""
        if (await receive())["type"] != "websocket.connect":
            return "client_gone", 0
        if self.closing:
            await send({"type": "websocket.close", "code": CLOSE_GOING_AWAY})
            return "shutdown", 0
        actor = self.project.resolve(caller)
        gone = trio.Event()
        progress = _Progress()
        async with self.project.hub.subscribe(actor, since) as sub:
            await send({"type": "websocket.accept"})

            async def write(batch: list[tuple[Any, str]]) -> None:
                if send_many:
                    await send({"type": "websocket.send", "texts": [text for _event, text in batch]})
                    return
                for _event, text in batch:
                    await send({"type": "websocket.send", "text": text})

            with self._tracked(), _client_gone_sets(gone):
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(_watch_websocket, receive, gone, nursery.cancel_scope)
                    await write([(None, frame) for frame in self._frames(sub)])
                    if try_send is not None:
                        sub.write_directly(_counted(try_send, progress))
                    await self._pump(sub, write, progress)
                    nursery.cancel_scope.cancel()
        if gone.is_set():
            return "client_gone", progress.events
        # Only now, with no send of ours in flight, the closing frame.
        if progress.outcome == "too_slow":
            reason = "too slow: reconnect with since= the last seq you received"
            await send({"type": "websocket.close", "code": CLOSE_TRY_AGAIN, "reason": reason})
        elif progress.outcome == "identity_changed":
            reason = "identity changed: reconnect with since= the last seq you received"
            await send({"type": "websocket.close", "code": CLOSE_POLICY, "reason": reason})
        else:
            await send({"type": "websocket.close", "code": CLOSE_GOING_AWAY, "reason": "server stopping"})
        return progress.outcome, progress.events

    # -- Server-Sent Events ----------------------------------------------------------------------
    async def serve_sse(self, caller: Caller, since: int | None, receive: Receive, send: Send) -> tuple[str, int]:
        actor = self.project.resolve(caller)
        gone = trio.Event()
        progress = _Progress()
        lock = trio.Lock()  # the pump and the heartbeat share one response body

        async def write_chunk(chunk: bytes) -> None:
            async with lock:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})

        async def write(batch: list[tuple[Any, str]]) -> None:
            await write_chunk("".join(f"id: {event.seq}\ndata: {text}\n\n" for event, text in batch).encode())

        async with self.project.hub.subscribe(actor, since) as sub:
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [
                        (b"content-type", b"text/event-stream; charset=utf-8"),
                        (b"cache-control", b"no-cache"),
                        (b"x-accel-buffering", b"no"),  # tell buffering proxies to pass it on at once
                    ],
                }
            )
            with self._tracked(), _client_gone_sets(gone):
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(_watch_http, receive, gone, nursery.cancel_scope)
                    nursery.start_soon(self._sse_heartbeat, write_chunk)
                    # The SSE ``id:`` is where a reconnecting browser resumes. A fresh subscription
                    # (no since) and a resync both start "from now", so they carry the latest seq;
                    # a replay must not, or a drop mid-replay would skip the rest of it.
                    subscribed, *resync = self._frames(sub)
                    start_id = f"id: {sub.latest_seq}\n" if since is None else ""
                    await write_chunk(f"{start_id}data: {subscribed}\n\n".encode())
                    for frame in resync:
                        await write_chunk(f"id: {sub.latest_seq}\ndata: {frame}\n\n".encode())
                    await self._pump(sub, write, progress)
                    nursery.cancel_scope.cancel()
        if gone.is_set():
            return "client_gone", progress.events
        await send({"type": "http.response.body", "body": b"", "more_body": False})
        return progress.outcome, progress.events

    async def _sse_heartbeat(self, write_chunk: Callable[[bytes], Awaitable[None]]) -> None:
        while True:
            await trio.sleep(self.heartbeat_s)
            await write_chunk(b": ping\n\n")


def _counted(try_send: Callable[[str], bool], progress: _Progress) -> Callable[[str], bool]:
    def write(text: str) -> bool:
        if try_send(text):
            progress.events += 1
            return True
        return False

    return write


@contextmanager
def _client_gone_sets(gone: trio.Event) -> Iterator[None]:
    """A send that fails because the subscriber left ends its stream as ``client_gone``, not as an error.

    Sends happen inside the stream's nursery, so the failure arrives grouped: hence ``except*``."""
    try:
        yield
    except* (ClientDisconnected, trio.BrokenResourceError, trio.ClosedResourceError):
        gone.set()


async def _watch_websocket(receive: Receive, gone: trio.Event, scope: trio.CancelScope) -> None:
    """Wait for the peer to go; what it sends meanwhile is not part of the protocol and ignored."""
    while (await receive())["type"] != "websocket.disconnect":
        pass
    gone.set()
    scope.cancel()


async def _watch_http(receive: Receive, gone: trio.Event, scope: trio.CancelScope) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
    gone.set()
    scope.cancel()
