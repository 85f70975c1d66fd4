"""The "is replying" indicator ends at once: on ``composing: false`` and when a reply becomes an internal note."""

from __future__ import annotations

import json
from contextlib import aclosing
from typing import Any

import pytest
import trio

from hero_assistance.core import Forbidden, Project

from .conftest import Desk, Person


async def received(project: Project, person: Person, since: int) -> list[dict[str, Any]]:
    """The presence.composing events ``person`` receives after ``since`` (replayed from the stored stream).

    The person's own status change marks the end: everyone receives their own presence.
    """
    await person.call(project, "presence.update", status="online")
    seen: list[dict[str, Any]] = []
    async with project.hub.subscribe(project.resolve(person.caller), since=since) as sub:
        with trio.fail_after(60):  # a hang guard, not a speed check
            async with aclosing(sub.events()) as events:
                async for event, text in events:
                    seen.append(json.loads(text))
                    if event.type == "presence.updated" and event.subject_user_id == person.user_id:
                        break
    return [e["data"] for e in seen if e["type"] == "presence.composing"]


def states(events: list[dict[str, Any]]) -> list[tuple[bool, bool]]:
    return [(e["internal"], e["composing"]) for e in events]


async def test_switching_to_an_internal_note_ends_the_reply_at_once(project: Project, desk: Desk) -> None:
    ticket = await desk.alice.call(project, "ticket.create", title="help")
    start = project.hub.latest_seq
    await desk.sam.call(project, "presence.set_composing", ticket_id=ticket["id"], internal=False)
    await desk.sam.call(project, "presence.set_composing", ticket_id=ticket["id"], internal=True)
    alice = project.resolve(desk.alice.caller)
    # No clock moved and no expiry ran: the reply indicator ended because the note began.
    assert project.services.presence.get_composing(alice, ticket["id"]) == []
    assert states(await received(project, desk.alice, start)) == [(False, True), (False, False)]
    assert states(await received(project, desk.ada, start)) == [(False, True), (False, False), (True, True)]
    # Back to a reply: the note's end reaches the agents; the customer sees the reply begin.
    mark = project.hub.latest_seq
    await desk.sam.call(project, "presence.set_composing", ticket_id=ticket["id"], internal=False)
    assert states(await received(project, desk.alice, mark)) == [(False, True)]
    assert states(await received(project, desk.ada, mark)) == [(True, False), (False, True)]


async def test_composing_false_ends_the_indicator_at_once(project: Project, desk: Desk) -> None:
    ticket = await desk.alice.call(project, "ticket.create", title="help")
    start = project.hub.latest_seq
    await desk.sam.call(project, "presence.set_composing", ticket_id=ticket["id"])
    answer = await desk.sam.call(project, "presence.set_composing", ticket_id=ticket["id"], composing=False)
    assert answer["composing"] is False
    alice = project.resolve(desk.alice.caller)
    assert project.services.presence.get_composing(alice, ticket["id"]) == []
    assert states(await received(project, desk.alice, start)) == [(False, True), (False, False)]
    # Nothing left to end: a second stop and the housekeeping announce nothing more.
    mark = project.hub.latest_seq
    await desk.sam.call(project, "presence.set_composing", ticket_id=ticket["id"], composing=False)
    assert project.services.presence.expire_composing() == 0
    assert await received(project, desk.ada, mark) == []


async def test_a_stopped_internal_note_is_never_shown_to_the_customer(project: Project, desk: Desk) -> None:
    ticket = await desk.alice.call(project, "ticket.create", title="help")
    start = project.hub.latest_seq
    await desk.sam.call(project, "presence.set_composing", ticket_id=ticket["id"], internal=True)
    await desk.sam.call(project, "presence.set_composing", ticket_id=ticket["id"], internal=True, composing=False)
    assert await received(project, desk.alice, start) == []
    assert states(await received(project, desk.ada, start)) == [(True, True), (True, False)]
    # The customer's own stop is fine; starting an internal note is not theirs to do.
    await desk.alice.call(project, "presence.set_composing", ticket_id=ticket["id"], composing=False)
    with pytest.raises(Forbidden):
        await desk.alice.call(project, "presence.set_composing", ticket_id=ticket["id"], internal=True)
