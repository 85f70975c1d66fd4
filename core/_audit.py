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


def history_page(
    storage: Storage, ticket_id: int, *, include_internal: bool, after: int, limit: int
) -> list[HistoryEntry]:
    rows = storage.rows(
        "SELECT * FROM audit WHERE ticket_id = ? AND id > ? AND (internal = 0 OR ?) ORDER BY id LIMIT ?",
        (ticket_id, after, int(include_internal), limit),
    )
    return [
        HistoryEntry(
            id=r["id"],
            ticket_id=r["ticket_id"],
            actor_id=r["actor_id"],
            action=r["action"],
            detail=json.loads(r["detail"]),
            created_at=parse_time(r["created_at"]),
        )
        for r in rows
    ]
