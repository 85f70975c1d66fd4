"""Reconnecting with full-jitter exponential backoff: exact timing under ``autojump_clock`` with scripted sources."""

from __future__ import annotations

from typing import Any

import pytest
import trio

from hero_assistance.transport._multi import MultiProjectClient
from hero_assistance.transport._multi_backoff import Backoff

from ._client_fixtures import FakeProject, FixedRandom


def connector_for(*projects: FakeProject) -> Any:
    by_name = {p.name: p for p in projects}
    return lambda project_id, since: by_name[project_id].connect(since)


async def collect(mpc: MultiProjectClient, until: Any, into: list[tuple[float, str, dict[str, Any]]]) -> None:
    async with mpc.events() as merged:
        async for project_id, event in merged:
            into.append((trio.current_time(), project_id, event))
            if until(project_id, event):
                return


def test_backoff_ceiling_doubles_up_to_the_maximum() -> None:
    backoff = Backoff(initial=0.5, maximum=30, multiplier=2)
    assert [backoff.ceiling(n) for n in range(8)] == [0.5, 1, 2, 4, 8, 16, 30, 30]
    assert backoff.ceiling(10_000) == 30  # no float overflow on a project dead for days
    assert backoff.delay(3, FixedRandom(0.25)) == 1.0
    with pytest.raises(ValueError):
        Backoff(initial=5, maximum=1)


async def test_failed_connects_back_off_exactly(autojump_clock: trio.abc.Clock) -> None:
    project = FakeProject("acme", fail_first=6)
    rng = FixedRandom(0.5, 1.0, 0.0, 0.5)  # full jitter: the whole interval is random, 0 included
    async with MultiProjectClient(
        connector=connector_for(project), backoff=Backoff(initial=1, maximum=10), random=rng
    ) as mpc:
        start = trio.current_time()
        await mpc.register("acme", "unix:/fake/rpc.sock")
        seen: list[tuple[float, str, dict[str, Any]]] = []
        await collect(mpc, lambda pid, e: e.get("state") == "connected", seen)

    # Ceilings 1, 2, 4, 8, 10, 10 times the random draws 0.5, 1.0, 0.0, 0.5, 0.5, 0.5.
    delays = [0.5, 2.0, 0.0, 4.0, 5.0, 5.0]
    expected_times = [sum(delays[:i]) for i in range(7)]
    assert [t - start for t, _since in project.attempts] == expected_times
    states = [(e["state"], e.get("attempt"), e.get("retry_in")) for _t, _p, e in seen]
    assert states == [
        *[s for i, d in enumerate(delays) for s in (("connecting", i, None), ("disconnected", None, d))],
        ("connecting", 6, None),
        ("connected", None, None),
    ]
    assert all(e["error"].startswith("ConnectFailed: acme: scripted refusal") for *_x, e in seen if "error" in e)


async def test_after_a_connection_the_backoff_starts_over(autojump_clock: trio.abc.Clock) -> None:
    project = FakeProject("acme", fail_first=3)
    async with MultiProjectClient(
        connector=connector_for(project), backoff=Backoff(initial=1, maximum=60), random=FixedRandom(1.0)
    ) as mpc:
        await mpc.register("acme", "unix:/fake/rpc.sock", since=0)
        seen: list[tuple[float, str, dict[str, Any]]] = []
        await collect(mpc, lambda pid, e: e.get("state") == "connected", seen)
        project.fail_first = 6  # the drop, then two more refusals
        dropped_at = trio.current_time()
        project.drop()
        seen.clear()
        await collect(mpc, lambda pid, e: e.get("state") == "connected", seen)
        retries = [e["retry_in"] for *_x, e in seen if e.get("state") == "disconnected"]
        # The first failure after a good connection (the drop) waits the initial ceiling again, then 2, 4.
        assert retries == [1.0, 2.0, 4.0]
        assert project.attempts[-1][0] - dropped_at == sum(retries)
        assert mpc.statistics()["acme"].reconnects == 3 + 3


async def test_a_dead_project_never_delays_a_live_one(autojump_clock: trio.abc.Clock) -> None:
    dead = FakeProject("dead", fail_always=True)
    live = FakeProject("live")
    async with MultiProjectClient(connector=connector_for(dead, live), backoff=Backoff(1, 30)) as mpc:
        await mpc.register("dead", "unix:/fake/dead/rpc.sock")
        await mpc.register("live", "unix:/fake/live/rpc.sock", since=0)
        live.emit(50)
        seen: list[tuple[float, str, dict[str, Any]]] = []
        start = trio.current_time()
        await collect(mpc, lambda pid, e: pid == "live" and e.get("seq") == 50, seen)
        assert trio.current_time() - start < 0.01  # all 50 at once, while "dead" sits in its backoff
        assert [e["seq"] for _t, pid, e in seen if pid == "live" and e.get("type") != "connection"] == list(
            range(1, 51)
        )
        await trio.sleep(3600)  # an hour of retries against the dead one
        stats = mpc.statistics()
        assert stats["dead"].state == "disconnected" and stats["dead"].reconnects > 100
        assert stats["dead"].queued <= 3  # its state changes collapse while nobody reads
        assert isinstance(stats["dead"].last_error, Exception)
