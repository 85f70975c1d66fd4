"""Search: ranked FTS5 hits with snippets, paged, and only what the caller may read."""

from __future__ import annotations

import pytest

from hero_assistance.core import InvalidParams, Project

from .conftest import Desk


async def test_search_pages_and_filters(project: Project, desk: Desk) -> None:
    mine = await desk.alice.call(project, "ticket.create", title="Printer toner", body="cyan toner leaks")
    for i in range(7):
        await desk.alice.call(project, "comment.create", ticket_id=mine["id"], body=f"toner update {i}")
    await desk.sam.call(project, "comment.create", ticket_id=mine["id"], body="toner internal", internal=True)
    theirs = await desk.bob.call(project, "ticket.create", title="Bob toner", body="magenta toner")
    hits: list[dict[str, object]] = []
    cursor = None
    while True:
        page = await desk.alice.call(project, "search.query", q="toner", limit=3, cursor=cursor)
        hits += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(hits) == 8  # her ticket and 7 comments; never Bob's ticket or the internal note
    assert {h["ticket_id"] for h in hits} == {mine["id"]}
    assert all("**toner**" in str(h["snippet"]).lower() for h in hits)
    ranks = [float(h["rank"]) for h in hits]  # type: ignore[arg-type]
    assert ranks == sorted(ranks)
    agent = await desk.sam.call(project, "search.query", q="toner", limit=200)
    assert len(agent["items"]) == 10 and theirs["id"] in {h["ticket_id"] for h in agent["items"]}


@pytest.mark.parametrize("q", ['"open quote', "title:", "AND", "NEAR(a b", "(", "   "])
async def test_malformed_queries_are_invalid_params(project: Project, desk: Desk, q: str) -> None:
    with pytest.raises(InvalidParams) as err:
        await desk.alice.call(project, "search.query", q=q)
    assert err.value.data["field"] == "q"
