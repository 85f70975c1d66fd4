"""The merged channel: per-project order, fairness, bounded memory with a slow consumer, registration."""

from __future__ import annotations

from typing import Any

import pytest
import trio

from hero_assistance.transport._errors import ClientClosed, UnknownProject
from hero_assistance.transport._multi import MultiProjectClient
from hero_assistance.transport._multi_backoff import Backoff

from ._client_fixtures import FakeProject


def connector_for(*projects: FakeProject) -> Any:
    by_name = {p.name: p for p in projects}
    return lambda project_id, since: by_name[project_id].connect(since)


def data_events(seen: list[tuple[str, dict[str, Any]]], project_id: str) -> list[int]:
    return [e["seq"] for pid, e in seen if pid == project_id and e.get("type") == "ticket.created"]


async def take(merged: Any, count: int, seen: list[tuple[str, dict[str, Any]]]) -> None:
    while sum(1 for _p, e in seen if e.get("type") == "ticket.created") < count:
        seen.append(await merged.receive())


async def test_a_slow_consumer_costs_a_resubscribe_not_memory(autojump_clock: trio.abc.Clock) -> None:
    project = FakeProject("acme")
    async with MultiProjectClient(connector=connector_for(project), max_queued=16) as mpc:
        await mpc.register("acme", "unix:/fake/rpc.sock", since=0)
        project.emit(500)  # far more than the queue holds; nobody is reading yet
        await trio.sleep(1)
        stats = mpc.statistics()["acme"]
        assert stats.state == "paused" and stats.queued <= 16 + 3 and stats.consumer_too_slow == 1
        assert project.open_streams == 0  # the stream was dropped, not left to fill the server's buffers

        seen: list[tuple[str, dict[str, Any]]] = []
        async with mpc.events() as merged:
            await take(merged, 500, seen)
        assert data_events(seen, "acme") == list(range(1, 501))  # nothing lost, nothing twice, in order
        stats = mpc.statistics()["acme"]
        assert stats.consumer_too_slow >= 1 and stats.delivered_seq == 500 and stats.last_seq == 500
        # Every resubscription resumed further on, from where the queue ended.
        resumed = [since for _t, since in project.attempts[1:] if since is not None]
        assert len(resumed) == len(project.attempts) - 1
        assert resumed == sorted(set(resumed)) and resumed[0] > 0 and resumed[-1] < 500
        states = [e["state"] for _p, e in seen if e.get("type") == "connection"]
        assert "disconnected" in states and states[-1] == "connected"


async def test_a_chatty_project_does_not_starve_a_quiet_one(autojump_clock: trio.abc.Clock) -> None:
    chatty, quiet = FakeProject("chatty"), FakeProject("quiet")
    async with MultiProjectClient(connector=connector_for(chatty, quiet), max_queued=2000) as mpc:
        await mpc.register("chatty", "unix:/fake/c/rpc.sock", since=0)
        await mpc.register("quiet", "unix:/fake/q/rpc.sock", since=0)
        chatty.emit(1000)
        await trio.sleep(1)
        quiet.emit(10)
        await trio.sleep(1)
        seen: list[tuple[str, dict[str, Any]]] = []
        async with mpc.events() as merged:
            await take(merged, 40, seen)
        # Taken in turn: the quiet project's ten arrive among the first 40, not after 1000 chatty ones.
        assert data_events(seen, "quiet") == list(range(1, 11))
        assert data_events(seen, "chatty") == list(range(1, len(data_events(seen, "chatty")) + 1))


async def test_replayed_duplicates_are_dropped_and_resync_passes_through(autojump_clock: trio.abc.Clock) -> None:
    sloppy = FakeProject("sloppy", replay_overlap=3)
    async with MultiProjectClient(connector=connector_for(sloppy), backoff=Backoff(0.1, 1)) as mpc:
        await mpc.register("sloppy", "unix:/fake/rpc.sock", since=0)
        seen: list[tuple[str, dict[str, Any]]] = []
        async with mpc.events() as merged:
            sloppy.emit(5)
            await take(merged, 5, seen)
            sloppy.drop()  # reconnects with since=5 and gets 3..5 again, then 6..8
            sloppy.emit(3)
            await take(merged, 8, seen)
            assert data_events(seen, "sloppy") == list(range(1, 9))
            assert mpc.statistics()["sloppy"].duplicates_dropped == 3

            # A server whose history went backwards (restored from an old backup) answers resync_required.
            sloppy.log = sloppy.log[:2]
            sloppy.drop()
            while True:
                _pid, event = await merged.receive()
                if event.get("type") == "resync_required":
                    break
            assert event == {"type": "resync_required", "seq": 2}
            sloppy.emit(1)
            _pid, event = await merged.receive()
            assert event["seq"] == 3  # the live stream continues after the resync point
            assert mpc.statistics()["sloppy"].last_seq == 3


async def test_registration_and_routing_rules(autojump_clock: trio.abc.Clock) -> None:
    a, b = FakeProject("a"), FakeProject("b")
    mpc = MultiProjectClient(connector=connector_for(a, b))
    with pytest.raises(ClientClosed):
        await mpc.register("a", "unix:/fake/a/rpc.sock")
    async with mpc:
        client = await mpc.register("a", "unix:/fake/a/rpc.sock")
        assert mpc.client("a") is client and mpc.projects() == ["a"]
        with pytest.raises(ValueError, match="already registered"):
            await mpc.register("a", "unix:/fake/a/rpc.sock")
        with pytest.raises(ValueError):
            await mpc.register("b", "ftp://nowhere")
        with pytest.raises(UnknownProject, match="'nope'"):
            await mpc.call("nope", "auth.whoami")
        with pytest.raises(LookupError):  # UnknownProject is a LookupError too
            mpc.client("nope")
        await mpc.register("b", "unix:/fake/b/rpc.sock", since=0)
        b.emit(3)
        await trio.sleep(1)
        assert mpc.statistics()["b"].queued > 0
        await mpc.unregister("b")
        assert b.open_streams == 0 and "b" not in mpc.statistics() and mpc.client("a") is client
        with pytest.raises(UnknownProject):
            await mpc.unregister("b")
        seen: list[tuple[str, dict[str, Any]]] = []
        async with mpc.events() as merged:
            with trio.move_on_after(5):
                while True:
                    seen.append(await merged.receive())
        assert {pid for pid, _e in seen} == {"a"}  # b's undelivered events left with it
        async with mpc.events():
            with pytest.raises(trio.BusyResourceError):
                async with mpc.events():
                    pass
    with pytest.raises(ClientClosed):
        await mpc.register("c", "unix:/fake/c/rpc.sock")


async def test_the_merged_iterator_ends_when_the_client_closes(autojump_clock: trio.abc.Clock) -> None:
    project = FakeProject("acme")
    seen: list[tuple[str, dict[str, Any]]] = []

    async def consume(mpc: MultiProjectClient, task_status: trio.TaskStatus[None]) -> None:
        async with mpc.events() as merged:
            task_status.started()
            async for item in merged:
                seen.append(item)

    async with trio.open_nursery() as nursery, MultiProjectClient(connector=connector_for(project)) as mpc:
        await mpc.register("acme", "unix:/fake/rpc.sock", since=0)
        await nursery.start(consume, mpc)
        project.emit(2)
        await trio.sleep(1)
    assert data_events(seen, "acme") == [1, 2]  # and the consumer's loop ended by itself
