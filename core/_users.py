"""Users, device bindings and resolving a caller into an actor."""

from __future__ import annotations

import re
import sqlite3

from ._audit import audit
from ._context import Context
from ._errors import Conflict, Forbidden, InvalidParams, NotFound
from ._identity import Actor, Caller, Role
from ._jsonschema import Unset
from ._paging import decode_cursor, encode_cursor
from ._permissions import Scope, permits, require
from ._records import Device, Page, User, UserStatus, format_time, parse_time

OPERATOR_EMAIL = "operator@localhost"
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")


def normalize_email(email: str, field: str = "email") -> str:
    email = email.strip()
    if not _EMAIL.match(email) or len(email) > 254:
        raise InvalidParams.field(field, "not an email address")
    return email.lower()


def user_from_row(row: sqlite3.Row) -> User:
    return User(
        id=row["id"],
        email=row["email"],
        display_name=row["display_name"],
        role=row["role"],
        status=row["status"],
        created_at=parse_time(row["created_at"]),
    )


def device_from_row(row: sqlite3.Row) -> Device:
    return Device(key=row["key"], label=row["label"], bound_at=parse_time(row["bound_at"]), user_id=row["user_id"])


class Users:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.storage = ctx.storage

    # -- identity ---------------------------------------------------------------------------
    def ensure_operator(self) -> int:
        """The local operator's user row (admin), created on first start."""
        found = self.storage.scalar("SELECT id FROM users WHERE email = ?", (OPERATOR_EMAIL,))
        if found is not None:
            return int(found)
        with self.storage.write():
            return self.storage.insert(
                "users",
                {
                    "email": OPERATOR_EMAIL,
                    "display_name": "Operator",
                    "role": "admin",
                    "status": "active",
                    "created_at": format_time(self.ctx.now()),
                },
            )

    def resolve(self, caller: Caller) -> Actor:
        mode = self.ctx.auth_mode
        row: sqlite3.Row | None = None
        if caller.local_operator:
            row = self.storage.row("SELECT * FROM users WHERE email = ?", (OPERATOR_EMAIL,))
        elif caller.user_email is not None:
            row = self.storage.row("SELECT * FROM users WHERE email = ?", (caller.user_email.strip(),))
        elif caller.device is not None:
            row = self.storage.row(
                "SELECT users.* FROM devices JOIN users ON users.id = devices.user_id WHERE devices.key = ?",
                (caller.device,),
            )
        if row is None or row["status"] != "active":
            return Actor(user_id=None, role=None, device=caller.device, auth_mode=mode)
        return Actor(user_id=row["id"], role=row["role"], device=caller.device, auth_mode=mode, email=row["email"])

    # -- users ------------------------------------------------------------------------------
    def load(self, user_id: int) -> User | None:
        row = self.storage.row("SELECT * FROM users WHERE id = ?", (user_id,))
        return user_from_row(row) if row else None

    def role_of(self, user_id: int) -> Role | None:
        role = self.storage.scalar("SELECT role FROM users WHERE id = ?", (user_id,))
        return role

    def enroll(self, actor: Actor, email: str, role: Role, display_name: str | None) -> User:
        require(actor, "user.enroll", Scope(role=role))
        email = normalize_email(email)
        name = (display_name or "").strip() or email.split("@", 1)[0]
        if len(name) > 200:
            raise InvalidParams.field("display_name", "at most 200 characters")
        if self.storage.scalar("SELECT 1 FROM users WHERE email = ?", (email,)):
            raise Conflict("a user with this email is already enrolled", {"field": "email"})
        with self.storage.write():
            user_id = self.storage.insert(
                "users",
                {
                    "email": email,
                    "display_name": name,
                    "role": role,
                    "status": "active",
                    "created_at": format_time(self.ctx.now()),
                },
            )
            audit(
                self.storage,
                ts=self.ctx.now(),
                actor_id=actor.user_id,
                action="user.enrolled",
                detail={"user_id": user_id, "role": role},
            )
        user = self.load(user_id)
        assert user is not None
        return user

    def shares_ticket(self, a: int, b: int) -> bool:
        return bool(
            self.storage.scalar(
                "SELECT 1 FROM members m1 JOIN members m2 ON m1.ticket_id = m2.ticket_id "
                "WHERE m1.user_id = ? AND m2.user_id = ? LIMIT 1",
                (a, b),
            )
        )

    def get(self, actor: Actor, user_id: int) -> User:
        user = self.load(user_id)
        if user is None or actor.user_id is None:
            raise NotFound.of("user", user_id)
        scope = Scope(subject_id=user_id, subject_role=user.role)
        if not permits(actor, "user.read", scope) and not self.shares_ticket(actor.user_id, user_id):
            raise NotFound.of("user", user_id)
        return user

    def find(self, actor: Actor, role: Role | None, query: str | None, limit: int, cursor: str | None) -> Page[User]:
        key = decode_cursor(cursor, int)
        where = ["id > ?"]
        params: list[object] = [key[0] if key else 0]
        if role is not None:
            where.append("role = ?")
            params.append(role)
        if query:
            where.append("(email LIKE ? ESCAPE '\\' OR display_name LIKE ? ESCAPE '\\')")
            pattern = "%" + query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            params += [pattern, pattern]
        rows = self.storage.rows(
            f"SELECT * FROM users WHERE {' AND '.join(where)} ORDER BY id LIMIT ?", (*params, limit + 1)
        )
        items = [user_from_row(r) for r in rows[:limit]]
        return Page(items=items, next_cursor=encode_cursor(items[-1].id) if len(rows) > limit else None)

    def update(
        self,
        actor: Actor,
        user_id: int,
        display_name: str | Unset,
        role: Role | Unset,
        status: UserStatus | Unset,
    ) -> User:
        user = self.get(actor, user_id)
        is_self = actor.user_id == user_id
        changes: dict[str, object] = {}
        if not isinstance(display_name, Unset):
            if not is_self:
                require(actor, "user.manage")
            name = display_name.strip()
            if not 1 <= len(name) <= 200:
                raise InvalidParams.field("display_name", "1 to 200 characters")
            changes["display_name"] = name
        for column, value in (("role", role), ("status", status)):
            if not isinstance(value, Unset):
                require(actor, "user.manage")
                if is_self and value != getattr(user, column):
                    raise Forbidden("administrators cannot change their own role or status")
                changes[column] = value
        if changes:
            with self.storage.write():
                assignments = ", ".join(f"{column} = ?" for column in changes)
                self.storage.execute(f"UPDATE users SET {assignments} WHERE id = ?", (*changes.values(), user_id))
                audit(
                    self.storage,
                    ts=self.ctx.now(),
                    actor_id=actor.user_id,
                    action="user.updated",
                    detail={"user_id": user_id, **changes},
                )
            if "role" in changes or "status" in changes:
                self.ctx.hub.revoke(user_id=user_id)
        updated = self.load(user_id)
        assert updated is not None
        return updated

    # -- devices ----------------------------------------------------------------------------
    def devices(self, actor: Actor, user_id: int | None, limit: int, cursor: str | None) -> Page[Device]:
        target = actor.user_id if user_id is None else user_id
        if target != actor.user_id:
            require(actor, "device.manage")
        key = decode_cursor(cursor, str)
        rows = self.storage.rows(
            "SELECT * FROM devices WHERE user_id = ? AND key > ? ORDER BY key LIMIT ?",
            (target, key[0] if key else "", limit + 1),
        )
        items = [device_from_row(r) for r in rows[:limit]]
        return Page(items=items, next_cursor=encode_cursor(items[-1].key) if len(rows) > limit else None)

    def unbind(self, actor: Actor, key: str | None) -> Device:
        key = key if key is not None else actor.device
        if key is None:
            raise InvalidParams.field("key", "this connection has no device key: name one")
        row = self.storage.row("SELECT * FROM devices WHERE key = ?", (key,))
        if row is None:
            raise NotFound.of("device", key)
        if row["user_id"] != actor.user_id and not permits(actor, "device.manage"):
            raise NotFound.of("device", key)
        with self.storage.write():
            self.storage.execute("DELETE FROM devices WHERE key = ?", (key,))
        self.ctx.hub.revoke(device=key)
        return device_from_row(row)
