"""Cancellation fuzz: calls cancelled at random points never corrupt the client for the next call.

Thousands of calls on one ``Client`` against a real server, each cancelled at a random moment (a random
short deadline, or a sibling task cancelling after a random number of scheduler steps), so the cancel lands
before sending, mid-send (1 MB request bodies that outgrow the socket buffer), while waiting for the reply,
and mid-body (ticket lists larger than one read). Every one is followed by a checked call whose answer must
be its own: ``ticket.get(id=k)`` must come back as ticket ``k``, ``auth.whoami`` as a whoami answer, never the
late reply of the cancelled call before it.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from typing import Any

import pytest
import trio

from hero_assistance.core import InvalidParams
from hero_assistance.transport import _http11
from hero_assistance.transport._client import Client, connect

from ._client_fixtures import ServerProcess, server_fixture, servers_fixture  # noqa: F401

TICKETS = 40
WORKERS = 4
ROUNDS_PER_WORKER = 750  # 3,000 cancelled-or-not calls, each followed by a checked call
BIG_BODY = "y" * 1_000_000


async def fuzzed_call(client: Client, rng: random.Random) -> tuple[str, Any]:
    kind = rng.choices(["whoami", "get", "list", "big", "batch"], weights=[3, 4, 2, 1, 2])[0]
    if kind == "whoami":
        return kind, await client.call("auth.whoami")
    if kind == "get":
        k = rng.randint(1, TICKETS)
        return f"get:{k}", await client.call("ticket.get", id=k)
    if kind == "list":
        return kind, await client.call("ticket.list", limit=200)
    if kind == "big":
        try:
            await client.call("ticket.create", title="too big", body=BIG_BODY)
        except InvalidParams:
            return kind, "refused"
        raise AssertionError("a 1 MB body should be refused")
    a, b = rng.randint(1, TICKETS), rng.randint(1, TICKETS)
    outcomes = await client.batch([("ticket.get", {"id": a}), ("ticket.get", {"id": b})])
    return f"batch:{a}:{b}", [o.unwrap() for o in outcomes]


def check_fuzzed(label: str, answer: Any) -> None:
    if label == "whoami":
        assert answer["auth_mode"] == "proxy" and "user" in answer
    elif label.startswith("get:"):
        k = int(label[4:])
        assert (answer["id"], answer["title"]) == (k, f"ticket {k}")
    elif label == "list":
        assert len(answer["items"]) == TICKETS
    elif label.startswith("batch:"):
        _, a, b = label.split(":")
        assert [t["id"] for t in answer] == [int(a), int(b)]


async def checked_call(client: Client, rng: random.Random) -> None:
    if rng.random() < 0.5:
        answer = await client.call("auth.whoami")
        assert set(answer) == {"user", "device", "role", "auth_mode"}, answer
    else:
        k = rng.randint(1, TICKETS)
        answer = await client.call("ticket.get", id=k)
        assert (answer["id"], answer["title"]) == (k, f"ticket {k}"), answer


async def cancel_after_steps(scope: trio.CancelScope, steps: int) -> None:
    for _ in range(steps):
        await trio.lowlevel.checkpoint()
    scope.cancel()


async def worker(client: Client, rng: random.Random, tally: Counter[str]) -> None:
    for _ in range(ROUNDS_PER_WORKER):
        with trio.CancelScope() as scope:
            async with trio.open_nursery() as nursery:
                # Log-uniform spreads: from "before the first byte" to "after the whole answer".
                if rng.random() < 0.5:
                    scope.deadline = trio.current_time() + 10 ** rng.uniform(-5, -1)
                else:
                    nursery.start_soon(cancel_after_steps, scope, int(10 ** rng.uniform(0, 3)))
                label, answer = await fuzzed_call(client, rng)
                nursery.cancel_scope.cancel()
            check_fuzzed(label, answer)
            tally["completed"] += 1
        if scope.cancelled_caught:
            tally["cancelled"] += 1
        await checked_call(client, rng)
        tally["checked"] += 1


class PhaseProbe:
    """Wraps a connection's stream to tell where in the exchange a cancellation landed."""

    def __init__(self, stream: trio.SocketStream) -> None:
        self._stream = stream
        self.socket = stream.socket
        self.phase = "before send"

    async def send_all(self, data: bytes) -> None:
        self.phase = "mid-send"
        await self._stream.send_all(data)
        self.phase = "waiting for reply"

    async def receive_some(self, max_bytes: int) -> bytes:
        data = await self._stream.receive_some(max_bytes)
        if data:
            self.phase = "mid-body"
        return data


def probe_phases(monkeypatch: pytest.MonkeyPatch, phases: Counter[str]) -> None:
    original_init = _http11.HttpConnection.__init__
    original_exchange = _http11.HttpConnection.exchange

    def init(self: _http11.HttpConnection, stream: trio.SocketStream) -> None:
        original_init(self, PhaseProbe(stream))  # type: ignore[arg-type]

    async def exchange(self: _http11.HttpConnection, *args: Any) -> Any:
        probe: PhaseProbe = self.stream  # type: ignore[assignment]
        probe.phase = "before send"
        try:
            return await original_exchange(self, *args)
        except trio.Cancelled:
            phases[probe.phase] += 1
            raise

    monkeypatch.setattr(_http11.HttpConnection, "__init__", init)
    monkeypatch.setattr(_http11.HttpConnection, "exchange", exchange)


async def test_calls_cancelled_at_random_points_leave_the_client_usable(
    server: ServerProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    phases: Counter[str] = Counter()
    probe_phases(monkeypatch, phases)
    seed = random.randrange(2**32)
    print(f"fuzz seed {seed}")
    async with connect(server.url) as setup:
        for k in range(1, TICKETS + 1):
            await setup.call("ticket.create", title=f"ticket {k}", body="b" * 2000)  # lists outgrow one read

    started = time.monotonic()
    tally: Counter[str] = Counter()
    async with connect(server.url, max_connections=WORKERS) as client:
        async with trio.open_nursery() as nursery:
            for i in range(WORKERS):
                nursery.start_soon(worker, client, random.Random(seed + i), tally)
        stats = client.statistics()
        # Still good for plain use afterwards, and nothing is held.
        assert (await client.call("ticket.get", id=7))["title"] == "ticket 7"
    elapsed = time.monotonic() - started
    print(f"{dict(tally)} cancelled in exchange: {dict(phases)} {stats} in {elapsed:.1f} s")

    assert tally["checked"] == WORKERS * ROUNDS_PER_WORKER
    # The fuzz really did both: many calls cancelled half-way, many completed.
    assert tally["cancelled"] > 0.2 * tally["checked"] and tally["completed"] > 0.1 * tally["checked"]
    for phase in ("mid-send", "waiting for reply", "mid-body"):
        assert phases[phase] >= 5, f"too few cancellations {phase}: {dict(phases)}"
    # Cancelled before anything was sent (waiting for a pooled connection, connecting, before the first byte).
    assert tally["cancelled"] - sum(phases.values()) + phases["before send"] >= 5
    assert stats.poisoned > 100, "cancellations should have hit calls mid-request"
    assert stats.in_use == 0 and stats.open <= WORKERS
