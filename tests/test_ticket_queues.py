"""The inbox's queues on the server: every ``ticket.list`` filter and sort applied in SQL, pages exact.

A realistic inbox of 10,000 tickets is written straight into the project's real SQLite file (through
the API it would take minutes); a smaller one goes through ``ticket.create`` / ``ticket.update`` so the
filters see what the services write. Expected answers are computed in Python from the same data.
"""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from hero_assistance.core import Forbidden, InvalidParams, Project
from hero_assistance.core._paging import encode_cursor

from .conftest import Desk

STATUSES = ("open", "pending", "resolved", "closed")
PRIORITIES = ("low", "normal", "high", "urgent")
RANK = {p: i for i, p in enumerate(PRIORITIES)}


async def walk(person: Any, project: Project, limit: int = 200, **params: Any) -> list[dict[str, Any]]:
    """Every item of a ticket.list, page by page."""
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = await person.call(project, "ticket.list", limit=limit, cursor=cursor, **params)
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items


def seed_big_inbox(project: Project, desk: Desk, count: int = 10_000) -> list[dict[str, Any]]:
    """``count`` tickets with every status, priority, assignee and a few tags; Alice is a member of some."""
    rng = random.Random(13)
    assignees = [None, desk.sam.user_id, desk.ada.user_id]
    rows: list[dict[str, Any]] = []
    with project.storage.write() as conn:
        for i in range(count):
            # Times collide on purpose (every 7 tickets share one): the id must break the ties.
            created = f"2025-01-01T00:00:00.{i // 7:06d}Z"
            activity = f"2025-02-{1 + rng.randrange(20):02d}T00:00:00.000000Z"
            row = {
                "title": f"ticket {i}",
                "body": "",
                "status": rng.choice(STATUSES),
                "priority": "urgent" if i % 200 == 0 else rng.choice(PRIORITIES[:3]),
                "created_by": desk.alice.user_id if i % 50 == 0 else desk.bob.user_id,
                "assignee_id": rng.choice(assignees),
                "tags": json.dumps(sorted(rng.sample(["sync", "desktop", "billing"], rng.randrange(3)))),
                "archived": int(i % 97 == 0),
                "created_at": created,
                "updated_at": activity,
                "last_activity_at": activity,
            }
            cur = conn.execute(
                f"INSERT INTO tickets ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})", tuple(row.values())
            )
            row["id"] = cur.lastrowid
            row["tags"] = json.loads(row["tags"])
            conn.execute(
                "INSERT INTO members (ticket_id, user_id, added_at) VALUES (?, ?, ?)",
                (row["id"], row["created_by"], created),
            )
            rows.append(row)
    return rows


def expected(rows: list[dict[str, Any]], *, sort: str = "activity", order: str = "desc", **want: Any) -> list[int]:
    picked = [
        r
        for r in rows
        if bool(r["archived"]) == want.get("archived", False)
        and r["status"] in want.get("status", STATUSES)
        and r["priority"] in want.get("priority", PRIORITIES)
        and (not want.get("unassigned") or r["assignee_id"] is None)
        and ("assignee_id" not in want or r["assignee_id"] == want["assignee_id"])
        and set(want.get("tags", ())) <= set(r["tags"])
        and ("member" not in want or r["created_by"] == want["member"])
    ]
    keys = {
        "activity": lambda r: (r["last_activity_at"], r["id"]),
        "created": lambda r: (r["created_at"], r["id"]),
        "priority": lambda r: (RANK[r["priority"]], r["last_activity_at"], r["id"]),
    }
    picked.sort(key=keys[sort], reverse=order == "desc")
    return [r["id"] for r in picked]


@pytest.fixture
async def big(project: Project, desk: Desk) -> list[dict[str, Any]]:
    return seed_big_inbox(project, desk)


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"priority": "urgent"},
        {"priority": ["urgent", "high"], "sort": "created", "order": "asc"},
        {"status": ["open", "pending"], "unassigned": True},
        {"status": "resolved", "sort": "priority"},
        {"sort": "priority", "order": "asc", "archived": True},
        {"tags": ["sync", "desktop"], "assignee_id": 3},
        {"unassigned": True, "priority": "urgent", "sort": "created"},
    ],
)
async def test_agent_queues_are_exact_over_ten_thousand_tickets(
    project: Project, desk: Desk, big: list[dict[str, Any]], params: dict[str, Any]
) -> None:
    if "assignee_id" in params:
        params = {**params, "assignee_id": desk.sam.user_id}
    want = {k: ([v] if k in ("status", "priority") and isinstance(v, str) else v) for k, v in params.items()}
    ids = [t["id"] for t in await walk(desk.sam, project, **params)]
    assert ids == expected(big, **want)
    assert ids  # every queue of the seed holds tickets: an empty answer would prove nothing


async def test_the_urgent_queue_holds_all_fifty_urgent_tickets(
    project: Project, desk: Desk, big: list[dict[str, Any]]
) -> None:
    # The case: 50 urgent tickets among 10,000 (one archived), served in pages of 12.
    urgent = await walk(desk.sam, project, limit=12, priority="urgent")
    assert len(urgent) == 49 and {t["priority"] for t in urgent} == {"urgent"}
    unassigned = await walk(desk.sam, project, unassigned=True)
    assert len(unassigned) == len(expected(big, unassigned=True)) and all(t["assignee_id"] is None for t in unassigned)


async def test_a_customer_queue_is_theirs_and_sorted_alike(
    project: Project, desk: Desk, big: list[dict[str, Any]]
) -> None:
    for sort in ("activity", "created", "priority"):
        ids = [t["id"] for t in await walk(desk.alice, project, limit=7, sort=sort, status=["open", "closed"])]
        assert ids == expected(big, sort=sort, status=["open", "closed"], member=desk.alice.user_id)
    with pytest.raises(Forbidden):
        await desk.alice.call(project, "ticket.list", tags=["sync"])


async def test_pages_use_an_index_not_a_sort_of_every_ticket(
    project: Project, desk: Desk, big: list[dict[str, Any]]
) -> None:
    """Each agent queue reads an index in its order (no temporary b-tree over the whole table)."""
    from hero_assistance.core._tickets import _SORTS, PRIORITY_RANK

    assert PRIORITY_RANK in _SORTS["priority"].key_sql
    cases = {
        "activity": "ORDER BY t.last_activity_at DESC, t.id DESC",
        "created": "ORDER BY t.created_at DESC, t.id DESC",
        "priority": f"ORDER BY {PRIORITY_RANK} DESC, t.last_activity_at DESC, t.id DESC",
    }
    for sort, order_by in cases.items():
        for extra in ("", " AND t.assignee_id IS NULL", " AND t.priority IN ('urgent')"):
            if sort != "activity" and extra:
                continue
            plan = project.storage.rows(
                f"EXPLAIN QUERY PLAN SELECT t.* FROM tickets t WHERE t.archived = 0{extra} {order_by} LIMIT 51"
            )
            details = " ".join(str(r["detail"]) for r in plan)
            assert "USE TEMP B-TREE" not in details, (sort, extra, details)
            assert "USING INDEX" in details, (sort, extra, details)


async def test_filters_see_what_the_services_write(project: Project, desk: Desk) -> None:
    made = [await desk.alice.call(project, "ticket.create", title=f"t{i}", priority=p) for i, p in enumerate(RANK)]
    await desk.sam.call(project, "ticket.update", id=made[0]["id"], assignee_id=desk.sam.user_id, status="pending")
    await desk.sam.call(project, "ticket.update", id=made[1]["id"], tags=["Sync", "desktop"])
    await desk.sam.call(project, "ticket.archive", id=made[2]["id"])
    unassigned = await walk(desk.sam, project, unassigned=True)
    assert {t["id"] for t in unassigned} == {made[3]["id"], made[1]["id"]}
    assert [t["id"] for t in await walk(desk.sam, project, tags=["sync"])] == [made[1]["id"]]
    assert [t["id"] for t in await walk(desk.sam, project, status="pending")] == [made[0]["id"]]
    by_priority = await walk(desk.sam, project, sort="priority")
    assert [t["priority"] for t in by_priority] == ["urgent", "normal", "low"]
    assert [t["id"] for t in await walk(desk.sam, project, archived=True)] == [made[2]["id"]]


@pytest.mark.parametrize(
    "params",
    [
        {"status": []},
        {"status": ["open", "bogus"]},
        {"priority": "critical"},
        {"sort": "title"},
        {"order": "up"},
        {"unassigned": True, "assignee_id": 3},
        {"cursor": encode_cursor("activity.desc", "x")},
        {"cursor": encode_cursor("created.desc", "2025", 1), "sort": "activity"},
        {"cursor": encode_cursor("priority.desc", "urgent", "2025", 1), "sort": "priority"},
        {"cursor": "not-a-cursor!"},
    ],
)
async def test_bad_queue_params_are_invalid_params(project: Project, desk: Desk, params: dict[str, Any]) -> None:
    with pytest.raises(InvalidParams):
        await desk.sam.call(project, "ticket.list", **params)


async def test_a_cursor_continues_only_its_own_sort(project: Project, desk: Desk) -> None:
    for i in range(5):
        await desk.alice.call(project, "ticket.create", title=f"t{i}")
    page = await desk.sam.call(project, "ticket.list", limit=2, sort="created", order="asc")
    assert page["next_cursor"]
    with pytest.raises(InvalidParams) as err:
        await desk.sam.call(project, "ticket.list", limit=2, cursor=page["next_cursor"])
    assert err.value.data["field"] == "cursor"
    more = {"sort": "created", "order": "asc", "cursor": page["next_cursor"]}
    follow = await desk.sam.call(project, "ticket.list", limit=2, **more)
    assert [t["title"] for t in page["items"] + follow["items"]] == ["t0", "t1", "t2", "t3"]
