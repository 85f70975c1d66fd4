"""The one permission function: every read, write and event delivery asks ``permits``.

Services gather the facts (who is a member of the ticket, who wrote the comment, whether it is an
internal note) into a ``Scope`` and ask one question; the event hub asks the same question with the
facts stored beside each event. So a rule changed here changes reads, writes and live delivery
alike, and a customer can never learn through one path what another path hides.
"""

from __future__ import annotations

from typing import Literal

import attrs

from ._errors import Forbidden, Unauthenticated
from ._identity import Actor, Role

Identity = Literal["anon", "user", "support", "admin"]

Action = Literal[
    "ticket.read",  # see a ticket, its members and history
    "ticket.read_triage",  # see its tags, and the history entries about triage and other people
    "ticket.edit_content",  # change title / body
    "ticket.reopen",  # set status back to open
    "ticket.manage",  # status, priority, assignee, tags, archive, members
    "ticket.delete",
    "comment.read",
    "comment.write",
    "comment.edit",
    "comment.delete",
    "presence.read",  # see a user's presence (status, viewing, composing)
    "user.read",
    "user.manage",  # change another user's role or status
    "user.enroll",
    "device.manage",  # list / unbind another user's devices
    "attachment.cleanup",
]


@attrs.frozen(kw_only=True)
class Scope:
    """The facts a decision needs; each action reads the ones it names."""

    members: frozenset[int] = frozenset()  # the ticket's members
    created_by: int | None = None  # the ticket's creator
    author_id: int | None = None  # the comment's author
    internal: bool = False  # an internal note, or composing one
    subject_id: int | None = None  # the user a presence / user / device action is about
    subject_role: Role | None = None
    shares_ticket: bool = False  # the actor and the subject are members of a common ticket
    role: Role | None = None  # the role being granted (enroll / update)


def permits(actor: Actor, action: Action, scope: Scope = Scope()) -> bool:
    """Whether ``actor`` may do ``action`` on the thing described by ``scope``."""
    if actor.user_id is None:
        return False
    me = actor.user_id
    staff = actor.is_staff
    match action:
        case "ticket.read":
            return staff or me in scope.members
        case "ticket.edit_content" | "ticket.reopen":
            return staff or (me in scope.members and scope.created_by == me)
        case "ticket.manage" | "ticket.read_triage" | "attachment.cleanup":
            return staff
        case "ticket.delete" | "user.manage" | "device.manage":
            return actor.is_admin
        case "comment.read" | "comment.write":
            return (staff or me in scope.members) and (staff or not scope.internal)
        case "comment.edit":
            return scope.author_id == me and permits(actor, "comment.read", scope)
        case "comment.delete":
            return staff or (scope.author_id == me and permits(actor, "comment.read", scope))
        case "presence.read":
            if scope.internal and not staff:
                return False
            return staff or scope.subject_id == me or scope.subject_role in ("support", "admin")
        case "user.read":
            # Agents are the project's public face (as their presence is): anyone may see who they are.
            return staff or scope.subject_id == me or scope.shares_ticket or scope.subject_role in ("support", "admin")
        case "user.enroll":
            return actor.is_admin or (staff and scope.role == "customer")


def require_identity(actor: Actor, identity: Identity) -> None:
    """Raise unless ``actor`` meets a method's identity requirement ([anon], [user], ...)."""
    if identity == "anon":
        return
    if actor.user_id is None:
        raise Unauthenticated("sign in first: this device is not bound to a user")
    if identity == "support" and not actor.is_staff:
        raise Forbidden("support agents only")
    if identity == "admin" and not actor.is_admin:
        raise Forbidden("administrators only")


def require(actor: Actor, action: Action, scope: Scope = Scope()) -> None:
    """``permits`` or ``Forbidden``; for things the caller can already see (else use NotFound)."""
    if not permits(actor, action, scope):
        raise Forbidden(f"not allowed: {action}")
