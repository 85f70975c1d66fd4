"""``MultiProjectClient`` against real servers: restart one, kill -9 one, add and remove one, while events flow.

Every project's writer creates tickets with known titles at a steady pace, retrying through the outages
(and checking before it repeats a write whose answer was lost). The merged consumer must then hold, per
project, exactly the ``ticket.created`` events with seq 1..N, in order: nothing lost across a restart or a
crash, nothing delivered twice.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import trio

from hero_assistance.transport._client import Client
from hero_assistance.transport._errors import ConnectFailed, ConnectionLost
from hero_assistance.transport._multi import MultiProjectClient
from hero_assistance.transport._multi_backoff import Backoff

from ._client_fixtures import Servers, servers_fixture  # noqa: F401

N = 80
Seen = list[tuple[str, dict[str, Any]]]


async def write_tickets(url: str, name: str, count: int, pause: float = 0.01) -> None:
    """Create ``name-0`` … ``name-{count-1}``, riding out server outages without writing anything twice."""
    async with Client(url, connect_timeout=2) as client:
        for i in range(count):
            title = f"{name}-{i}"
            while True:
                try:
                    await client.tickets.create(title)
                    break
                except ConnectFailed:
                    await trio.sleep(0.05)
                except ConnectionLost:
                    # The write may have happened before the connection broke: look before repeating it.
                    if await _exists(client, title):
                        break
            await trio.sleep(pause)


async def _exists(client: Client, title: str) -> bool:
    while True:
        try:
            page = await client.tickets.list(limit=200)
            return any(t.title == title for t in page.items)
        except (ConnectFailed, ConnectionLost):
            await trio.sleep(0.05)


def created(seen: Seen, project_id: str) -> list[dict[str, Any]]:
    return [e for pid, e in seen if pid == project_id and e.get("type") == "ticket.created"]


def states(seen: Seen, project_id: str) -> list[dict[str, Any]]:
    return [e for pid, e in seen if pid == project_id and e.get("type") == "connection"]


async def wait_until(condition: Callable[[], bool]) -> None:
    while not condition():
        await trio.sleep(0.01)


async def test_restart_crash_add_and_remove_while_events_flow(servers: Servers) -> None:
    seen: Seen = []
    started: dict[str, Any] = {}

    async def start(name: str) -> None:
        started[name] = await servers.start(name)

    async with trio.open_nursery() as boot:
        for name in ("alpha", "beta", "gamma", "delta"):
            boot.start_soon(start, name)
    alpha, beta, gamma, delta = (started[n] for n in ("alpha", "beta", "gamma", "delta"))

    with trio.fail_after(90):
        async with MultiProjectClient(backoff=Backoff(initial=0.05, maximum=0.5)) as mpc:
            for server in (alpha, beta, gamma):
                await mpc.register(server.name, server.url, since=0)

            async def consume(task_status: trio.TaskStatus[None]) -> None:
                async with mpc.events() as merged:
                    task_status.started()
                    async for item in merged:
                        seen.append(item)

            async with trio.open_nursery() as nursery:
                await nursery.start(consume)
                async with trio.open_nursery() as writers:
                    for server in (alpha, beta, gamma):
                        writers.start_soon(write_tickets, server.url, server.name, N)

                    # A graceful restart of beta mid-stream.
                    await wait_until(lambda: len(created(seen, "beta")) >= 20)
                    await beta.restart()

                    # A crash of gamma (stale socket files left behind), then it comes back.
                    await wait_until(lambda: len(created(seen, "gamma")) >= 30)
                    await gamma.kill()
                    await trio.sleep(0.3)
                    await gamma.start()

                    # delta joins while the others flow, then leaves again while its writer keeps going.
                    await mpc.register("delta", delta.url, since=0)
                    writers.start_soon(write_tickets, delta.url, "delta", 60, 0.02)
                    await wait_until(lambda: len(created(seen, "delta")) >= 10)
                    await mpc.unregister("delta")
                    delta_cut = len(seen)
                await wait_until(lambda: all(len(created(seen, n)) >= N for n in ("alpha", "beta", "gamma")))
                await trio.sleep(0.2)  # room for anything that should not come
                stats = mpc.statistics()
                nursery.cancel_scope.cancel()

    for name in ("alpha", "beta", "gamma"):
        events = created(seen, name)
        assert [e["seq"] for e in events] == list(range(1, N + 1)), name  # in order, none lost, none twice
        assert [e["data"]["ticket"]["title"] for e in events] == [f"{name}-{i}" for i in range(N)], name
    for name in ("beta", "gamma"):
        trail = [s["state"] for s in states(seen, name)]
        assert "disconnected" in trail and trail[-1] == "connected", (name, trail)
        resumed = [s for s in states(seen, name) if s["state"] == "connected"][-1]
        assert resumed["since"] >= 20, resumed  # resumed from where it was, not from scratch
        assert stats[name].reconnects >= 1 and stats[name].state == "connected"
    assert stats["alpha"].reconnects == 0

    delta_events = created(seen, "delta")
    assert [e["seq"] for e in delta_events] == list(range(1, len(delta_events) + 1))
    assert not [e for pid, e in seen[delta_cut:] if pid == "delta"], "events after unregister"
    assert "delta" not in stats
