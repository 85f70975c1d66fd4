"""The merge point of a ``MultiProjectClient``: one bounded queue per project, read round-robin by one consumer.

Why not one shared ``trio`` memory channel: a single channel makes one busy project's burst sit in front of
every other project's events, and its bound would be shared, so a fast project could push a slow one's
events out. Per-project queues keep each project's order, bound each project's memory on its own, and let
the consumer take one event from each ready project in turn, so no project starves another.

A full queue is the consumer's problem, not the server's: the project's pump drops its stream (nothing is
lost: it resumes with ``since`` = the last seq it queued) and waits until the consumer has worked the queue
down to half, instead of buffering without bound or stalling the other projects.
"""

from __future__ import annotations

from collections import deque
from typing import Any

import trio

Event = dict[str, Any]

#: Consecutive unconsumed connection-state events kept per project (older ones in the run are dropped).
MAX_STATE_RUN = 3


class ProjectQueue:
    """One project's events on their way to the consumer."""

    def __init__(self, project_id: str, max_queued: int) -> None:
        self.project_id = project_id
        self.max_queued = max_queued
        self.items: deque[Event] = deque()
        self.in_ready = False
        self.removed = False
        self.delivered_seq: int | None = None
        self.delivered = 0
        # Connection-state events at the tail of the queue, not yet consumed (see ``put_state``).
        self._tail_states = 0
        self._drained: trio.Event | None = None

    def __len__(self) -> int:
        return len(self.items)

    @property
    def full(self) -> bool:
        return len(self.items) >= self.max_queued

    async def wait_drained(self) -> None:
        """Wait until the consumer has taken the queue down to half its bound."""
        if len(self.items) > self.max_queued // 2:
            self._drained = trio.Event()
            await self._drained.wait()
        else:
            await trio.lowlevel.checkpoint()

    def _taken(self, event: Event) -> None:
        self.delivered += 1
        seq = event.get("seq")
        if isinstance(seq, int) and event.get("type") != "connection":
            self.delivered_seq = seq
        self._tail_states = min(self._tail_states, len(self.items))
        if self._drained is not None and len(self.items) <= self.max_queued // 2:
            self._drained.set()
            self._drained = None


class MergedQueue:
    """All projects' queues and the round-robin order in which the consumer drains them."""

    def __init__(self) -> None:
        self._ready: deque[ProjectQueue] = deque()
        self._lot = trio.lowlevel.ParkingLot()
        self.closed = False

    def put(self, queue: ProjectQueue, event: Event) -> None:
        """Queue an event (never blocks; the pump checks ``queue.full`` afterwards)."""
        queue.items.append(event)
        queue._tail_states = 0
        self._mark_ready(queue)

    def put_state(self, queue: ProjectQueue, event: Event) -> None:
        """Queue a connection-state event, keeping at most the three latest unconsumed ones in a row.

        A project that keeps failing while nobody reads produces a state change every backoff period;
        collapsing the run to its latest three bounds that, and the consumer still sees the current state
        and the step before it (three, so "disconnected, connecting, connected" survives whole).
        """
        if queue._tail_states >= MAX_STATE_RUN:
            del queue.items[len(queue.items) - MAX_STATE_RUN]
            queue._tail_states -= 1
        queue.items.append(event)
        queue._tail_states += 1
        self._mark_ready(queue)

    def _mark_ready(self, queue: ProjectQueue) -> None:
        if not queue.in_ready:
            queue.in_ready = True
            self._ready.append(queue)
            self._lot.unpark_all()

    def close(self) -> None:
        self.closed = True
        self._lot.unpark_all()

    async def get(self) -> tuple[str, Event]:
        """The next ``(project_id, event)``, taking projects in turn; ``trio.EndOfChannel`` once closed."""
        # Checkpoint *before* taking an item, shielded after: a cancellation never loses an event
        # (the same discipline as trio's memory channels).
        await trio.lowlevel.checkpoint_if_cancelled()
        while True:
            if self.closed:
                raise trio.EndOfChannel
            while self._ready:
                queue = self._ready.popleft()
                if queue.removed or not queue.items:
                    queue.in_ready = False
                    continue
                event = queue.items.popleft()
                if queue.items:
                    self._ready.append(queue)
                else:
                    queue.in_ready = False
                queue._taken(event)
                await trio.lowlevel.cancel_shielded_checkpoint()
                return queue.project_id, event
            await self._lot.park()
