"""The event hub: stored with their write, replayed then live, filtered per recipient, bounded."""

from __future__ import annotations

import json
from contextlib import aclosing
from pathlib import Path
from typing import Any

import pytest
import trio

from hero_assistance.core import Caller, Project, ProjectConfig, SubscriberTooSlow, open_project

from .conftest import Desk, FakeClock, Person
from .test_permissions_matrix import ALICE_SECRET, INTERNAL, build_world


async def mark_end(project: Project) -> int:
    """An event everyone may see (the operator's presence: agents' presence is public)."""
    await project.call("presence.update", status="online", status_text="end marker")
    return project.hub.latest_seq


async def collect(project: Project, person: Person, since: int | None, until_seq: int) -> list[dict[str, Any]]:
    """Every event the person receives before the end marker at ``until_seq``."""
    got: list[dict[str, Any]] = []
    async with project.hub.subscribe(project.resolve(person.caller), since) as sub:
        with trio.fail_after(5):
            async with aclosing(sub.events()) as events:
                async for event, text in events:
                    if event.seq >= until_seq:
                        assert event.seq == until_seq
                        break
                    got.append(json.loads(text))
    return got


async def test_each_recipient_gets_exactly_what_it_may_read(project: Project, desk: Desk) -> None:
    world = await build_world(project, desk)
    await desk.bob.call(project, "comment.create", ticket_id=world.ticket_b, body="bob again")
    latest = await mark_end(project)
    alice = await collect(project, desk.alice, 0, latest)
    bob = await collect(project, desk.bob, 0, latest)
    sam = await collect(project, desk.sam, 0, latest)

    def tickets(events: list[dict[str, Any]]) -> set[int | None]:
        return {e["ticket_id"] for e in events if e["ticket_id"] is not None}

    assert tickets(alice) == {world.ticket_a}
    assert tickets(bob) == {world.ticket_b}
    assert tickets(sam) == {world.ticket_a, world.ticket_b}
    for text in (json.dumps(alice), json.dumps(bob)):
        assert INTERNAL not in text
    assert ALICE_SECRET not in json.dumps(bob)
    assert INTERNAL in json.dumps(sam)
    # Sam composing an internal note is shown to agents only.
    composing = [e for e in sam if e["type"] == "presence.composing"]
    assert composing and composing[0]["data"]["internal"] is True
    assert not [e for e in alice if e["type"] == "presence.composing"]
    # Alice's status text is hers: Bob (a customer) never sees it; agents do.
    assert not [e for e in bob if e["type"] == "presence.updated"]
    assert [e for e in sam if e["type"] == "presence.updated" and e["data"]["user_id"] == desk.alice.user_id]
    for events in (alice, bob, sam):
        seqs = [e["seq"] for e in events]
        assert seqs == sorted(set(seqs))
        for e in events:
            assert set(e) == {"seq", "type", "project", "ts", "ticket_id", "actor_id", "data"}
            assert e["project"] == "acme"


async def test_replay_then_live_misses_and_repeats_nothing(project: Project, desk: Desk) -> None:
    ticket = await desk.alice.call(project, "ticket.create", title="t", body="b")
    for i in range(5):
        await desk.sam.call(project, "comment.create", ticket_id=ticket["id"], body=f"before {i}")
    received: list[int] = []
    async with project.hub.subscribe(project.resolve(desk.alice.caller), since=0) as sub:
        stored_until = sub.latest_seq
        async with trio.open_nursery() as nursery:

            async def write_more() -> None:
                for i in range(5):
                    await desk.sam.call(project, "comment.create", ticket_id=ticket["id"], body=f"after {i}")
                    await trio.sleep(0)

            nursery.start_soon(write_more)
            with trio.fail_after(5):
                async with aclosing(sub.events()) as events:
                    async for event, _ in events:
                        received.append(event.seq)
                        if len(received) == 11:  # ticket.created and 10 comments
                            break
    assert received == sorted(set(received))
    assert any(seq > stored_until for seq in received)
    bodies = [
        json.loads(r["data"])["comment"]["body"]
        for r in project.storage.rows("SELECT data FROM events WHERE type = 'comment.created' ORDER BY seq")
    ]
    assert bodies == [f"before {i}" for i in range(5)] + [f"after {i}" for i in range(5)]


async def test_a_subscriber_that_falls_behind_is_dropped_not_buffered(tmp_path: Path, clock: FakeClock) -> None:
    config = ProjectConfig(name="acme", data_dir=tmp_path, clock=clock, event_buffer=8)
    async with open_project(config) as project:
        operator = project.resolve(Caller.operator())
        async with project.hub.subscribe(operator, since=None) as sub:
            for i in range(20):  # nobody reads: the buffer of 8 overflows
                await project.call("ticket.create", title=f"t{i}", body="x")
            assert project.hub.statistics().dropped == 1
            assert project.hub.statistics().subscribers == 0
            seen = []
            with pytest.raises(SubscriberTooSlow):
                async with aclosing(sub.events()) as events:
                    async for event, _ in events:
                        seen.append(event.seq)
            assert len(seen) == 8  # what was buffered is delivered, then the stream ends
        # Resuming with since = the last delivered seq gets the rest from the table.
        async with project.hub.subscribe(operator, since=seen[-1]) as sub:
            rest = []
            async with aclosing(sub.events()) as events:
                async for event, _ in events:
                    rest.append(event.seq)
                    if event.seq == sub.latest_seq:
                        break
        assert seen + rest == list(range(1, 21))


async def test_since_older_than_retained_requires_resync(tmp_path: Path, clock: FakeClock) -> None:
    config = ProjectConfig(name="acme", data_dir=tmp_path, clock=clock, event_retention=100)
    async with open_project(config) as project:
        for i in range(1001):
            await project.call("presence.update", status="online", status_text=str(i))
        operator = project.resolve(Caller.operator())
        async with project.hub.subscribe(operator, since=3) as sub:
            assert sub.resync
        async with project.hub.subscribe(operator, since=990) as sub:
            assert not sub.resync
        async with project.hub.subscribe(operator, since=5000) as sub:
            assert sub.resync  # a seq from the future: another database, or a restored backup
        assert project.storage.scalar("SELECT min(seq) FROM events") > 800


async def test_events_survive_restart_with_strictly_increasing_seq(tmp_path: Path, clock: FakeClock) -> None:
    config = ProjectConfig(name="acme", data_dir=tmp_path, clock=clock)
    async with open_project(config) as project:
        await project.call("ticket.create", title="one", body="x")
        first = project.hub.latest_seq
    async with open_project(config) as project:
        assert project.hub.latest_seq == first
        await project.call("ticket.create", title="two", body="x")
        assert project.hub.latest_seq == first + 1


async def test_replayed_text_is_the_same_json_as_live(project: Project, desk: Desk) -> None:
    await desk.alice.call(project, "ticket.create", title='quotes " and ünïcode ✓', body="x")
    live = project.hub.encode(project.hub._replay_page(0, project.hub.latest_seq)[0])
    event = project.hub._replay_page(0, project.hub.latest_seq)[0]
    assert json.loads(live) == event.wire("acme")
    assert json.loads(live)["data"]["ticket"]["title"] == 'quotes " and ünïcode ✓'


@pytest.mark.parametrize("change", ["unbind", "disable", "demote", "rebind"])
async def test_a_stream_ends_when_its_rights_change(project: Project, desk: Desk, change: str) -> None:
    from hero_assistance.core import IdentityChanged

    ticket = await desk.alice.call(project, "ticket.create", title="mine", body="x")
    subject = desk.sam if change == "demote" else desk.alice
    async with project.hub.subscribe(project.resolve(subject.caller), since=None) as sub:
        if change == "unbind":
            await subject.call(project, "device.unbind")
        elif change == "disable":
            await desk.ada.call(project, "user.update", id=subject.user_id, status="disabled")
        elif change == "demote":
            await desk.ada.call(project, "user.update", id=subject.user_id, role="customer")
        else:  # the device signs in as somebody else
            invite = await project.call("auth.issue_magic_link", email="bob@example.com")
            await project.call("auth.consume_magic_link", subject.caller, token=invite["token"])
        # Writes after the change must not reach the old stream.
        await desk.ada.call(project, "comment.create", ticket_id=ticket["id"], body="after", internal=True)
        with pytest.raises(IdentityChanged), trio.fail_after(60):  # a hang guard, not a speed check
            async with aclosing(sub.events()) as events:
                async for event, _ in events:
                    assert event.type != "comment.created", "an event reached a stream with stale rights"
    assert project.hub.statistics().subscribers == 0
