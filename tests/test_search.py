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


async def test_a_query_cannot_escape_its_audience(project: Project, desk: Desk) -> None:
    await desk.bob.call(project, "ticket.create", title="bob secret", body="hidden")
    for q in ["x) OR (secret", "x) OR secret OR (y", '"x) OR (secret']:
        with pytest.raises(InvalidParams):
            await desk.alice.call(project, "search.query", q=q)
        with pytest.raises(InvalidParams):
            await desk.alice.call(project, "ticket.list", query=q)
    assert (await desk.alice.call(project, "search.query", q="secret OR hidden"))["items"] == []
    assert (await desk.alice.call(project, "search.query", q='x" OR "secret'))["items"] == []
    assert (await desk.alice.call(project, "search.query", q="audience:internal OR secret"))["items"] == []


async def test_membership_changes_move_search_visibility(project: Project, desk: Desk) -> None:
    ticket = await desk.alice.call(project, "ticket.create", title="shared printer")
    await desk.alice.call(project, "comment.create", ticket_id=ticket["id"], body="the shared printer jams")
    await desk.sam.call(project, "comment.create", ticket_id=ticket["id"], body="printer note", internal=True)
    assert (await desk.bob.call(project, "search.query", q="printer"))["items"] == []
    await desk.sam.call(project, "ticket.member.add", ticket_id=ticket["id"], user_id=desk.bob.user_id)
    found = await desk.bob.call(project, "search.query", q="printer")
    assert {h["kind"] for h in found["items"]} == {"ticket", "comment"}
    assert len(found["items"]) == 2  # never the internal note
    assert len((await desk.bob.call(project, "ticket.list", query="printer"))["items"]) == 1
    await desk.sam.call(project, "ticket.member.remove", ticket_id=ticket["id"], user_id=desk.bob.user_id)
    assert (await desk.bob.call(project, "search.query", q="printer"))["items"] == []
