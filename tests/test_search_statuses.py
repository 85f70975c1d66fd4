"""search.query looks at every status and at archived tickets unless told otherwise, and says each hit's status."""

from __future__ import annotations

from typing import Any

import pytest

from hero_assistance.core import InvalidParams, Project

from .conftest import Desk


async def search_all(person: Any, project: Project, limit: int = 3, **params: Any) -> list[dict[str, Any]]:
    hits: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = await person.call(project, "search.query", limit=limit, cursor=cursor, **params)
        hits += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return hits


@pytest.fixture
async def tickets(project: Project, desk: Desk) -> dict[str, dict[str, Any]]:
    """One battery ticket of Alice's per status, one archived, one of Bob's; a comment and a note on each."""
    made: dict[str, dict[str, Any]] = {}
    for status in ("open", "pending", "resolved", "closed", "archived"):
        t = await desk.alice.call(project, "ticket.create", title=f"Battery drains ({status})", body="battery")
        await desk.alice.call(project, "comment.create", ticket_id=t["id"], body="the battery is hot")
        await desk.sam.call(project, "comment.create", ticket_id=t["id"], body="battery recall?", internal=True)
        if status == "archived":
            await desk.sam.call(project, "ticket.archive", id=t["id"])
        elif status != "open":
            await desk.sam.call(project, "ticket.update", id=t["id"], status=status)
        made[status] = t
    made["bob"] = await desk.bob.call(project, "ticket.create", title="Bob's battery", body="battery")
    return made


async def test_every_status_and_archived_are_searched_with_their_status(
    project: Project, desk: Desk, tickets: dict[str, dict[str, Any]]
) -> None:
    hits = await search_all(desk.alice, project, q="battery")
    ids = {h["ticket_id"] for h in hits}
    assert ids == {tickets[s]["id"] for s in ("open", "pending", "resolved", "closed", "archived")}
    assert len(hits) == 10  # each ticket and its public comment, never a note nor Bob's ticket
    status_of = {h["ticket_id"]: h["status"] for h in hits}
    for status in ("open", "pending", "resolved", "closed"):
        assert status_of[tickets[status]["id"]] == status
    assert set(hits[0]) == {"kind", "ticket_id", "comment_id", "snippet", "rank", "status"}
    # The agent sees the notes too, and Bob's ticket.
    assert len(await search_all(desk.sam, project, q="battery")) == 5 * 3 + 1


@pytest.mark.parametrize("who", ["alice", "sam"])
async def test_status_and_archived_filters_page_exactly(
    project: Project, desk: Desk, tickets: dict[str, dict[str, Any]], who: str
) -> None:
    person = getattr(desk, who)
    resolved = await search_all(person, project, limit=1, q="battery", status="resolved")
    assert {h["ticket_id"] for h in resolved} == {tickets["resolved"]["id"]}
    assert {h["status"] for h in resolved} == {"resolved"}
    done = await search_all(person, project, limit=2, q="battery", status=["resolved", "closed"], archived=False)
    assert {h["ticket_id"] for h in done} == {tickets["resolved"]["id"], tickets["closed"]["id"]}
    archived = await search_all(person, project, q="battery", archived=True)
    assert {h["ticket_id"] for h in archived} == {tickets["archived"]["id"]}
    live = await search_all(person, project, q="battery", archived=False)
    assert tickets["archived"]["id"] not in {h["ticket_id"] for h in live}


@pytest.mark.parametrize(
    "params",
    [
        {"q": '"open quote', "status": "open"},
        {"q": "battery", "status": "fixed"},
        {"q": "battery", "status": []},
        {"q": "battery", "archived": "yes"},
        {"q": "battery", "cursor": "forged"},
    ],
)
async def test_bad_search_params_are_invalid_params(
    project: Project, desk: Desk, tickets: dict[str, dict[str, Any]], params: dict[str, Any]
) -> None:
    with pytest.raises(InvalidParams):
        await desk.alice.call(project, "search.query", **params)
