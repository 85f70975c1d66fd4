"""The audit trail: one row per change, written in the same transaction as the change."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from ._records import HistoryEntry, format_time, parse_time
from ._storage import Storage


def audit(
    storage: Storage,
    *,
    ts: datetime,
    actor_id: int | None,
    action: str,
    ticket_id: int | None = None,
    detail: dict[str, Any] | None = None,
    internal: bool = False,
) -> None:
    storage.insert(
        "audit",
        {
            "ticket_id": ticket_id,
            "actor_id": actor_id,
            "action": action,
            "detail": json.dumps(detail or {}, separators=(",", ":"), default=str),
            "internal": int(internal),
            "created_at": format_time(ts),
        },
    )


#: What of a ticket's changes a customer sees in its history: the fields their Ticket record shows
#: (priority too: they set it and see it). Tags are the agents' triage; archiving their housekeeping.
CUSTOMER_CHANGES = ("status", "title", "body", "priority", "assignee_id")

# A customer's history, chosen in SQL so that pages stay exact: the ticket's creation, public comment
# changes, changes touching CUSTOMER_CHANGES, and their own membership changes (not other people's).
_CUSTOMER_ENTRIES = (
    "(action = 'ticket.created'"
    " OR (action IN ('comment.created', 'comment.updated', 'comment.deleted') AND internal = 0)"
    " OR (action = 'ticket.updated' AND ("
    + " OR ".join(f"json_type(detail, '$.{c}') IS NOT NULL" for c in CUSTOMER_CHANGES)
    + "))"
    " OR (action IN ('member.added', 'member.removed') AND json_extract(detail, '$.user_id') = ?))"
)


def history_page(
    storage: Storage,
    ticket_id: int,
    *,
    include_internal: bool,
    after: int,
    limit: int,
    customer: int | None = None,
) -> list[HistoryEntry]:
    """Entries after ``after``; for a ``customer`` (their user id) only those about what they can see."""
    sql = "SELECT * FROM audit WHERE ticket_id = ? AND id > ? AND (internal = 0 OR ?)"
    params: list[Any] = [ticket_id, after, int(include_internal)]
    if customer is not None:
        sql += f" AND {_CUSTOMER_ENTRIES}"
        params.append(customer)
    rows = storage.rows(f"{sql} ORDER BY id LIMIT ?", (*params, limit))
    entries = []
    for r in rows:
        detail = json.loads(r["detail"])
        if customer is not None and r["action"] == "ticket.updated":
            detail = {k: v for k, v in detail.items() if k in CUSTOMER_CHANGES}
        entries.append(
            HistoryEntry(
                id=r["id"],
                ticket_id=r["ticket_id"],
                actor_id=r["actor_id"],
                action=r["action"],
                detail=detail,
                created_at=parse_time(r["created_at"]),
            )
        )
    return entries
