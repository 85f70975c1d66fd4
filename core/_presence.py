"""Presence: who is online, who is looking at which ticket, who is writing a reply.

"Composing" expires by itself: a client renews it every few seconds while the person types, and
the project's housekeeping task announces its end when renewals stop. A composing indicator for an
internal note is flagged internal, so the permission function shows it to agents only.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta

import attrs

from ._context import Context
from ._identity import Actor, Role
from ._paging import decode_cursor, encode_cursor
from ._permissions import Scope, permits, require
from ._records import Page, Presence, PresenceStatus, format_time, parse_time
from ._tickets import Tickets


@attrs.frozen(kw_only=True)
class Composing:
    ticket_id: int
    internal: bool
    composing: bool
    expires_at: str


def presence_from_row(row: sqlite3.Row) -> Presence:
    return Presence(
        user_id=row["user_id"],
        status=row["status"],
        status_text=row["status_text"],
        viewing_ticket_id=row["viewing_ticket_id"],
        last_seen=parse_time(row["last_seen"]) if row["last_seen"] else None,
    )


class PresenceService:
    def __init__(self, ctx: Context, tickets: Tickets) -> None:
        self.ctx = ctx
        self.storage = ctx.storage
        self.hub = ctx.hub
        self.tickets = tickets

    def _row(self, user_id: int, *, role: bool = False) -> sqlite3.Row:
        """This person's presence row (created on first use); with ``role``, their role beside it."""
        sql = (
            "SELECT p.*, u.role FROM presence p JOIN users u ON u.id = p.user_id WHERE p.user_id = ?"
            if role
            else "SELECT * FROM presence WHERE user_id = ?"
        )
        row = self.storage.row(sql, (user_id,))
        if row is None:
            self.storage.execute("INSERT INTO presence (user_id) VALUES (?)", (user_id,))
            row = self.storage.row(sql, (user_id,))
        assert row is not None
        return row

    def update(self, actor: Actor, status: PresenceStatus, status_text: str) -> Presence:
        assert actor.user_id is not None
        now = self.ctx.now()
        text = status_text.strip()[:200]
        with self.hub.transaction():
            self._row(actor.user_id)
            self.storage.execute(
                "UPDATE presence SET status = ?, status_text = ?, last_seen = ? WHERE user_id = ?",
                (status, text, format_time(now), actor.user_id),
            )
            self.hub.record(
                "presence.updated",
                ts=now,
                ticket_id=None,
                actor_id=actor.user_id,
                data={"user_id": actor.user_id, "status": status, "status_text": text},
                subject_user_id=actor.user_id,
                subject_role=actor.role,
            )
            row = self._row(actor.user_id)
        return presence_from_row(row)

    def visible(self, actor: Actor, limit: int, cursor: str | None) -> Page[Presence]:
        key = decode_cursor(cursor, int)
        rows = self.storage.rows(
            "SELECT p.*, u.role FROM presence p JOIN users u ON u.id = p.user_id "
            "WHERE p.user_id > ? AND (? OR p.user_id = ? OR u.role IN ('support', 'admin')) "
            "ORDER BY p.user_id LIMIT ?",
            (key[0] if key else 0, int(actor.is_staff), actor.user_id, limit + 1),
        )
        page = rows[:limit]
        items = [
            self._as_seen_by(actor, presence_from_row(r))
            for r in page
            if permits(actor, "presence.read", Scope(subject_id=r["user_id"], subject_role=r["role"]))
        ]
        return Page(items=items, next_cursor=encode_cursor(page[-1]["user_id"]) if len(rows) > limit else None)

    def _as_seen_by(self, actor: Actor, presence: Presence) -> Presence:
        """The ticket someone views only for those who may read it: the ``presence.viewing`` event's rule."""
        ticket_id = presence.viewing_ticket_id
        if ticket_id is None:
            return presence
        members = self.tickets.members_of(ticket_id)
        if permits(actor, "ticket.read", Scope(members=members)) and self.storage.scalar(
            "SELECT 1 FROM tickets WHERE id = ?", (ticket_id,)
        ):
            return presence
        return attrs.evolve(presence, viewing_ticket_id=None)

    def set_viewing(self, actor: Actor, ticket_id: int | None) -> Presence:
        assert actor.user_id is not None
        members: frozenset[int] = frozenset()
        if ticket_id is not None:
            _, members = self.tickets.visible(actor, ticket_id)
        now = self.ctx.now()
        with self.hub.transaction():
            previous = self._row(actor.user_id)["viewing_ticket_id"]
            self.storage.execute(
                "UPDATE presence SET viewing_ticket_id = ?, last_seen = ?, "
                "status = CASE status WHEN 'offline' THEN 'online' ELSE status END WHERE user_id = ?",
                (ticket_id, format_time(now), actor.user_id),
            )
            # "Stopped viewing" goes to those who could see the ticket that was being viewed.
            about = ticket_id if ticket_id is not None else previous
            if about is not None and previous != ticket_id:
                if ticket_id is None:
                    members = self.tickets.members_of(about)
                self.hub.record(
                    "presence.viewing",
                    ts=now,
                    ticket_id=about,
                    actor_id=actor.user_id,
                    data={"user_id": actor.user_id, "ticket_id": ticket_id},
                    subject_user_id=actor.user_id,
                    subject_role=actor.role,
                    members=members,
                )
            row = self._row(actor.user_id)
        return presence_from_row(row)

    def set_composing(self, actor: Actor, ticket_id: int, internal: bool, composing: bool = True) -> Composing:
        assert actor.user_id is not None
        _, members = self.tickets.visible(actor, ticket_id)
        if composing:
            require(actor, "comment.write", Scope(members=members, internal=internal))
        now = self.ctx.now()
        ttl = self.ctx.limits.composing_ttl_s
        until = now + timedelta(seconds=ttl) if composing else now
        with self.hub.transaction():
            row = self._row(actor.user_id, role=True)
            # Shown until its end is announced (by a stop, a switch, or the housekeeping's expiry).
            active = row["composing_ticket_id"] is not None and row["composing_until"] is not None
            same = active and row["composing_ticket_id"] == ticket_id and bool(row["composing_internal"]) == internal
            if not composing:
                # Stopping ends whatever indicator this person shows on this ticket (a reply or a note).
                if active and row["composing_ticket_id"] == ticket_id:
                    self._end(row, now)
                    self.storage.execute(
                        "UPDATE presence SET composing_ticket_id = NULL, composing_until = NULL, last_seen = ? "
                        "WHERE user_id = ?",
                        (format_time(now), actor.user_id),
                    )
                return Composing(ticket_id=ticket_id, internal=internal, composing=False, expires_at=format_time(now))
            if active and not same:
                # A reply became an internal note (or the other way, or another ticket): those who saw
                # the old indicator learn at once that it ended, not when it would have expired.
                self._end(row, now)
            # Renewals arrive every few seconds while someone types: announce only a change, or a
            # renewal once half the announced lifetime has passed.
            fresh = same and parse_time(row["composing_until"]) > now + timedelta(seconds=ttl / 2)
            self.storage.execute(
                "UPDATE presence SET composing_ticket_id = ?, composing_internal = ?, composing_until = ?, "
                "last_seen = ? WHERE user_id = ?",
                (ticket_id, int(internal), format_time(until), format_time(now), actor.user_id),
            )
            if not fresh:
                self._announce(actor.user_id, actor.role, ticket_id, internal, True, until, members)
        return Composing(ticket_id=ticket_id, internal=internal, composing=True, expires_at=format_time(until))

    def _end(self, row: sqlite3.Row, now: datetime) -> None:
        """Announce the end of the indicator ``row`` shows (in the caller's transaction)."""
        ticket_id = row["composing_ticket_id"]
        if not self.storage.scalar("SELECT 1 FROM tickets WHERE id = ?", (ticket_id,)):
            return
        members = self.tickets.members_of(ticket_id)
        self._announce(row["user_id"], row["role"], ticket_id, bool(row["composing_internal"]), False, now, members)

    def _announce(
        self,
        user_id: int,
        role: Role | None,
        ticket_id: int,
        internal: bool,
        composing: bool,
        until: datetime,
        members: frozenset[int],
    ) -> None:
        self.hub.record(
            "presence.composing",
            ts=self.ctx.now(),
            ticket_id=ticket_id,
            actor_id=user_id,
            data={
                "user_id": user_id,
                "ticket_id": ticket_id,
                "internal": internal,
                "composing": composing,
                "expires_at": format_time(until),
            },
            internal=internal,
            subject_user_id=user_id,
            subject_role=role,
            members=members,
        )

    def expire_composing(self) -> int:
        """End every composing indicator whose renewals stopped; returns how many ended."""
        now = self.ctx.now()
        stamp = format_time(now)
        rows = self.storage.rows(
            "SELECT p.*, u.role FROM presence p JOIN users u ON u.id = p.user_id "
            "WHERE p.composing_until IS NOT NULL AND p.composing_until <= ?",
            (stamp,),
        )
        if not rows:
            return 0
        with self.hub.transaction():
            for row in rows:
                self.storage.execute(
                    "UPDATE presence SET composing_ticket_id = NULL, composing_until = NULL WHERE user_id = ?",
                    (row["user_id"],),
                )
                self._end(row, now)
        return len(rows)

    def get_composing(self, actor: Actor, ticket_id: int) -> list[int]:
        """Who is composing on a ticket right now, as the actor may see it."""
        _, members = self.tickets.visible(actor, ticket_id)
        rows = self.storage.rows(
            "SELECT p.user_id, p.composing_internal, u.role FROM presence p JOIN users u ON u.id = p.user_id "
            "WHERE p.composing_ticket_id = ? AND p.composing_until > ?",
            (ticket_id, format_time(self.ctx.now())),
        )
        return [
            r["user_id"]
            for r in rows
            if permits(
                actor,
                "presence.read",
                Scope(
                    subject_id=r["user_id"],
                    subject_role=r["role"],
                    internal=bool(r["composing_internal"]),
                    members=members,
                ),
            )
        ]
