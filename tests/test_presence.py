"""Presence: viewing and composing, with composing expiring by itself and internal composing hidden."""

from __future__ import annotations

import json
from contextlib import aclosing

import trio

from hero_assistance.core import Project

from .conftest import Desk, FakeClock


async def test_composing_expires_without_renewal_and_is_announced(
    project: Project, desk: Desk, clock: FakeClock
) -> None:
    ticket = await desk.alice.call(project, "ticket.create", title="help")
    alice = project.resolve(desk.alice.caller)
    async with project.hub.subscribe(alice, since=project.hub.latest_seq) as sub:
        answer = await desk.sam.call(project, "presence.set_composing", ticket_id=ticket["id"])
        assert project.services.presence.get_composing(alice, ticket["id"]) == [desk.sam.user_id]
        renewed = await desk.sam.call(project, "presence.set_composing", ticket_id=ticket["id"])
        assert renewed["expires_at"] > answer["expires_at"]
        clock.advance(11)
        assert project.services.presence.get_composing(alice, ticket["id"]) == []
        assert project.services.presence.expire_composing() == 1
        seen = []
        with trio.fail_after(60):  # a hang guard, not a speed check
            async with aclosing(sub.events()) as events:
                async for _, text in events:
                    seen.append(json.loads(text))
                    if seen[-1]["data"].get("composing") is False:
                        break
    composing = [e["data"]["composing"] for e in seen if e["type"] == "presence.composing"]
    assert composing == [True, False]  # the quick renewal was not re-announced


async def test_viewing_is_announced_to_those_who_can_see_the_ticket(project: Project, desk: Desk) -> None:
    ticket = await desk.alice.call(project, "ticket.create", title="help")
    await desk.sam.call(project, "presence.set_viewing_ticket", ticket_id=ticket["id"])
    await desk.sam.call(project, "presence.set_viewing_ticket", ticket_id=None)
    rows = project.storage.rows("SELECT * FROM events WHERE type = 'presence.viewing' ORDER BY seq")
    assert [json.loads(r["data"]) for r in rows] == [
        {"user_id": desk.sam.user_id, "ticket_id": ticket["id"]},
        {"user_id": desk.sam.user_id, "ticket_id": None},
    ]
    # "stopped viewing" is still about the ticket, so only its audience hears of it.
    assert [r["ticket_id"] for r in rows] == [ticket["id"], ticket["id"]]
    presence = await desk.alice.call(project, "presence.list")
    sam = next(p for p in presence["items"] if p["user_id"] == desk.sam.user_id)
    assert sam["status"] == "online" and sam["viewing_ticket_id"] is None
