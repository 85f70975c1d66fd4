"""What a customer sees of the agents' triage: no tags in Ticket records or events, and a history of only
what concerns them (status, title/body, priority, assignee, public comments, their own membership)."""

from __future__ import annotations

import json
from contextlib import aclosing
from typing import Any

import jsonschema
import trio

from hero_assistance.core import Project

from .conftest import Desk, Person


async def events_of(project: Project, person: Person, since: int, *, live: Any = None) -> list[dict[str, Any]]:
    """The events ``person`` receives after ``since``: replayed, or (with ``live``, an async function run once
    subscribed) fanned out as they happen. The person's own status change marks the end."""
    seen: list[dict[str, Any]] = []
    async with project.hub.subscribe(project.resolve(person.caller), since=since) as sub:
        if live is not None:
            await live()
        await person.call(project, "presence.update", status="online")
        with trio.fail_after(60):  # a hang guard, not a speed check
            async with aclosing(sub.events()) as events:
                async for event, text in events:
                    if event.type == "presence.updated" and event.subject_user_id == person.user_id:
                        break
                    seen.append(json.loads(text))
    return seen


async def triage(project: Project, desk: Desk, ticket_id: int) -> None:
    """What agents do with a ticket: tags alone, then a mixed change, notes, members, archive."""
    await desk.sam.call(project, "ticket.update", id=ticket_id, tags=["sync", "desktop client"])
    await desk.sam.call(project, "ticket.update", id=ticket_id, tags=["sync"], status="pending")
    await desk.sam.call(project, "ticket.update", id=ticket_id, priority="urgent")
    await desk.sam.call(project, "ticket.update", id=ticket_id, assignee_id=desk.sam.user_id)
    await desk.sam.call(project, "comment.create", ticket_id=ticket_id, body="looks like sync", internal=True)
    await desk.sam.call(project, "comment.create", ticket_id=ticket_id, body="Can you try again?")
    await desk.sam.call(project, "ticket.member.add", ticket_id=ticket_id, user_id=desk.bob.user_id)
    await desk.sam.call(project, "ticket.archive", id=ticket_id)
    await desk.sam.call(project, "ticket.unarchive", id=ticket_id)


def mentions_tags(value: Any) -> bool:
    return "tags" in json.dumps(value) or "desktop client" in json.dumps(value)


async def test_a_customer_ticket_has_no_tags_and_both_shapes_match_the_schema(project: Project, desk: Desk) -> None:
    created = await desk.alice.call(project, "ticket.create", title="Sync fails", tags=["mine"])
    assert "tags" not in created
    await desk.sam.call(project, "ticket.update", id=created["id"], tags=["sync"])
    seen_by_alice = [
        await desk.alice.call(project, "ticket.get", id=created["id"]),
        (await desk.alice.call(project, "ticket.list"))["items"][0],
        await desk.alice.call(project, "ticket.update", id=created["id"], title="Sync still fails"),
    ]
    assert all("tags" not in t for t in seen_by_alice)
    agent = await desk.sam.call(project, "ticket.get", id=created["id"])
    assert agent["tags"] == ["sync"]
    schemas = {m["name"]: m["result"]["schema"] for m in project.openrpc()["methods"]}
    for shape in (agent, seen_by_alice[0]):
        jsonschema.validate(shape, schemas["ticket.get"])
    jsonschema.validate(await desk.alice.call(project, "ticket.list"), schemas["ticket.list"])
    # The SDK's typed records read both shapes.
    from hero_assistance.core import Ticket, converter
    from hero_assistance.core._jsonschema import UNSET

    assert converter.structure(seen_by_alice[0], Ticket).tags is UNSET
    assert converter.structure(agent, Ticket).tags == ["sync"]


async def test_a_customer_history_holds_only_what_concerns_them(project: Project, desk: Desk) -> None:
    ticket = await desk.alice.call(project, "ticket.create", title="Sync fails")
    await triage(project, desk, ticket["id"])
    await desk.sam.call(project, "ticket.member.add", ticket_id=ticket["id"], user_id=desk.ada.user_id)
    await desk.sam.call(project, "ticket.member.remove", ticket_id=ticket["id"], user_id=desk.alice.user_id)
    await desk.sam.call(project, "ticket.member.add", ticket_id=ticket["id"], user_id=desk.alice.user_id)
    mine = (await desk.alice.call(project, "ticket.history", id=ticket["id"], limit=200))["items"]
    lines = [(e["action"], e["detail"]) for e in mine]
    assert not mentions_tags(lines)
    assert lines == [
        ("ticket.created", {}),
        ("ticket.updated", {"status": {"from": "open", "to": "pending"}}),
        ("ticket.updated", {"priority": {"from": "normal", "to": "urgent"}}),
        ("ticket.updated", {"assignee_id": {"from": None, "to": desk.sam.user_id}}),
        ("comment.created", {"comment_id": lines[4][1]["comment_id"]}),
        ("member.removed", {"user_id": desk.alice.user_id}),
        ("member.added", {"user_id": desk.alice.user_id}),
    ]
    # Paged one by one, the same entries: the filter is in the query, not applied to a page afterwards.
    paged: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = await desk.alice.call(project, "ticket.history", id=ticket["id"], limit=1, cursor=cursor)
        paged += page["items"]
        if not (cursor := page["next_cursor"]):
            break
    assert paged == mine
    # The agent's history is whole.
    full = (await desk.sam.call(project, "ticket.history", id=ticket["id"], limit=200))["items"]
    assert len(full) == 13 and mentions_tags(full)
    # Bob, added by the agents, sees his own addition but not Ada's nor Alice's comings and goings.
    bobs = (await desk.bob.call(project, "ticket.history", id=ticket["id"], limit=200))["items"]
    assert [e["detail"]["user_id"] for e in bobs if e["action"].startswith("member.")] == [desk.bob.user_id]


async def test_a_customer_never_receives_tags_in_events(project: Project, desk: Desk) -> None:
    ticket = await desk.alice.call(project, "ticket.create", title="Sync fails")
    start = project.hub.latest_seq

    async def act() -> None:
        await triage(project, desk, ticket["id"])

    live = await events_of(project, desk.alice, start, live=act)
    replayed = await events_of(project, desk.alice, start)
    for seen in (live, replayed):
        tickets = [e for e in seen if e["type"].startswith("ticket.")]
        assert not mentions_tags(seen)
        # The tags-only change is not announced to her; the mixed one is, with its status change only.
        updates = [e["data"]["changes"] for e in tickets if e["type"] == "ticket.updated"]
        assert updates == [
            {"status": {"from": "open", "to": "pending"}},
            {"priority": {"from": "normal", "to": "urgent"}},
            {"assignee_id": {"from": None, "to": desk.sam.user_id}},
        ]
        assert all("comment" not in e["data"] or not e["data"]["comment"]["internal"] for e in seen)
    agent = await events_of(project, desk.ada, start)
    changes = [e["data"]["changes"] for e in agent if e["type"] == "ticket.updated"]
    assert changes[0] == {"tags": {"from": [], "to": ["sync", "desktop client"]}}
    assert all("tags" in e["data"]["ticket"] for e in agent if e["type"].startswith("ticket."))
