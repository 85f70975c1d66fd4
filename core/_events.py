"""The event hub: events are rows written in the same transaction as their cause, then fanned out.

Each event row carries the facts its delivery depends on (the ticket's members when it was
written, whether it concerns an internal note, whose presence it describes). Live fan-out and
replay from the table both hand those facts to ``permits``, so a subscriber receives exactly what
it could read. Each subscriber has a bounded buffer; one that falls behind is dropped (it resumes
with ``since``) rather than buffered without limit.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator
from contextlib import aclosing, asynccontextmanager, contextmanager
from datetime import datetime
from typing import Any

import attrs
import trio

from ._errors import HeroAssistanceError, Unavailable
from ._identity import Actor, Role
from ._permissions import Scope, permits
from ._records import format_time
from ._storage import Storage

log = logging.getLogger(__name__)

REPLAY_PAGE = 500
#: Events whose data carries a Ticket record (or its changes): tags are cut for those who may not see triage.
TRIAGE_EVENTS = frozenset({"ticket.created", "ticket.updated", "ticket.archived", "ticket.unarchived"})
#: The most events a subscriber's writer takes at once (one write of their frames).
BATCH = 256


class SubscriberDropped(HeroAssistanceError):
    """The hub ended this subscription; the subscriber should reconnect and resume with ``since``."""


class SubscriberTooSlow(SubscriberDropped):
    """The subscriber's buffer filled up; it was dropped and should resume with ``since``."""


class IdentityChanged(SubscriberDropped):
    """The subscriber's identity or rights changed (device unbound or rebound, user disabled or
    re-roled): its stream was filtered with the old rights, so it is ended; a new subscription is
    filtered with the new ones."""


@attrs.frozen
class StoredEvent:
    seq: int
    type: str
    ticket_id: int | None
    actor_id: int | None
    ts: str
    data_json: str  # the ``data`` member exactly as stored: replay sends it on without parsing it
    internal: bool = False
    subject_user_id: int | None = None
    members: frozenset[int] = frozenset()
    subject_role: Role | None = None

    @property
    def data(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.data_json)
        return parsed

    def wire(self, project: str) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "type": self.type,
            "project": project,
            "ts": self.ts,
            "ticket_id": self.ticket_id,
            "actor_id": self.actor_id,
            "data": self.data,
        }

    def encode(self, project_json: str, *, triage: bool = True) -> str:
        """The wire JSON, assembled from stored text (replaying an event costs no parse and no dump).

        Without ``triage`` (a recipient who may not see the agents' triage), a ticket's tags and tag
        changes are cut from the data, as they are from the Ticket records that recipient reads.
        """
        data_json = self.data_json if triage or self.type not in TRIAGE_EVENTS else _without_triage(self.data_json)
        return (
            f'{{"seq":{self.seq},"type":{json.dumps(self.type)},"project":{project_json},"ts":"{self.ts}",'
            f'"ticket_id":{_json_int(self.ticket_id)},"actor_id":{_json_int(self.actor_id)},"data":{data_json}}}'
        )

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> StoredEvent:
        audience = json.loads(row["audience"]) if row["audience"] else {}
        return cls(
            seq=row["seq"],
            type=row["type"],
            ticket_id=row["ticket_id"],
            actor_id=row["actor_id"],
            ts=row["ts"],
            data_json=row["data"],
            internal=bool(row["internal"]),
            subject_user_id=row["subject_user_id"],
            members=frozenset(audience.get("members", ())),
            subject_role=audience.get("subject_role"),
        )


def _without_triage(data_json: str) -> str:
    data = json.loads(data_json)
    for key in ("ticket", "changes"):
        if isinstance(data.get(key), dict):
            data[key].pop("tags", None)
    return json.dumps(data, separators=(",", ":"))


def sees_triage(actor: Actor, event: StoredEvent) -> bool:
    """Whether ``actor`` receives ``event`` whole: with the ticket's tags and tag changes."""
    return event.type not in TRIAGE_EVENTS or permits(actor, "ticket.read_triage")


def _json_int(value: int | None) -> str:
    return "null" if value is None else str(int(value))


def may_receive(actor: Actor, event: StoredEvent) -> bool:
    """Whether ``actor`` may receive ``event``: the same rules as reading what it describes."""
    scope = Scope(
        members=event.members,
        internal=event.internal,
        subject_id=event.subject_user_id,
        subject_role=event.subject_role,
    )
    if event.type.startswith("presence."):
        if not permits(actor, "presence.read", scope):
            return False
        return event.ticket_id is None or permits(actor, "ticket.read", scope)
    if event.ticket_id is None:
        return False
    if event.type.startswith("member.") and event.subject_user_id == actor.user_id is not None:
        return True  # a member learns that they were added or removed
    return permits(actor, "comment.read" if event.internal else "ticket.read", scope)


@attrs.define(eq=False)
class _Subscriber:
    actor: Actor
    send: trio.MemorySendChannel[tuple[StoredEvent, str]]
    dropped: type[SubscriberDropped] | None = None
    #: ``write(text) -> bool``: writes an event's text to the subscriber now, without blocking (see
    #: ``Subscription.write_directly``).
    direct: Callable[[str], bool] | None = None


@attrs.define(eq=False)
class HubStatistics:
    subscribers: int
    latest_seq: int
    published: int
    dropped: int


class Subscription:
    """What ``EventHub.subscribe`` yields: ``latest_seq``, ``resync``, and the events to iterate."""

    def __init__(
        self,
        hub: EventHub,
        subscriber: _Subscriber,
        receive: trio.MemoryReceiveChannel[tuple[StoredEvent, str]],
        since: int | None,
        latest_seq: int,
        resync: bool,
    ) -> None:
        self._hub = hub
        self._subscriber = subscriber
        self._receive = receive
        self._since = since
        self.latest_seq = latest_seq
        self.resync = resync

    async def events(self) -> AsyncGenerator[tuple[StoredEvent, str], None]:
        """Stored events after ``since`` the actor may see, then live ones: ``(event, json)`` pairs."""
        async with aclosing(self.batches()) as batches:
            async for batch in batches:
                for item in batch:
                    yield item

    def write_directly(self, write: Callable[[str], bool]) -> None:
        """Let the hub deliver live events by calling ``write(text)`` itself, when it can.

        The hub calls it only while this subscription's reader is waiting with no event queued, so
        order is kept; ``write`` must not block and returns ``False`` when it cannot take the text whole
        now (the event is then queued for the reader as usual). Events written this way do not pass
        through ``events``/``batches``.
        """
        self._subscriber.direct = write

    async def batches(self, limit: int = BATCH) -> AsyncGenerator[list[tuple[StoredEvent, str]], None]:
        """What ``events`` yields, in lists of up to ``limit``: everything that is waiting at once.

        A subscriber's writer takes one turn of the scheduler per batch rather than per event, so a
        prompt reader keeps up however many writers the server has: when writers get ahead, the next
        batch is simply longer (the wire contract (docs/api.md), prompt readers are never dropped).
        """
        last = self.latest_seq
        if self._since is not None and not self.resync:
            after = self._since
            while after < self.latest_seq:
                page = self._hub._replay_page(after, self.latest_seq)
                if not page:
                    break
                after = page[-1].seq
                actor = self._subscriber.actor
                batch = [
                    (event, self._hub.encode(event, triage=sees_triage(actor, event)))
                    for event in page
                    if may_receive(actor, event)
                ]
                for start in range(0, len(batch), limit):
                    yield batch[start : start + limit]
                await trio.lowlevel.checkpoint()
        while True:
            try:
                batch = [await self._receive.receive()]
            except trio.EndOfChannel:
                break
            while len(batch) < limit:
                try:
                    batch.append(self._receive.receive_nowait())
                except (trio.WouldBlock, trio.EndOfChannel):
                    break
            fresh = [item for item in batch if item[0].seq > last]
            if fresh:
                last = fresh[-1][0].seq
                yield fresh
        if self._subscriber.dropped is SubscriberTooSlow:
            raise SubscriberTooSlow(f"subscriber fell behind at seq {last}; resume with since={last}")
        if self._subscriber.dropped is not None:
            raise self._subscriber.dropped(f"identity changed at seq {last}; reconnect with since={last}")


class EventHub:
    """Records events inside write transactions and fans them out after commit."""

    def __init__(self, storage: Storage, project: str, *, buffer: int = 1024, retention: int = 100_000) -> None:
        self.storage = storage
        self.project = project
        self._project_json = json.dumps(project)
        self.buffer = buffer
        self.retention = retention
        self._subscribers: set[_Subscriber] = set()
        self._pending: list[StoredEvent] | None = None
        self._published = 0
        self._dropped = 0
        self.latest_seq = int(storage.scalar("SELECT coalesce(max(seq), 0) FROM events") or 0)
        if not self.latest_seq:
            self.latest_seq = int(storage.scalar("SELECT seq FROM sqlite_sequence WHERE name='events'") or 0)

    # -- writing ----------------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[None]:
        """A write transaction whose recorded events are published once it has committed."""
        pending: list[StoredEvent] = []
        with self.storage.write():
            self._pending = pending
            try:
                yield
            finally:
                self._pending = None
        if pending:
            self.latest_seq = pending[-1].seq
            self._fan_out(pending)
            if pending[-1].seq % 1000 < len(pending):
                try:
                    self._prune()
                except Unavailable as exc:
                    # The write itself committed; pruning waits for the next thousand events.
                    log.warning("event pruning skipped: %s", exc.message)

    def record(
        self,
        type: str,
        *,
        ts: datetime,
        ticket_id: int | None,
        actor_id: int | None,
        data: dict[str, Any],
        internal: bool = False,
        subject_user_id: int | None = None,
        members: frozenset[int] | set[int] = frozenset(),
        subject_role: Role | None = None,
    ) -> StoredEvent:
        if self._pending is None:
            raise RuntimeError("events are recorded inside EventHub.transaction()")
        audience: dict[str, Any] = {}
        if members:
            audience["members"] = sorted(members)
        if subject_role:
            audience["subject_role"] = subject_role
        stamp = format_time(ts)
        data_json = json.dumps(data, separators=(",", ":"))
        seq = self.storage.insert(
            "events",
            {
                "type": type,
                "ticket_id": ticket_id,
                "actor_id": actor_id,
                "ts": stamp,
                "data": data_json,
                "internal": int(internal),
                "subject_user_id": subject_user_id,
                "audience": json.dumps(audience) if audience else None,
            },
        )
        event = StoredEvent(
            seq=seq,
            type=type,
            ticket_id=ticket_id,
            actor_id=actor_id,
            ts=stamp,
            data_json=data_json,
            internal=internal,
            subject_user_id=subject_user_id,
            members=frozenset(members),
            subject_role=subject_role,
        )
        self._pending.append(event)
        return event

    def encode(self, event: StoredEvent, *, triage: bool = True) -> str:
        return event.encode(self._project_json, triage=triage)

    def _fan_out(self, events: list[StoredEvent]) -> None:
        for event in events:
            self._published += 1
            texts: dict[bool, str] = {}  # by whether the recipient sees triage: at most two encodings
            for sub in list(self._subscribers):
                if sub.dropped is not None or not may_receive(sub.actor, event):
                    continue
                triage = sees_triage(sub.actor, event)
                text = texts.get(triage)
                if text is None:
                    text = texts[triage] = self.encode(event, triage=triage)  # once, shared by its recipients
                if sub.direct is not None:
                    # Its reader waits with nothing queued: nothing can overtake this event, so the
                    # transport may write it at once rather than wake the reader's task for it.
                    queue = sub.send.statistics()
                    if not queue.current_buffer_used and queue.tasks_waiting_receive and sub.direct(text):
                        continue
                try:
                    sub.send.send_nowait((event, text))
                except trio.WouldBlock:
                    self._drop(sub)
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    self._subscribers.discard(sub)

    def _drop(self, sub: _Subscriber, reason: type[SubscriberDropped] = SubscriberTooSlow) -> None:
        sub.dropped = reason
        self._dropped += 1
        self._subscribers.discard(sub)
        sub.send.close()
        if reason is SubscriberTooSlow:
            log.warning("dropped a subscriber that fell %d events behind", self.buffer)

    def revoke(self, *, user_id: int | None = None, device: str | None = None) -> int:
        """End the streams of a user or a device whose rights just changed; returns how many.

        A stream is filtered with the rights its subscriber had when it subscribed; after an unbind, a
        rebind, a disabled account or a new role those rights are stale, so the stream must end (its
        events so far stay valid: they were sent when they were allowed).
        """
        ended = 0
        for sub in list(self._subscribers):
            if (user_id is not None and sub.actor.user_id == user_id) or (
                device is not None and sub.actor.device == device
            ):
                self._drop(sub, IdentityChanged)
                ended += 1
        return ended

    def _prune(self) -> None:
        cutoff = self.latest_seq - self.retention
        if cutoff <= 0:
            return
        with self.storage.write():
            self.storage.execute("DELETE FROM events WHERE seq <= ?", (cutoff,))
            self.storage.execute(
                "INSERT INTO meta (key, value) VALUES ('events_pruned_through', ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (str(cutoff),),
            )

    # -- reading ----------------------------------------------------------------------------
    def pruned_through(self) -> int:
        value = self.storage.scalar("SELECT value FROM meta WHERE key = 'events_pruned_through'")
        return int(value) if value is not None else 0

    def _replay_page(self, after: int, until: int) -> list[StoredEvent]:
        rows = self.storage.rows(
            "SELECT * FROM events WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT ?",
            (after, until, REPLAY_PAGE),
        )
        return [StoredEvent.from_row(row) for row in rows]

    @asynccontextmanager
    async def subscribe(self, actor: Actor, since: int | None = None) -> AsyncIterator[Subscription]:
        """Register a subscriber; leaving the block unregisters it.

        Registration and the reading of ``latest_seq`` happen with no checkpoint between them, so
        every event is either replayed from the table (seq <= latest) or delivered live (seq >
        latest): none is missed and none is sent twice.
        """
        await trio.lowlevel.checkpoint()
        send, receive = trio.open_memory_channel[tuple[StoredEvent, str]](self.buffer)
        sub = _Subscriber(actor, send)
        latest = self.latest_seq
        resync = since is not None and (since > latest or since < self.pruned_through())
        self._subscribers.add(sub)
        try:
            yield Subscription(self, sub, receive, since, latest, resync)
        finally:
            self._subscribers.discard(sub)
            send.close()
            receive.close()

    def statistics(self) -> HubStatistics:
        return HubStatistics(len(self._subscribers), self.latest_seq, self._published, self._dropped)
