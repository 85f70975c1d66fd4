"""``MultiProjectClient``: many project servers merged into one inbox.

One nursery, owned by ``async with MultiProjectClient() as mpc``, holds one task per registered project.
Each task keeps its project's event stream open: connect, read, and on any failure wait a full-jitter
backoff and reconnect with ``since`` = the last seq it queued, so a restart of the server (or of the
connection) loses and duplicates nothing. Events go into the project's own bounded queue; the consumer
reads all queues through ``mpc.events()`` (see ``_multi_queue``). Projects never wait on one another: a
dead one sits in its backoff, a chatty one fills only its own queue.

The consumer sees, on the same channel as the events, each project's connection state as dicts::

    {"type": "connection", "project": ID, "state": "connecting", "attempt": N}
    {"type": "connection", "project": ID, "state": "connected", "latest_seq": LATEST, "since": SINCE}
    {"type": "connection", "project": ID, "state": "disconnected", "error": "ConnectionLost: …", "retry_in": S}

``attempt`` counts consecutive failures (0 on the first try after a success); ``retry_in`` is the backoff
before the next attempt (``None`` when the stream was dropped because the consumer fell behind: it resumes
as soon as the consumer catches up). The server's ``resync_required`` frame is passed through unchanged.
"""

from __future__ import annotations

import logging
import random as _random
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from types import TracebackType
from typing import Any, Literal, Protocol

import attrs
import trio

from ._client import DEFAULT_CONNECT_TIMEOUT, DEFAULT_HEARTBEAT_INTERVAL, Client
from ._client_nursery import open_quiet_nursery
from ._errors import ClientClosed, ConsumerTooSlow, ProtocolError, TransportError, UnknownProject
from ._multi_backoff import Backoff, SupportsRandom
from ._multi_queue import Event, MergedQueue, ProjectQueue

log = logging.getLogger("hero_assistance.client")

State = Literal["connecting", "connected", "disconnected", "paused"]


class EventSource(Protocol):
    """What a connector yields: the project's frames, ``subscribed`` first (``EventStream`` is one)."""

    async def receive(self) -> Event: ...


#: ``connector(project_id, since)`` opens a project's event stream; the default uses its ``Client``.
Connector = Callable[[str, int | None], AbstractAsyncContextManager[EventSource]]


@attrs.frozen
class ProjectStatistics:
    """One project as the ``MultiProjectClient`` sees it."""

    project_id: str
    url: str
    #: "paused": the stream was dropped because the consumer fell behind; it resumes once it catches up.
    state: State
    #: The last seq queued for the consumer: where the next connection resumes (``since``).
    last_seq: int | None
    #: The last seq the consumer has taken.
    delivered_seq: int | None
    #: Connection attempts after the first one.
    reconnects: int
    #: Events (and state changes) waiting for the consumer.
    queued: int
    #: How often the stream was dropped because the consumer fell behind.
    consumer_too_slow: int
    #: Events with a seq already passed, dropped rather than delivered twice.
    duplicates_dropped: int
    last_error: BaseException | None


class _Project:
    def __init__(self, project_id: str, client: Client, since: int | None, max_queued: int) -> None:
        self.project_id = project_id
        self.client = client
        self.last_seq = since
        self.queue = ProjectQueue(project_id, max_queued)
        self.scope = trio.CancelScope()
        self.done = trio.Event()
        self.state: State = "connecting"
        self.attempts = 0
        self.reconnects = 0
        self.too_slow = 0
        self.duplicates = 0
        self.last_error: BaseException | None = None

    def statistics(self) -> ProjectStatistics:
        return ProjectStatistics(
            project_id=self.project_id,
            url=self.client.url,
            state=self.state,
            last_seq=self.last_seq,
            delivered_seq=self.queue.delivered_seq,
            reconnects=self.reconnects,
            queued=len(self.queue),
            consumer_too_slow=self.too_slow,
            duplicates_dropped=self.duplicates,
            last_error=self.last_error,
        )


class MergedEvents:
    """The consumer's side: ``async for project_id, event in merged``; ends when the client closes."""

    def __init__(self, queue: MergedQueue) -> None:
        self._queue = queue

    def __aiter__(self) -> MergedEvents:
        return self

    async def __anext__(self) -> tuple[str, Event]:
        try:
            return await self._queue.get()
        except trio.EndOfChannel:
            raise StopAsyncIteration from None

    async def receive(self) -> tuple[str, Event]:
        """The next ``(project_id, event)``; ``trio.EndOfChannel`` once the client has closed."""
        return await self._queue.get()


class MultiProjectClient:
    """Clients for many project servers, their event streams merged into one channel.

    ``max_queued`` bounds each project's queue of undelivered events; ``backoff`` and ``random`` shape the
    reconnect delays; ``connector`` replaces how event streams are opened (tests use it for fake servers).
    ``connect_timeout`` and ``heartbeat_interval`` are passed to every project's ``Client``.
    """

    def __init__(
        self,
        *,
        max_queued: int = 1024,
        backoff: Backoff | None = None,
        random: SupportsRandom | None = None,
        connector: Connector | None = None,
        connect_timeout: float | None = DEFAULT_CONNECT_TIMEOUT,
        heartbeat_interval: float | None = DEFAULT_HEARTBEAT_INTERVAL,
    ) -> None:
        if max_queued < 2:
            raise ValueError("max_queued must be at least 2")
        self.max_queued = max_queued
        self.backoff = backoff or Backoff()
        self._random: SupportsRandom = random or _random.Random()
        self._connector: Connector = connector or self._open_events
        self.connect_timeout = connect_timeout
        self.heartbeat_interval = heartbeat_interval
        self._projects: dict[str, _Project] = {}
        self._merged = MergedQueue()
        self._nursery: trio.Nursery | None = None
        self._consuming = False
        self._lifetime_cm: AbstractAsyncContextManager[MultiProjectClient] | None = None

    # -- lifetime --------------------------------------------------------------------------------
    async def __aenter__(self) -> MultiProjectClient:
        if self._lifetime_cm is not None:
            raise RuntimeError("a MultiProjectClient can be entered only once")
        self._lifetime_cm = self._lifetime()
        return await self._lifetime_cm.__aenter__()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool | None:
        assert self._lifetime_cm is not None
        return await self._lifetime_cm.__aexit__(exc_type, exc, tb)

    @asynccontextmanager
    async def _lifetime(self) -> AsyncIterator[MultiProjectClient]:
        try:
            async with open_quiet_nursery() as nursery:
                self._nursery = nursery
                try:
                    yield self
                finally:
                    self._nursery = None
                    nursery.cancel_scope.cancel()
        finally:
            self._merged.close()
            for project in self._projects.values():
                project.client._close_now()
            self._projects.clear()

    def _running(self) -> trio.Nursery:
        if self._nursery is None:
            raise ClientClosed("the MultiProjectClient is not running (use it inside `async with`)")
        return self._nursery

    # -- projects --------------------------------------------------------------------------------
    async def register(
        self,
        project_id: str,
        url: str,
        *,
        as_user: str | None = None,
        as_device: str | None = None,
        events_url: str | None = None,
        since: int | None = None,
    ) -> Client:
        """Add a project and start following its events (from ``since``; ``None``: from now on).

        Returns at once with the project's ``Client`` (also ``mpc.client(project_id)``); connecting happens
        in the background and shows up as connection-state events. ``ValueError`` for an id already
        registered or a malformed URL.
        """
        nursery = self._running()
        if project_id in self._projects:
            raise ValueError(f"project {project_id!r} is already registered")
        client = Client(
            url,
            as_user=as_user,
            as_device=as_device,
            events_url=events_url,
            connect_timeout=self.connect_timeout,
            heartbeat_interval=self.heartbeat_interval,
        )
        project = _Project(project_id, client, since, self.max_queued)
        self._projects[project_id] = project
        await nursery.start(self._follow, project)
        return client

    async def unregister(self, project_id: str) -> None:
        """Stop following a project, close its connections and drop its undelivered events."""
        project = self._project(project_id)
        del self._projects[project_id]
        project.queue.removed = True
        project.queue.items.clear()
        project.scope.cancel()
        await project.done.wait()
        await project.client.aclose()

    def client(self, project_id: str) -> Client:
        """The ``Client`` of a registered project (for typed calls: ``mpc.client("acme").tickets.get(1)``)."""
        return self._project(project_id).client

    async def call(self, project_id: str, method: str, /, **params: Any) -> Any:
        """``Client.call`` on the project's client."""
        return await self._project(project_id).client.call(method, **params)

    def projects(self) -> list[str]:
        return list(self._projects)

    def statistics(self) -> dict[str, ProjectStatistics]:
        """Per project: state, last seq queued and delivered, reconnects, queue depth, last error."""
        return {pid: p.statistics() for pid, p in self._projects.items()}

    def _project(self, project_id: str) -> _Project:
        try:
            return self._projects[project_id]
        except KeyError:
            raise UnknownProject(project_id) from None

    # -- the merged channel ------------------------------------------------------------------------
    @asynccontextmanager
    async def events(self) -> AsyncIterator[MergedEvents]:
        """The merged channel of ``(project_id, event)``; one consumer at a time.

        Events that arrive while nobody consumes wait in the per-project queues (bounded: see the class
        docstring), so leaving and re-entering ``events()`` continues where the last consumer stopped.
        """
        self._running()
        if self._consuming:
            raise trio.BusyResourceError("another task is already consuming this MultiProjectClient's events")
        self._consuming = True
        try:
            yield MergedEvents(self._merged)
        finally:
            self._consuming = False

    # -- following one project ---------------------------------------------------------------------
    def _open_events(self, project_id: str, since: int | None) -> AbstractAsyncContextManager[EventSource]:
        return self._projects[project_id].client.events(since=since)

    def _state(self, project: _Project, state: State, **details: Any) -> None:
        project.state = state
        event: Event = {"type": "connection", "project": project.project_id, "state": state, **details}
        self._merged.put_state(project.queue, event)

    async def _follow(
        self, project: _Project, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        try:
            with project.scope:
                task_status.started()
                await self._reconnect_forever(project)
        finally:
            project.done.set()

    async def _reconnect_forever(self, project: _Project) -> None:
        first = True
        while True:
            if not first:
                project.reconnects += 1
            first = False
            self._state(project, "connecting", attempt=project.attempts)
            try:
                async with self._connector(project.project_id, project.last_seq) as source:
                    await self._pump(project, source)
            except ConsumerTooSlow as exc:
                project.too_slow += 1
                project.last_error = exc
                self._state(project, "disconnected", error=_describe(exc), retry_in=None)
                project.state = "paused"
                await project.queue.wait_drained()
                continue
            except Exception as exc:
                # Transport errors are the expected kind; anything else is logged as a bug but still only
                # costs this project a reconnect, never the whole client.
                if not isinstance(exc, TransportError):
                    log.exception("event stream of %s failed unexpectedly", project.project_id)
                project.last_error = exc
                delay = self.backoff.delay(project.attempts, self._random)
                project.attempts += 1
                self._state(project, "disconnected", error=_describe(exc), retry_in=delay)
                await trio.sleep(delay)

    async def _pump(self, project: _Project, source: EventSource) -> None:
        first = await source.receive()
        if first.get("type") != "subscribed" or not isinstance(first.get("seq"), int):
            raise ProtocolError(f"the event stream's first frame is {first.get('type')!r}, not 'subscribed'")
        since = project.last_seq
        if project.last_seq is None:
            project.last_seq = first["seq"]
        project.attempts = 0
        # "latest_seq", not "seq": only real events carry a seq, so consumers can key on it safely.
        self._state(project, "connected", latest_seq=first["seq"], since=since)
        queue = project.queue
        put = self._merged.put
        while True:
            event = await source.receive()
            seq = event.get("seq")
            if event.get("type") == "resync_required":
                project.last_seq = seq if isinstance(seq, int) else project.last_seq
            elif isinstance(seq, int):
                last = project.last_seq
                if last is not None and seq <= last:
                    project.duplicates += 1  # already queued once: a server replaying too much
                    continue
                project.last_seq = seq
            put(queue, event)
            if queue.full:
                raise ConsumerTooSlow(
                    f"{len(queue)} events of {project.project_id} wait for the consumer; "
                    f"the stream resumes from seq {project.last_seq} once it catches up"
                )


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"
