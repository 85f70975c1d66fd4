"""Magic links: how a device becomes bound to a user.

A token is 32 random bytes shown once (to the mailbox or the operator's log) and stored only as
its SHA-256. A self-requested link is valid only from the device that asked for it; an
invitation issued by an admin is valid from any device. Every token is single use.
"""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
from datetime import datetime, timedelta

from ._audit import audit
from ._context import Context
from ._errors import InvalidParams, InvalidToken, NotFound, RateLimited, Unauthenticated
from ._identity import Actor, device_network
from ._records import BoundDevice, MagicLinkIssued, MagicLinkSent, SignIn, WhoAmI, format_time, parse_time
from ._users import Users, normalize_email

PRUNE_BATCH = 20


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Auth:
    def __init__(self, ctx: Context, users: Users) -> None:
        self.ctx = ctx
        self.storage = ctx.storage
        self.users = users

    def _check_rate(self, column: str, value: str, allowed: int, window_s: int, now: datetime) -> None:
        since = format_time(now - timedelta(seconds=window_s))
        rows = self.storage.rows(
            # Only self-requested links count: invitations issued by an admin are not a flood risk.
            f"SELECT created_at FROM magic_links WHERE {column} = ? AND created_at > ? AND device_key IS NOT NULL "
            "ORDER BY created_at",
            (value, since),
        )
        if len(rows) >= allowed:
            oldest = parse_time(rows[-allowed]["created_at"])
            retry = (oldest + timedelta(seconds=window_s) - now).total_seconds()
            raise RateLimited.after(max(1, int(retry + 0.999)))

    def _prune(self, now: datetime) -> None:
        """Drop links past every window and their expiry (unknown emails' rows too), oldest first.

        Rows go in by time, so the oldest are the lowest ids: looking at the first few keeps each
        request's share of the work small however many rows a flood left.
        """
        limits = self.ctx.limits
        keep = max(
            limits.magic_link_ttl_s, limits.magic_links_per_device_window_s, limits.magic_links_per_email_window_s
        )
        self.storage.execute(
            "DELETE FROM magic_links WHERE id IN (SELECT id FROM magic_links ORDER BY id LIMIT ?) "
            "AND created_at < ? AND expires_at < ?",
            (PRUNE_BATCH, format_time(now - timedelta(seconds=keep)), format_time(now)),
        )

    def request(self, actor: Actor, email: str) -> MagicLinkSent:
        if actor.device is None:
            raise Unauthenticated("this connection carries no device identity to bind")
        email = normalize_email(email)
        now = self.ctx.now()
        limits = self.ctx.limits
        network = device_network(actor.device)
        self._check_rate(
            "device_net",
            network,
            limits.magic_links_per_device,
            limits.magic_links_per_device_window_s,
            now,
        )
        self._check_rate("email", email, limits.magic_links_per_email, limits.magic_links_per_email_window_s, now)
        expires = now + timedelta(seconds=limits.magic_link_ttl_s)
        status = self.storage.scalar("SELECT status FROM users WHERE email = ?", (email,))
        # An enrolled, active user gets a link; so does an unknown email when sign-up is open (the
        # account is created when the link is used). A disabled account never does.
        wanted = status == "active" or (status is None and self.ctx.signup == "open")
        token = secrets.token_urlsafe(32) if wanted else None
        with self.storage.write():
            self._prune(now)
            # A row even for unknown emails: the rate limits count them, and nothing can be consumed.
            self.storage.insert(
                "magic_links",
                {
                    "token_hash": _hash(token) if token else None,
                    "email": email,
                    "device_key": actor.device,
                    "device_net": network,
                    "created_at": format_time(now),
                    "expires_at": format_time(expires),
                },
            )
        if token:
            self.ctx.outbox.deliver(email=email, token=token, expires_at=expires, project=self.ctx.project)
        # The same answer whether or not the email is enrolled: no account probing.
        return MagicLinkSent(sent=True, expires_at=expires)

    def issue(self, actor: Actor, email: str) -> MagicLinkIssued:
        email = normalize_email(email)
        if not self.storage.scalar("SELECT 1 FROM users WHERE email = ? AND status = 'active'", (email,)):
            raise NotFound.of("user", email)
        now = self.ctx.now()
        expires = now + timedelta(seconds=self.ctx.limits.magic_link_ttl_s)
        token = secrets.token_urlsafe(32)
        with self.storage.write():
            self.storage.insert(
                "magic_links",
                {
                    "token_hash": _hash(token),
                    "email": email,
                    "device_key": None,
                    "created_at": format_time(now),
                    "expires_at": format_time(expires),
                },
            )
            audit(
                self.storage,
                ts=now,
                actor_id=actor.user_id,
                action="magic_link.issued",
                detail={"email": email},
            )
        return MagicLinkIssued(token=token, expires_at=expires)

    def consume(self, actor: Actor, token: str, device_label: str | None) -> SignIn:
        if actor.device is None:
            raise Unauthenticated("this connection carries no device identity to bind")
        if len(device_label or "") > 200:
            raise InvalidParams.field("device_label", "at most 200 characters")
        now = self.ctx.now()
        row = self.storage.row("SELECT * FROM magic_links WHERE token_hash = ?", (_hash(token),))
        if (
            row is None
            or row["used_at"] is not None
            or parse_time(row["expires_at"]) <= now
            or (row["device_key"] is not None and row["device_key"] != actor.device)
        ):
            raise InvalidToken("this sign-in link is unknown, used, expired, or was requested from another device")
        user_row = self.storage.row("SELECT * FROM users WHERE email = ?", (row["email"],))
        if user_row is not None and user_row["status"] != "active":
            raise InvalidToken("the account of this sign-in link is disabled")
        if user_row is None and self.ctx.signup != "open":
            raise InvalidToken("this project signs up by invitation only; ask its operator to invite you")
        stamp = format_time(now)
        label = (device_label or "").strip()
        with self.storage.write():
            self.storage.execute("UPDATE magic_links SET used_at = ? WHERE id = ?", (stamp, row["id"]))
            created = user_row is None
            if user_row is None:
                user_row = self._sign_up(row["email"], now)
            # A device already bound to someone else is rebound: whoever holds it now proved the mailbox.
            self.storage.execute(
                "INSERT INTO devices (key, user_id, label, bound_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (key) DO UPDATE SET user_id = excluded.user_id, label = excluded.label, "
                "bound_at = excluded.bound_at",
                (actor.device, user_row["id"], label, stamp),
            )
            audit(self.storage, ts=now, actor_id=user_row["id"], action="device.bound", detail={"label": label})
        # The device's streams were filtered as whoever it was before (anonymous, or someone else).
        self.ctx.hub.revoke(device=actor.device)
        user = self.users.load(user_row["id"])
        assert user is not None
        return SignIn(user=user, device=BoundDevice(key=actor.device, label=label, bound_at=now), created=created)

    def _sign_up(self, email: str, now: datetime) -> sqlite3.Row:
        """Create the customer an open sign-up link was requested for (in the caller's transaction)."""
        user_id = self.storage.insert(
            "users",
            {
                "email": email,
                "display_name": email.split("@", 1)[0][:200],
                "role": "customer",
                "status": "active",
                "created_at": format_time(now),
            },
        )
        audit(
            self.storage,
            ts=now,
            actor_id=user_id,
            action="user.signed_up",
            detail={"user_id": user_id, "role": "customer"},
        )
        row = self.storage.row("SELECT * FROM users WHERE id = ?", (user_id,))
        assert row is not None
        return row

    def whoami(self, actor: Actor) -> WhoAmI:
        user = self.users.load(actor.user_id) if actor.user_id is not None else None
        return WhoAmI(user=user, device=actor.device, role=actor.role, auth_mode=actor.auth_mode)
