"""The records: attrs classes whose one cattrs converter defines every wire shape once."""

from __future__ import annotations

import typing
from datetime import UTC, datetime
from typing import Any, Generic, Literal, TypeVar, Union

import attrs
import cattrs
from cattrs.gen import make_dict_unstructure_fn, override

from ._identity import Role
from ._jsonschema import UNSET, Unset

TicketStatus = Literal["open", "pending", "resolved", "closed"]
Priority = Literal["low", "normal", "high", "urgent"]
PresenceStatus = Literal["online", "away", "offline"]
UserStatus = Literal["active", "disabled"]
SignupPolicy = Literal["invite", "open"]
TICKET_STATUSES: tuple[TicketStatus, ...] = ("open", "pending", "resolved", "closed")
PRIORITIES: tuple[Priority, ...] = ("low", "normal", "high", "urgent")

EVENT_TYPES = (
    "ticket.created",
    "ticket.updated",
    "ticket.archived",
    "ticket.unarchived",
    "ticket.deleted",
    "member.added",
    "member.removed",
    "comment.created",
    "comment.updated",
    "comment.deleted",
    "presence.updated",
    "presence.viewing",
    "presence.composing",
)


def format_time(value: datetime) -> str:
    """RFC 3339 UTC with a fixed width, so stored strings sort like the instants they name."""
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    # isoformat is C and ~10x faster than strftime; timespec keeps the width fixed.
    return value.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@attrs.frozen(kw_only=True)
class User:
    id: int
    email: str
    display_name: str
    role: Role
    status: UserStatus
    created_at: datetime


@attrs.frozen(kw_only=True)
class Device:
    key: str
    label: str
    bound_at: datetime
    user_id: int


@attrs.frozen(kw_only=True)
class Attachment:
    id: int
    filename: str
    content_type: str
    size: int
    sha256: str
    width: int | None
    height: int | None
    created_at: datetime


@attrs.frozen(kw_only=True)
class Ticket:
    id: int
    title: str
    body: str
    status: TicketStatus
    priority: Priority
    created_by: int | None
    assignee_id: int | None
    # The agents' triage vocabulary: UNSET (the key left out on the wire) for customers.
    tags: list[str] | Unset = attrs.field(
        default=UNSET, metadata={"doc": "left out of the tickets customers receive (the agents' triage)"}
    )
    archived: bool
    members: list[int]
    comment_count: int  # public comments only, like last_activity_at: internal notes move neither
    created_at: datetime
    updated_at: datetime
    last_activity_at: datetime
    attachments: list[Attachment] = attrs.field(factory=list)


@attrs.frozen(kw_only=True)
class Comment:
    id: int
    ticket_id: int
    author_id: int | None
    parent_id: int | None
    body: str
    internal: bool
    attachments: list[Attachment]
    created_at: datetime
    edited_at: datetime | None


@attrs.frozen(kw_only=True)
class Presence:
    user_id: int
    status: PresenceStatus
    status_text: str
    viewing_ticket_id: int | None
    last_seen: datetime | None


@attrs.frozen(kw_only=True)
class HistoryEntry:
    """One line of a ticket's audit trail."""

    id: int
    ticket_id: int
    actor_id: int | None
    action: str
    detail: dict[str, Any]
    created_at: datetime


@attrs.frozen(kw_only=True)
class SearchHit:
    kind: Literal["ticket", "comment"]
    ticket_id: int
    comment_id: int | None
    snippet: str
    rank: float
    status: TicketStatus


@attrs.frozen(kw_only=True)
class BoundDevice:
    key: str
    label: str
    bound_at: datetime


@attrs.frozen(kw_only=True)
class SignIn:
    """What ``auth.consume_magic_link`` answers."""

    user: User
    device: BoundDevice
    #: The account was created by this sign-in (open sign-up): the app asks for the person's name.
    created: bool


@attrs.frozen(kw_only=True)
class WhoAmI:
    user: User | None
    device: str | None
    role: Role | None
    auth_mode: Literal["proxy", "dev"]


@attrs.frozen(kw_only=True)
class MagicLinkSent:
    sent: bool
    expires_at: datetime


@attrs.frozen(kw_only=True)
class MagicLinkIssued:
    token: str
    expires_at: datetime


@attrs.frozen(kw_only=True)
class Removed:
    removed: int


@attrs.frozen(kw_only=True)
class Done:
    """The answer of a write that has nothing else to say."""

    ok: bool = True


@attrs.frozen(kw_only=True)
class ProjectInfo:
    name: str
    title: str
    version: str
    auth_mode: Literal["proxy", "dev"]
    signup: SignupPolicy
    overlay_address: str | None
    counts: dict[str, int]


T = TypeVar("T")


@attrs.frozen(kw_only=True)
class Page(Generic[T]):
    """One page of a list method: the items and the cursor of the next page (``None`` at the end)."""

    items: list[T]
    next_cursor: str | None = None


@attrs.frozen(kw_only=True)
class SearchResults:
    items: list[SearchHit]
    next_cursor: str | None = None


def _holds_unset(tp: Any) -> bool:
    return Unset in typing.get_args(tp)


def _without_unset(tp: Any) -> Any:
    return Union[tuple(a for a in typing.get_args(tp) if a is not Unset)]  # noqa: UP007


def _make_converter() -> cattrs.Converter:
    conv = cattrs.Converter()
    conv.register_unstructure_hook(datetime, format_time)
    conv.register_structure_hook(datetime, lambda value, _type: parse_time(value))
    # A field that may be UNSET is left out of the wire object; present, it is the other member's shape.
    conv.register_unstructure_hook(Ticket, make_dict_unstructure_fn(Ticket, conv, tags=override(omit_if_default=True)))
    conv.register_structure_hook_func(_holds_unset, lambda value, tp: conv.structure(value, _without_unset(tp)))
    return conv


converter = _make_converter()
"""The one converter: records to wire JSON (``unstructure``) and back (``structure``)."""
