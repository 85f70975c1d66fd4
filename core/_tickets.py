"""Tickets, their members and their history."""

from __future__ import annotations

import json
import sqlite3
from typing import Any, Literal

import attrs

from ._attachments import Attachments
from ._audit import audit, history_page
from ._context import Context
from ._errors import Conflict, Forbidden, InvalidParams, NotFound
from ._identity import Actor
from ._jsonschema import UNSET, Unset
from ._paging import decode_cursor, encode_cursor
from ._permissions import Scope, permits, require
from ._records import (
    HistoryEntry,
    Page,
    Priority,
    Ticket,
    TicketStatus,
    User,
    converter,
    format_time,
    parse_time,
)
from ._search import check_self_contained, malformed_query
from ._users import Users, user_from_row

MAX_TAGS = 20
#: The fields of a ticket only agents see (customers' records and events leave them out).
TRIAGE_CHANGES = frozenset({"tags"})

# The numeric rank of a priority, for sorting; an index on the same expression (migration 7) serves it.
PRIORITY_RANK = "(CASE t.priority WHEN 'urgent' THEN 3 WHEN 'high' THEN 2 WHEN 'normal' THEN 1 ELSE 0 END)"

TicketSort = Literal["activity", "created", "priority"]
SortOrder = Literal["desc", "asc"]


@attrs.frozen
class _Sort:
    key_sql: tuple[str, ...]  # the sort key, ending with the id so that every key is unique
    key_types: tuple[type, ...]  # the types of those columns inside a cursor


_SORTS: dict[str, _Sort] = {
    "activity": _Sort(("t.last_activity_at", "t.id"), (str, int)),
    "created": _Sort(("t.created_at", "t.id"), (str, int)),
    "priority": _Sort((PRIORITY_RANK, "t.last_activity_at", "t.id"), (int, str, int)),
}


@attrs.frozen(kw_only=True)
class TicketQuery:
    """What ``ticket.list`` selects (every field is a filter or the sort; all applied in SQL)."""

    statuses: list[TicketStatus] = attrs.field(factory=list)
    priorities: list[Priority] = attrs.field(factory=list)
    assignee_id: int | None = None
    unassigned: bool = False
    tags: list[str] = attrs.field(factory=list)
    archived: bool = False
    mine: bool = False
    query: str | None = None
    sort: TicketSort = "activity"
    order: SortOrder = "desc"


def clean_title(title: str) -> str:
    title = title.strip()
    if not 1 <= len(title) <= 200:
        raise InvalidParams.field("title", "1 to 200 characters after trimming")
    return title


def clean_tags(tags: list[str]) -> list[str]:
    cleaned = list(dict.fromkeys(t.strip().lower() for t in tags if t.strip()))
    if len(cleaned) > MAX_TAGS or any(len(t) > 50 for t in cleaned):
        raise InvalidParams.field("tags", f"at most {MAX_TAGS} tags of at most 50 characters")
    return cleaned


def check_body(body: str, limit: int, field: str = "body") -> str:
    if len(body.encode()) > limit:
        raise InvalidParams.field(field, f"at most {limit} bytes")
    return body


class Tickets:
    def __init__(self, ctx: Context, users: Users, attachments: Attachments) -> None:
        self.ctx = ctx
        self.storage = ctx.storage
        self.hub = ctx.hub
        self.users = users
        self.attachments = attachments

    # -- loading ----------------------------------------------------------------------------
    def members_of(self, ticket_id: int) -> frozenset[int]:
        rows = self.storage.rows("SELECT user_id FROM members WHERE ticket_id = ?", (ticket_id,))
        return frozenset(r[0] for r in rows)

    def visible(self, actor: Actor, ticket_id: int) -> tuple[sqlite3.Row, frozenset[int]]:
        """The ticket row and its members, or NotFound for what does not exist or cannot be seen."""
        row = self.storage.row("SELECT * FROM tickets WHERE id = ?", (ticket_id,))
        if row is None:
            raise NotFound.of("ticket", ticket_id)
        members = self.members_of(ticket_id)
        if not permits(actor, "ticket.read", Scope(members=members, created_by=row["created_by"])):
            raise NotFound.of("ticket", ticket_id)
        return row, members

    def _records(self, rows: list[sqlite3.Row]) -> list[Ticket]:
        ids = [r["id"] for r in rows]
        members: dict[int, list[int]] = {i: [] for i in ids}
        if ids:
            marks = ",".join("?" * len(ids))
            for m in self.storage.rows(
                f"SELECT ticket_id, user_id FROM members WHERE ticket_id IN ({marks}) ORDER BY added_at, user_id",
                ids,
            ):
                members[m[0]].append(m[1])
        attachments = self.attachments.for_ticket(ids)
        return [
            Ticket(
                id=r["id"],
                title=r["title"],
                body=r["body"],
                status=r["status"],
                priority=r["priority"],
                created_by=r["created_by"],
                assignee_id=r["assignee_id"],
                tags=json.loads(r["tags"]),
                archived=bool(r["archived"]),
                members=members[r["id"]],
                comment_count=r["comment_count"],
                created_at=parse_time(r["created_at"]),
                updated_at=parse_time(r["updated_at"]),
                last_activity_at=parse_time(r["last_activity_at"]),
                attachments=attachments[r["id"]],
            )
            for r in rows
        ]

    def load(self, ticket_id: int) -> Ticket:
        row = self.storage.row("SELECT * FROM tickets WHERE id = ?", (ticket_id,))
        if row is None:
            raise NotFound.of("ticket", ticket_id)
        return self._records([row])[0]

    def _emit(self, type: str, actor: Actor, ticket: Ticket, data: dict[str, Any], **extra: Any) -> None:
        self.hub.record(
            type,
            ts=self.ctx.now(),
            ticket_id=ticket.id,
            actor_id=actor.user_id,
            data=data,
            members=extra.pop("members", frozenset(ticket.members)),
            **extra,
        )

    # -- reads ------------------------------------------------------------------------------
    def get(self, actor: Actor, ticket_id: int) -> Ticket:
        row, _ = self.visible(actor, ticket_id)
        return self.seen_by(actor, self._records([row])[0])

    def find(self, actor: Actor, query: TicketQuery, limit: int, cursor: str | None) -> Page[Ticket]:
        """One page of the tickets ``query`` selects, every filter and the sort applied in SQL."""
        sort = _SORTS[query.sort]
        tag = f"{query.sort}.{query.order}"
        key = decode_cursor(cursor, str, *sort.key_types)
        if key is not None and key[0] != tag:
            raise InvalidParams.field("cursor", "the cursor belongs to another sort order")
        source, where, params = self._selection(actor, query)
        if key:
            columns = ", ".join(sort.key_sql)
            where.append(f"({columns}) {'<' if query.order == 'desc' else '>'} ({', '.join('?' * len(sort.key_sql))})")
            params += list(key[1:])
        direction = " DESC" if query.order == "desc" else ""
        order_by = ", ".join(column + direction for column in sort.key_sql)
        keys = ", ".join(f"{column} AS k{i}" for i, column in enumerate(sort.key_sql))
        sql = f"SELECT t.*, {keys} FROM {source} WHERE {' AND '.join(where)} ORDER BY {order_by} LIMIT ?"
        try:
            rows = self.storage.rows(sql, (*params, limit + 1))
        except sqlite3.OperationalError as exc:
            if not query.query:
                raise
            raise malformed_query(exc, "query") from None
        # The SQL narrows to the actor's tickets; the permission function has the last word.
        items = [
            t for t in self._records(rows[:limit]) if permits(actor, "ticket.read", Scope(members=frozenset(t.members)))
        ]
        next_cursor = None
        if len(rows) > limit:
            last = rows[limit - 1]
            next_cursor = encode_cursor(tag, *(last[f"k{i}"] for i in range(len(sort.key_sql))))
        return Page(items=self.as_seen_by(actor, items), next_cursor=next_cursor)

    def _selection(self, actor: Actor, query: TicketQuery) -> tuple[str, list[str], list[Any]]:
        """The FROM clause, the WHERE terms and their values of a ticket query, for ``actor``."""
        source = "tickets t"
        where = ["t.archived = ?"]
        params: list[Any] = [int(query.archived)]
        if not actor.is_staff:
            # CROSS JOIN fixes the loop order: walk the customer's few memberships, not every ticket
            # by activity (the planner's choice, 60x slower at 100,000 tickets).
            source = "members m CROSS JOIN tickets t ON t.id = m.ticket_id"
            where.insert(0, "m.user_id = ?")
            params.insert(0, actor.user_id)
        for column, values in (("status", query.statuses), ("priority", query.priorities)):
            if values:
                where.append(f"t.{column} IN ({', '.join('?' * len(values))})")
                params += values
        if query.unassigned:
            if query.assignee_id is not None:
                raise InvalidParams.field("unassigned", "cannot be combined with assignee_id")
            where.append("t.assignee_id IS NULL")
        elif query.assignee_id is not None:
            where.append("t.assignee_id = ?")
            params.append(query.assignee_id)
        if query.tags:
            if not permits(actor, "ticket.read_triage"):
                raise Forbidden("tags are the agents' triage: customers cannot filter by them")
            for name in dict.fromkeys(t.strip().lower() for t in query.tags):
                where.append("EXISTS (SELECT 1 FROM json_each(t.tags) WHERE json_each.value = ?)")
                params.append(name)
        if query.mine:
            where.append("(t.assignee_id = ? OR t.created_by = ?)")
            params += [actor.user_id, actor.user_id]
        if query.query:
            check_self_contained(query.query, "query")
            where.append("t.id IN (SELECT ticket_id FROM search_index WHERE search_index MATCH ?)")
            # The same audience narrowing as search.query: a customer's match never leaves their tickets.
            q = query.query
            params.append(q if actor.is_staff else f"({q}) AND audience:m{actor.user_id} NOT audience:internal")
        return source, where, params

    def as_seen_by(self, actor: Actor, tickets: list[Ticket]) -> list[Ticket]:
        """The tickets as ``actor`` may see them: without tags for whoever may not see triage."""
        if permits(actor, "ticket.read_triage"):
            return tickets
        return [attrs.evolve(t, tags=UNSET) for t in tickets]

    def seen_by(self, actor: Actor, ticket: Ticket) -> Ticket:
        return self.as_seen_by(actor, [ticket])[0]

    def history(self, actor: Actor, ticket_id: int, limit: int, cursor: str | None) -> Page[HistoryEntry]:
        _, members = self.visible(actor, ticket_id)
        key = decode_cursor(cursor, int)
        # Entries about internal notes are shown to whoever may read internal notes on this ticket.
        internal_ok = permits(actor, "comment.read", Scope(members=members, internal=True))
        # Whoever may not see the agents' triage sees only the entries about what they can see.
        entries = history_page(
            self.storage,
            ticket_id,
            include_internal=internal_ok,
            after=key[0] if key else 0,
            limit=limit + 1,
            customer=None if permits(actor, "ticket.read_triage") else actor.user_id,
        )
        items = entries[:limit]
        return Page(items=items, next_cursor=encode_cursor(items[-1].id) if len(entries) > limit else None)

    # -- writes -----------------------------------------------------------------------------
    def create(
        self,
        actor: Actor,
        *,
        title: str,
        body: str,
        priority: Priority,
        tags: list[str],
        attachment_ids: list[int],
    ) -> Ticket:
        title = clean_title(title)
        body = check_body(body, self.ctx.limits.ticket_body_max_bytes)
        tags = clean_tags(tags)
        now = self.ctx.now()
        stamp = format_time(now)
        with self.hub.transaction():
            ticket_id = self.storage.insert(
                "tickets",
                {
                    "title": title,
                    "body": body,
                    "status": "open",
                    "priority": priority,
                    "created_by": actor.user_id,
                    "tags": json.dumps(tags),
                    "created_at": stamp,
                    "updated_at": stamp,
                    "last_activity_at": stamp,
                },
            )
            self.storage.insert("members", {"ticket_id": ticket_id, "user_id": actor.user_id, "added_at": stamp})
            self.attachments.claim(actor, attachment_ids, ticket_id=ticket_id, comment_id=None)
            ticket = self.load(ticket_id)
            audit(self.storage, ts=now, actor_id=actor.user_id, action="ticket.created", ticket_id=ticket_id)
            self._emit("ticket.created", actor, ticket, {"ticket": converter.unstructure(ticket)})
        return self.seen_by(actor, ticket)

    def update(
        self,
        actor: Actor,
        ticket_id: int,
        *,
        title: str | Unset,
        body: str | Unset,
        status: TicketStatus | Unset,
        priority: Priority | Unset,
        assignee_id: int | Unset | None,
        tags: list[str] | Unset,
    ) -> Ticket:
        row, members = self.visible(actor, ticket_id)
        scope = Scope(members=members, created_by=row["created_by"])
        changes: dict[str, Any] = {}
        if not isinstance(title, Unset):
            require(actor, "ticket.edit_content", scope)
            changes["title"] = clean_title(title)
        if not isinstance(body, Unset):
            require(actor, "ticket.edit_content", scope)
            changes["body"] = check_body(body, self.ctx.limits.ticket_body_max_bytes)
        if not isinstance(status, Unset) and status != row["status"]:
            reopening = status == "open" and row["status"] != "open"
            if not permits(actor, "ticket.manage", scope) and not (
                reopening and permits(actor, "ticket.reopen", scope)
            ):
                raise Forbidden("customers may only reopen their own tickets")
            changes["status"] = status
        for column, value in (("priority", priority), ("tags", tags)):
            if not isinstance(value, Unset):
                require(actor, "ticket.manage", scope)
                changes[column] = json.dumps(clean_tags(value)) if column == "tags" else value  # type: ignore[arg-type]
        new_member: int | None = None
        if not isinstance(assignee_id, Unset):
            require(actor, "ticket.manage", scope)
            if assignee_id is not None:
                if self.users.role_of(assignee_id) not in ("support", "admin"):
                    raise InvalidParams.field("assignee_id", "must be a support agent or admin")
                if assignee_id not in members:
                    new_member = assignee_id
            changes["assignee_id"] = assignee_id
        changes = {k: v for k, v in changes.items() if v != row[k]}
        if not changes:
            return self.seen_by(actor, self._records([row])[0])
        now = self.ctx.now()
        stamp = format_time(now)
        with self.hub.transaction():
            assignments = ", ".join(f"{c} = ?" for c in changes)
            self.storage.execute(
                f"UPDATE tickets SET {assignments}, updated_at = ?, last_activity_at = ? WHERE id = ?",
                (*changes.values(), stamp, stamp, ticket_id),
            )
            if new_member is not None:
                self.storage.insert("members", {"ticket_id": ticket_id, "user_id": new_member, "added_at": stamp})
            ticket = self.load(ticket_id)
            diff = {
                c: {"from": json.loads(row[c]) if c == "tags" else row[c], "to": getattr(ticket, c)} for c in changes
            }
            audit(
                self.storage,
                ts=now,
                actor_id=actor.user_id,
                action="ticket.updated",
                ticket_id=ticket_id,
                detail=diff,
            )
            # A change of tags alone is the agents' triage: its event goes to support only (internal).
            self._emit(
                "ticket.updated",
                actor,
                ticket,
                {"ticket": converter.unstructure(ticket), "changes": diff},
                internal=set(changes) <= TRIAGE_CHANGES,
            )
        return self.seen_by(actor, ticket)

    def set_archived(self, actor: Actor, ticket_id: int, archived: bool) -> Ticket:
        row, members = self.visible(actor, ticket_id)
        require(actor, "ticket.manage", Scope(members=members))
        if bool(row["archived"]) == archived:
            return self.seen_by(actor, self._records([row])[0])
        now = self.ctx.now()
        kind = "ticket.archived" if archived else "ticket.unarchived"
        with self.hub.transaction():
            self.storage.execute(
                "UPDATE tickets SET archived = ?, updated_at = ? WHERE id = ?",
                (int(archived), format_time(now), ticket_id),
            )
            ticket = self.load(ticket_id)
            audit(self.storage, ts=now, actor_id=actor.user_id, action=kind, ticket_id=ticket_id)
            self._emit(kind, actor, ticket, {"ticket": converter.unstructure(ticket)})
        return self.seen_by(actor, ticket)

    def delete(self, actor: Actor, ticket_id: int) -> Ticket:
        _, members = self.visible(actor, ticket_id)
        require(actor, "ticket.delete", Scope(members=members))
        ticket = self.load(ticket_id)
        shas = [r[0] for r in self.storage.rows("SELECT sha256 FROM attachments WHERE ticket_id = ?", (ticket_id,))]
        now = self.ctx.now()
        with self.hub.transaction():
            self.storage.execute("DELETE FROM tickets WHERE id = ?", (ticket_id,))
            audit(
                self.storage,
                ts=now,
                actor_id=actor.user_id,
                action="ticket.deleted",
                ticket_id=ticket_id,
                detail={"title": ticket.title},
            )
            # The members are gone with the ticket: the event keeps who may hear of its deletion.
            self._emit("ticket.deleted", actor, ticket, {"ticket_id": ticket_id}, members=members)
        self.attachments.forget_files(shas)
        return self.seen_by(actor, ticket)

    # -- members ----------------------------------------------------------------------------
    def member_list(self, actor: Actor, ticket_id: int, limit: int, cursor: str | None) -> Page[User]:
        self.visible(actor, ticket_id)
        key = decode_cursor(cursor, int)
        rows = self.storage.rows(
            "SELECT u.* FROM members m JOIN users u ON u.id = m.user_id WHERE m.ticket_id = ? AND u.id > ? "
            "ORDER BY u.id LIMIT ?",
            (ticket_id, key[0] if key else 0, limit + 1),
        )
        items = [user_from_row(r) for r in rows[:limit]]
        return Page(items=items, next_cursor=encode_cursor(items[-1].id) if len(rows) > limit else None)

    def member_change(self, actor: Actor, ticket_id: int, user_id: int, add: bool) -> Ticket:
        _, members = self.visible(actor, ticket_id)
        require(actor, "ticket.manage", Scope(members=members))
        if self.users.load(user_id) is None:
            raise NotFound.of("user", user_id)
        if add and user_id in members:
            raise Conflict("already a member", {"user_id": user_id})
        if not add and user_id not in members:
            raise NotFound.of("member", user_id)
        now = self.ctx.now()
        kind = "member.added" if add else "member.removed"
        with self.hub.transaction():
            if add:
                self.storage.insert(
                    "members", {"ticket_id": ticket_id, "user_id": user_id, "added_at": format_time(now)}
                )
            else:
                self.storage.execute("DELETE FROM members WHERE ticket_id = ? AND user_id = ?", (ticket_id, user_id))
            ticket = self.load(ticket_id)
            audit(
                self.storage,
                ts=now,
                actor_id=actor.user_id,
                action=kind,
                ticket_id=ticket_id,
                detail={"user_id": user_id},
            )
            self._emit(
                kind,
                actor,
                ticket,
                {"ticket_id": ticket_id, "user_id": user_id},
                subject_user_id=user_id,
                members=members | {user_id},
            )
        return self.seen_by(actor, ticket)

    def touch_activity(self, ticket_id: int, stamp: str) -> None:
        self.storage.execute(
            "UPDATE tickets SET last_activity_at = ?, updated_at = ? WHERE id = ?", (stamp, stamp, ticket_id)
        )
