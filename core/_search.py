"""Full-text search over tickets and comments (FTS5), filtered to what the caller may read."""

from __future__ import annotations

import sqlite3

from ._context import Context
from ._errors import InvalidParams
from ._identity import Actor
from ._paging import decode_cursor, encode_cursor
from ._records import SearchHit, SearchResults

_STORAGE_FAILURES = ("locked", "disk", "i/o", "readonly", "no such table: search_index")


def malformed_query(exc: sqlite3.OperationalError, field: str) -> InvalidParams:
    """The -32602 for an FTS5 query the user mistyped; re-raises real storage failures."""
    if any(word in str(exc).lower() for word in _STORAGE_FAILURES):
        raise exc
    return InvalidParams.field(field, f"malformed search query ({exc})")


class Search:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.storage = ctx.storage

    def query(self, actor: Actor, q: str, limit: int, cursor: str | None) -> SearchResults:
        if not q.strip():
            raise InvalidParams.field("q", "empty query")
        key = decode_cursor(cursor, float, int)
        member_join = ""
        params: list[object] = []
        if not actor.is_staff:
            member_join = "JOIN members m ON m.ticket_id = s.ticket_id AND m.user_id = ?"
            params.append(actor.user_id)
        params += [q, int(actor.is_staff)]
        after = ""
        if key:
            after = "WHERE (score, id) > (?, ?)"
            params += list(key)
        sql = (
            "SELECT * FROM ("
            "  SELECT s.rowid AS id, s.kind, s.ticket_id, s.comment_id,"
            "         snippet(search_index, -1, '**', '**', '…', 16) AS snippet, bm25(search_index) AS score"
            f"  FROM search_index s {member_join}"
            "  WHERE search_index MATCH ? AND (s.internal = 0 OR ?)"
            f") {after} ORDER BY score, id LIMIT ?"
        )
        try:
            rows = self.storage.rows(sql, (*params, limit + 1))
        except sqlite3.OperationalError as exc:
            raise malformed_query(exc, "q") from None
        items = [
            SearchHit(
                kind=r["kind"],
                ticket_id=int(r["ticket_id"]),
                comment_id=int(r["comment_id"]) if r["comment_id"] is not None else None,
                snippet=r["snippet"],
                rank=float(r["score"]),
            )
            for r in rows[:limit]
        ]
        next_cursor = None
        if len(rows) > limit:
            last = rows[limit - 1]
            next_cursor = encode_cursor(float(last["score"]), int(last["id"]))
        return SearchResults(items=items, next_cursor=next_cursor)
