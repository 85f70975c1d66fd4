"""Comments: threaded replies, internal notes for agents, image-only replies."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from typing import Any

from ._attachments import Attachments
from ._audit import audit
from ._context import Context
from ._errors import InvalidParams, NotFound
from ._identity import Actor
from ._paging import decode_cursor, encode_cursor
from ._permissions import Scope, permits, require
from ._records import Comment, Page, converter, format_time, parse_time
from ._tickets import Tickets, check_body

# A customer replying to a ticket that waits on them or was resolved wakes it up again.
REOPENED_BY_CUSTOMER_REPLY = ("pending", "resolved")


class Comments:
    def __init__(self, ctx: Context, tickets: Tickets, attachments: Attachments) -> None:
        self.ctx = ctx
        self.storage = ctx.storage
        self.hub = ctx.hub
        self.tickets = tickets
        self.attachments = attachments

    def _records(self, rows: list[sqlite3.Row]) -> list[Comment]:
        attachments = self.attachments.for_comments([r["id"] for r in rows])
        return [
            Comment(
                id=r["id"],
                ticket_id=r["ticket_id"],
                author_id=r["author_id"],
                parent_id=r["parent_id"],
                body=r["body"],
                internal=bool(r["internal"]),
                attachments=attachments[r["id"]],
                created_at=parse_time(r["created_at"]),
                edited_at=parse_time(r["edited_at"]) if r["edited_at"] else None,
            )
            for r in rows
        ]

    def _announce(
        self, kind: str, actor: Actor, comment: Comment, ts: datetime, data: dict[str, Any], members: frozenset[int]
    ) -> None:
        """The audit row and the event of one comment change, in the caller's transaction."""
        audit(
            self.storage, ts=ts, actor_id=actor.user_id, action=kind, ticket_id=comment.ticket_id,
            detail={"comment_id": comment.id}, internal=comment.internal,
        )  # fmt: skip
        self.hub.record(
            kind, ts=ts, ticket_id=comment.ticket_id, actor_id=actor.user_id, data=data,
            internal=comment.internal, members=members,
        )  # fmt: skip

    def _load(self, comment_id: int) -> Comment:
        row = self.storage.row("SELECT * FROM comments WHERE id = ?", (comment_id,))
        assert row is not None
        return self._records([row])[0]

    def _visible(self, actor: Actor, comment_id: int) -> tuple[sqlite3.Row, Scope]:
        row = self.storage.row("SELECT * FROM comments WHERE id = ?", (comment_id,))
        if row is None:
            raise NotFound.of("comment", comment_id)
        members = self.tickets.members_of(row["ticket_id"])
        scope = Scope(members=members, internal=bool(row["internal"]), author_id=row["author_id"])
        if not permits(actor, "comment.read", scope):
            raise NotFound.of("comment", comment_id)
        return row, scope

    def create(
        self,
        actor: Actor,
        *,
        ticket_id: int,
        body: str,
        parent_id: int | None,
        internal: bool,
        attachment_ids: list[int],
    ) -> Comment:
        ticket_row, members = self.tickets.visible(actor, ticket_id)
        require(actor, "comment.write", Scope(members=members, internal=internal))
        body = check_body(body, self.ctx.limits.comment_body_max_bytes)
        if not body.strip() and not attachment_ids:
            raise InvalidParams.field("body", "empty: write something or attach an image")
        if parent_id is not None:
            parent = self.storage.row("SELECT ticket_id, internal FROM comments WHERE id = ?", (parent_id,))
            visible = parent is not None and permits(
                actor, "comment.read", Scope(members=members, internal=bool(parent["internal"]))
            )
            if parent is None or not visible or parent["ticket_id"] != ticket_id:
                raise InvalidParams.field("parent_id", "not a comment of this ticket")
            if parent["internal"] and not internal:
                raise InvalidParams.field("internal", "a reply to an internal note must be internal too")
        now = self.ctx.now()
        stamp = format_time(now)
        with self.hub.transaction():
            comment_id = self.storage.insert(
                "comments",
                {
                    "ticket_id": ticket_id,
                    "author_id": actor.user_id,
                    "parent_id": parent_id,
                    "body": body,
                    "internal": int(internal),
                    "created_at": stamp,
                },
            )
            self.attachments.claim(actor, attachment_ids, ticket_id=ticket_id, comment_id=comment_id)
            if not internal and actor.user_id is not None and actor.user_id not in members:
                # Whoever replies publicly takes part in the ticket: the customer can see who they are.
                self.storage.insert("members", {"ticket_id": ticket_id, "user_id": actor.user_id, "added_at": stamp})
                members = members | {actor.user_id}
            if not internal:
                # Count and activity time are what everyone sees of a ticket: an internal note must
                # not move them, or customers could count notes and tell when agents discuss them.
                self.storage.execute(
                    "UPDATE tickets SET comment_count = comment_count + 1, last_activity_at = ?, updated_at = ? "
                    "WHERE id = ?",
                    (stamp, stamp, ticket_id),
                )
            comment = self._load(comment_id)
            self._announce("comment.created", actor, comment, now, {"comment": converter.unstructure(comment)}, members)
            if not internal and not actor.is_staff and ticket_row["status"] in REOPENED_BY_CUSTOMER_REPLY:
                self.storage.execute("UPDATE tickets SET status = 'open' WHERE id = ?", (ticket_id,))
                diff = {"status": {"from": ticket_row["status"], "to": "open"}}
                audit(
                    self.storage,
                    ts=now,
                    actor_id=actor.user_id,
                    action="ticket.updated",
                    ticket_id=ticket_id,
                    detail=diff,
                )
                ticket = self.tickets.load(ticket_id)
                self.hub.record(
                    "ticket.updated",
                    ts=now,
                    ticket_id=ticket_id,
                    actor_id=actor.user_id,
                    data={"ticket": converter.unstructure(ticket), "changes": diff},
                    members=members,
                )
        return comment

    def list(self, actor: Actor, ticket_id: int, limit: int, cursor: str | None) -> Page[Comment]:
        _, members = self.tickets.visible(actor, ticket_id)
        internal_scope = Scope(members=members, internal=True)
        key = decode_cursor(cursor, int)
        rows = self.storage.rows(
            "SELECT * FROM comments WHERE ticket_id = ? AND id > ? AND (internal = 0 OR ?) ORDER BY id LIMIT ?",
            (ticket_id, key[0] if key else 0, int(permits(actor, "comment.read", internal_scope)), limit + 1),
        )
        # The SQL leaves out internal notes for customers; the permission function has the last word.
        items = [
            c
            for c in self._records(rows[:limit])
            if permits(actor, "comment.read", Scope(members=members, internal=c.internal))
        ]
        return Page(items=items, next_cursor=encode_cursor(rows[limit - 1]["id"]) if len(rows) > limit else None)

    def update(self, actor: Actor, comment_id: int, body: str) -> Comment:
        _, scope = self._visible(actor, comment_id)
        require(actor, "comment.edit", scope)
        body = check_body(body, self.ctx.limits.comment_body_max_bytes)
        has_images = bool(self.storage.scalar("SELECT 1 FROM attachments WHERE comment_id = ?", (comment_id,)))
        if not body.strip() and not has_images:
            raise InvalidParams.field("body", "empty: write something or delete the comment")
        now = self.ctx.now()
        with self.hub.transaction():
            self.storage.execute(
                "UPDATE comments SET body = ?, edited_at = ? WHERE id = ?",
                (body, format_time(now), comment_id),
            )
            comment = self._load(comment_id)
            self._announce(
                "comment.updated", actor, comment, now, {"comment": converter.unstructure(comment)}, scope.members
            )
        return comment

    def delete(self, actor: Actor, comment_id: int) -> Comment:
        row, scope = self._visible(actor, comment_id)
        require(actor, "comment.delete", scope)
        comment = self._records([row])[0]
        shas = [a.sha256 for a in comment.attachments]
        now = self.ctx.now()
        with self.hub.transaction():
            # Replies move up to the deleted comment's parent, so a thread never loses its shape.
            self.storage.execute(
                "UPDATE comments SET parent_id = ? WHERE parent_id = ?", (row["parent_id"], comment_id)
            )
            self.storage.execute("DELETE FROM comments WHERE id = ?", (comment_id,))
            self.storage.execute(
                "UPDATE tickets SET comment_count = comment_count - ? WHERE id = ?",
                (0 if comment.internal else 1, row["ticket_id"]),
            )
            self._announce(
                "comment.deleted",
                actor,
                comment,
                now,
                {"comment_id": comment_id, "ticket_id": comment.ticket_id},
                scope.members,
            )
        self.attachments.forget_files(shas)
        return comment
