"""Full-text search over tickets and comments (FTS5), filtered to what the caller may read.

Two shapes, chosen for speed at a million comments:
- A customer's query is intersected inside FTS5 with the ``audience`` column (``m<user id>`` per
  member, ``internal`` on internal notes), so it costs the size of their own corpus.
- An agent sees everything, so a very common term could match a large part of the database;
  ranking is done within the newest ``WINDOW`` matching comments and the newest ``WINDOW``
  matching tickets (a rare term's matches all fit in the window, so only very common terms are
  affected, and for those the recent documents are the ones wanted).
Every hit is then checked with ``permits``: the index narrows, the permission function decides.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from ._context import Context
from ._errors import InvalidParams
from ._identity import Actor
from ._paging import decode_cursor, encode_cursor
from ._permissions import Scope, permits
from ._records import SearchHit, SearchResults, TicketStatus

WINDOW = 1000
# bm25 weights per column: title, body, audience, kind, ticket_id, comment_id, internal.
_BM25 = "bm25(s.search_index, 10.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0)"
_COLUMNS = f"s.rowid AS id, s.kind, s.ticket_id, s.comment_id, s.internal, {_BM25} AS score, t.status"
# CROSS JOIN keeps the full-text match the outer loop; each hit's ticket is one primary-key lookup.
_SOURCE = "search_index s CROSS JOIN tickets t ON t.id = s.ticket_id"
_STORAGE_FAILURES = ("locked", "disk", "i/o", "readonly", "no such table: search_index")


def malformed_query(exc: sqlite3.OperationalError, field: str) -> InvalidParams:
    """The -32602 for an FTS5 query the user mistyped; re-raises real storage failures."""
    if any(word in str(exc).lower() for word in _STORAGE_FAILURES):
        raise exc
    return InvalidParams.field(field, f"malformed search query ({exc})")


def check_self_contained(q: str, field: str = "q") -> None:
    """Refuse a query that could escape the parentheses it is wrapped in (``x) OR (y``)."""
    depth = 0
    quoted = False
    for char in q:
        if char == '"':
            quoted = not quoted  # FTS5 escapes a quote by doubling it: two toggles, no net change
        elif not quoted and char == "(":
            depth += 1
        elif not quoted and char == ")":
            depth -= 1
            if depth < 0:
                raise InvalidParams.field(field, "malformed search query (unbalanced parentheses)")
    if quoted or depth:
        raise InvalidParams.field(field, "malformed search query (unbalanced quotes or parentheses)")


class Search:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.storage = ctx.storage

    def query(
        self,
        actor: Actor,
        q: str,
        limit: int,
        cursor: str | None,
        *,
        statuses: Sequence[TicketStatus] = (),
        archived: bool | None = None,
    ) -> SearchResults:
        """Hits over every status and archived tickets, unless ``statuses`` / ``archived`` narrow them."""
        if not q.strip():
            raise InvalidParams.field("q", "empty query")
        check_self_contained(q)
        key = decode_cursor(cursor, float, int)
        # The ticket's status and archived flag filter inside the candidate query (before the window
        # of the newest matches is taken), so a filtered search is exact, not a filtered window.
        narrow = ""
        narrow_params: list[object] = []
        if statuses:
            narrow += f" AND t.status IN ({', '.join('?' * len(statuses))})"
            narrow_params += list(statuses)
        if archived is not None:
            narrow += " AND t.archived = ?"
            narrow_params.append(int(archived))
        params: list[object]
        if actor.is_staff:
            candidates = (
                f"SELECT * FROM (SELECT {_COLUMNS} FROM {_SOURCE} WHERE s.search_index MATCH ? AND s.rowid > 0{narrow} "
                "ORDER BY s.rowid DESC LIMIT ?) UNION ALL "
                f"SELECT * FROM (SELECT {_COLUMNS} FROM {_SOURCE} WHERE s.search_index MATCH ? AND s.rowid < 0{narrow} "
                "ORDER BY s.rowid ASC LIMIT ?)"
            )
            params = [q, *narrow_params, WINDOW, q, *narrow_params, WINDOW]
        else:
            candidates = f"SELECT {_COLUMNS} FROM {_SOURCE} WHERE s.search_index MATCH ?{narrow}"
            params = [f"({q}) AND audience:m{int(actor.user_id or 0)} NOT audience:internal", *narrow_params]
        after = ""
        if key:
            after = "WHERE (score, id) > (?, ?)"
            params += list(key)
        sql = f"SELECT * FROM ({candidates}) {after} ORDER BY score, id LIMIT ?"
        try:
            rows = self.storage.rows(sql, (*params, limit + 1))
        except sqlite3.OperationalError as exc:
            raise malformed_query(exc, "q") from None
        page = rows[:limit]
        items = [
            SearchHit(
                kind=r["kind"],
                ticket_id=int(r["ticket_id"]),
                comment_id=int(r["comment_id"]) if r["comment_id"] is not None else None,
                snippet=self._snippet(q, int(r["id"]), r["kind"]),
                rank=float(r["score"]),
                status=r["status"],
            )
            for r in self._permitted(actor, page)
        ]
        next_cursor = None
        if len(rows) > limit:
            last = page[-1]
            next_cursor = encode_cursor(float(last["score"]), int(last["id"]))
        return SearchResults(items=items, next_cursor=next_cursor)

    def _permitted(self, actor: Actor, rows: list[sqlite3.Row]) -> list[sqlite3.Row]:
        ticket_ids = sorted({int(r["ticket_id"]) for r in rows})
        members: dict[int, set[int]] = {t: set() for t in ticket_ids}
        if ticket_ids:
            marks = ",".join("?" * len(ticket_ids))
            for m in self.storage.rows(
                f"SELECT ticket_id, user_id FROM members WHERE ticket_id IN ({marks})", ticket_ids
            ):
                members[m[0]].add(m[1])
        return [
            r
            for r in rows
            if permits(
                actor,
                "comment.read",
                Scope(members=frozenset(members[int(r["ticket_id"])]), internal=bool(r["internal"])),
            )
        ]

    def _snippet(self, q: str, rowid: int, kind: str) -> str:
        # Highlight with the caller's own query on the title or body only (never the audience).
        row = self.storage.row(
            "SELECT snippet(search_index, 0, '**', '**', '…', 16), snippet(search_index, 1, '**', '**', '…', 16) "
            "FROM search_index WHERE search_index MATCH ? AND rowid = ?",
            (q, rowid),
        )
        if row is None:
            return ""
        title, body = row[0] or "", row[1] or ""
        if kind == "ticket" and ("**" in title or "**" not in body):
            return str(title)
        return str(body)
