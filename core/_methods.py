"""Every JSON-RPC method of the wire contract (docs/api.md): its params, its identity requirement, its handler.

Handlers are thin: they pass validated params to the service that owns the concept.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import attrs
from attrs import field

from ._identity import Actor, Role
from ._jsonschema import UNSET, Unset, constraints
from ._paging import DEFAULT_LIMIT, MAX_LIMIT
from ._presence import Composing
from ._records import (
    Attachment,
    Comment,
    Device,
    HistoryEntry,
    MagicLinkIssued,
    MagicLinkSent,
    Page,
    Presence,
    PresenceStatus,
    Priority,
    ProjectInfo,
    Removed,
    SearchResults,
    SignIn,
    Ticket,
    TicketStatus,
    User,
    UserStatus,
    WhoAmI,
)
from ._registry import Registry
from ._tickets import SortOrder, TicketQuery, TicketSort

if TYPE_CHECKING:
    from ._project import Services

methods = Registry()

# Ids are exact in every JSON parser (docs/api.md); a larger number is -32602, never an overflow in SQLite.
MAX_ID = 2**53 - 1
ID = constraints(minimum=1, maximum=MAX_ID)
ID_LIST = constraints(maxItems=20, items={"minimum": 1, "maximum": MAX_ID})
TAGS = constraints(maxItems=50, items={"maxLength": 200})
LIMIT = constraints(minimum=1, maximum=MAX_LIMIT)
EMAIL = constraints(minLength=3, maxLength=254)
# Base64 of the largest attachment a project may allow (the HTTP body limit is 16 MiB).
MAX_UPLOAD_CHARS = 16 * 1024 * 1024
MAX_AGE_S = 100 * 366 * 24 * 3600


def _limit() -> Any:
    return field(default=DEFAULT_LIMIT, metadata=LIMIT)


def _cursor() -> Any:
    return field(default=None, metadata=constraints(maxLength=512))


@attrs.frozen(kw_only=True)
class NoParams:
    pass


@attrs.frozen(kw_only=True)
class Paged:
    limit: int = _limit()
    cursor: str | None = _cursor()


@attrs.frozen(kw_only=True)
class ById:
    id: int = field(metadata=ID)


# -- rpc / project ---------------------------------------------------------------------------
@methods.method("rpc.discover", identity="anon")
def rpc_discover(s: Services, actor: Actor, params: NoParams) -> dict[str, Any]:
    """The OpenRPC document describing every method of this server."""
    return s.openrpc()


@methods.method("project.info", identity="anon")
def project_info(s: Services, actor: Actor, params: NoParams) -> ProjectInfo:
    """The project's name, version, auth mode, overlay address and the counts the caller may see."""
    return s.info(actor)


# -- auth ------------------------------------------------------------------------------------
@attrs.frozen(kw_only=True)
class EmailParams:
    email: str = field(metadata=EMAIL)


@attrs.frozen(kw_only=True)
class ConsumeParams:
    token: str = field(metadata=constraints(minLength=1, maxLength=200))
    device_label: str | None = field(default=None, metadata=constraints(maxLength=200))


@methods.method("auth.request_magic_link", identity="anon", effect="write", errors=(-32001, -32005))
def auth_request(s: Services, actor: Actor, params: EmailParams) -> MagicLinkSent:
    """Mail a one-time sign-in link bound to this device (same answer for unknown emails)."""
    return s.auth.request(actor, params.email)


@methods.method("auth.consume_magic_link", identity="anon", effect="write", errors=(-32001, -32007))
def auth_consume(s: Services, actor: Actor, params: ConsumeParams) -> SignIn:
    """Bind this device to the user of a magic-link token (single use, same device)."""
    return s.auth.consume(actor, params.token, params.device_label)


@methods.method("auth.issue_magic_link", identity="admin", effect="write", errors=(-32003,))
def auth_issue(s: Services, actor: Actor, params: EmailParams) -> MagicLinkIssued:
    """Issue an invitation token for an enrolled user, usable from any device once."""
    return s.auth.issue(actor, params.email)


@methods.method("auth.whoami", identity="anon")
def auth_whoami(s: Services, actor: Actor, params: NoParams) -> WhoAmI:
    """Who this connection is: user, device key, role and the server's auth mode."""
    return s.auth.whoami(actor)


# -- devices ---------------------------------------------------------------------------------
@attrs.frozen(kw_only=True)
class DeviceListParams:
    user_id: int | None = field(default=None, metadata=ID)
    limit: int = _limit()
    cursor: str | None = _cursor()


@attrs.frozen(kw_only=True)
class DeviceUnbindParams:
    key: str | None = field(default=None, metadata=constraints(minLength=1, maxLength=200))


@methods.method("device.list", identity="user", errors=(-32002,))
def device_list(s: Services, actor: Actor, params: DeviceListParams) -> Page[Device]:
    """The devices bound to a user (your own; admins: anyone's)."""
    return s.users.devices(actor, params.user_id, params.limit, params.cursor)


@methods.method("device.unbind", identity="user", effect="destructive", idempotent=True, errors=(-32003,))
def device_unbind(s: Services, actor: Actor, params: DeviceUnbindParams) -> Device:
    """Unbind a device (default: this one); admins may unbind anyone's."""
    return s.users.unbind(actor, params.key)


# -- users -----------------------------------------------------------------------------------
@attrs.frozen(kw_only=True)
class EnrollParams:
    email: str = field(metadata=EMAIL)
    role: Role
    display_name: str | None = field(default=None, metadata=constraints(maxLength=200))


@attrs.frozen(kw_only=True)
class UserListParams:
    role: Role | None = None
    query: str | None = field(default=None, metadata=constraints(maxLength=200))
    limit: int = _limit()
    cursor: str | None = _cursor()


@attrs.frozen(kw_only=True)
class UserUpdateParams:
    id: int = field(metadata=ID)
    display_name: str | Unset = field(default=UNSET, metadata=constraints(maxLength=200))
    role: Role | Unset = UNSET
    status: UserStatus | Unset = UNSET


@methods.method("user.enroll", identity="support", effect="write", errors=(-32004,))
def user_enroll(s: Services, actor: Actor, params: EnrollParams) -> User:
    """Enroll a user by email (support: customers; admin: any role)."""
    return s.users.enroll(actor, params.email, params.role, params.display_name)


@methods.method("user.list", identity="support")
def user_list(s: Services, actor: Actor, params: UserListParams) -> Page[User]:
    """List users, optionally by role or matching a query on email and name."""
    return s.users.find(actor, params.role, params.query, params.limit, params.cursor)


@methods.method("user.get", identity="user", errors=(-32003,))
def user_get(s: Services, actor: Actor, params: ById) -> User:
    """One user: yourself, people on your tickets, or anyone for support."""
    return s.users.get(actor, params.id)


@methods.method("user.update", identity="user", effect="write", idempotent=True, errors=(-32002, -32003))
def user_update(s: Services, actor: Actor, params: UserUpdateParams) -> User:
    """Change a display name (your own), or role and status (admin)."""
    return s.users.update(actor, params.id, params.display_name, params.role, params.status)


# -- tickets ---------------------------------------------------------------------------------
@attrs.frozen(kw_only=True)
class TicketCreateParams:
    title: str = field(metadata=constraints(minLength=1, maxLength=1000))
    body: str = field(default="", metadata=constraints(maxLength=65536))
    priority: Priority = "normal"
    tags: list[str] = field(factory=list, metadata=TAGS)
    attachment_ids: list[int] = field(factory=list, metadata=ID_LIST)


ONE_OR_LIST = {**constraints(minItems=1, maxItems=4), "doc": "One value, or a list of them (any of)."}


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(dict.fromkeys(value)) if isinstance(value, list) else [value]


@attrs.frozen(kw_only=True)
class TicketListParams:
    status: TicketStatus | list[TicketStatus] | None = field(default=None, metadata=ONE_OR_LIST)
    priority: Priority | list[Priority] | None = field(default=None, metadata=ONE_OR_LIST)
    assignee_id: int | None = field(default=None, metadata=ID)
    unassigned: bool = field(
        default=False, metadata={"doc": "Only tickets without an assignee (not with assignee_id)."}
    )
    tags: list[str] = field(
        factory=list,
        metadata={**constraints(maxItems=20, items={"maxLength": 50}), "doc": "Tickets carrying every tag (support)."},
    )
    archived: bool = False
    mine: bool = field(default=False, metadata={"doc": "Only tickets you created or are assigned."})
    query: str | None = field(default=None, metadata=constraints(maxLength=500))
    sort: TicketSort = field(
        default="activity",
        metadata={"doc": "activity: last public activity; created: creation time; priority: urgent first."},
    )
    order: SortOrder = field(default="desc", metadata={"doc": "desc (default): newest or most urgent first."})
    limit: int = _limit()
    cursor: str | None = _cursor()


@attrs.frozen(kw_only=True)
class TicketUpdateParams:
    id: int = field(metadata=ID)
    title: str | Unset = field(default=UNSET, metadata=constraints(maxLength=1000))
    body: str | Unset = field(default=UNSET, metadata=constraints(maxLength=65536))
    status: TicketStatus | Unset = UNSET
    priority: Priority | Unset = UNSET
    assignee_id: int | Unset | None = field(default=UNSET, metadata=ID)
    tags: list[str] | Unset = field(default=UNSET, metadata=TAGS)


@attrs.frozen(kw_only=True)
class TicketHistoryParams:
    id: int = field(metadata=ID)
    limit: int = _limit()
    cursor: str | None = _cursor()


@methods.method("ticket.create", identity="user", effect="write", errors=(-32003,))
def ticket_create(s: Services, actor: Actor, params: TicketCreateParams) -> Ticket:
    """Open a ticket; the creator becomes its first member."""
    return s.tickets.create(
        actor,
        title=params.title,
        body=params.body,
        priority=params.priority,
        tags=params.tags,
        attachment_ids=params.attachment_ids,
    )


@methods.method("ticket.get", identity="user", errors=(-32003,))
def ticket_get(s: Services, actor: Actor, params: ById) -> Ticket:
    """One ticket the caller may see."""
    return s.tickets.get(actor, params.id)


@methods.method("ticket.list", identity="user", errors=(-32002,))
def ticket_list(s: Services, actor: Actor, params: TicketListParams) -> Page[Ticket]:
    """Tickets filtered and sorted by the server; customers see only their own.

    The default order is the most recent public activity first. Every filter and the sort are applied
    in the database, so pages are exact however many tickets there are; a cursor continues only the
    sort it came from. A customer's tickets carry no tags, and filtering by tags is for support.
    """
    query = TicketQuery(
        statuses=_as_list(params.status),
        priorities=_as_list(params.priority),
        assignee_id=params.assignee_id,
        unassigned=params.unassigned,
        tags=params.tags,
        archived=params.archived,
        mine=params.mine,
        query=params.query,
        sort=params.sort,
        order=params.order,
    )
    return s.tickets.find(actor, query, params.limit, params.cursor)


@methods.method("ticket.update", identity="user", effect="write", idempotent=True, errors=(-32002, -32003))
def ticket_update(s: Services, actor: Actor, params: TicketUpdateParams) -> Ticket:
    """Change a ticket (customers: their own title/body, and reopen; support: everything)."""
    return s.tickets.update(
        actor,
        params.id,
        title=params.title,
        body=params.body,
        status=params.status,
        priority=params.priority,
        assignee_id=params.assignee_id,
        tags=params.tags,
    )


@methods.method("ticket.archive", identity="support", effect="write", idempotent=True, errors=(-32003,))
def ticket_archive(s: Services, actor: Actor, params: ById) -> Ticket:
    """Archive a ticket (it leaves the default inbox)."""
    return s.tickets.set_archived(actor, params.id, True)


@methods.method("ticket.unarchive", identity="support", effect="write", idempotent=True, errors=(-32003,))
def ticket_unarchive(s: Services, actor: Actor, params: ById) -> Ticket:
    """Bring an archived ticket back."""
    return s.tickets.set_archived(actor, params.id, False)


@methods.method("ticket.delete", identity="admin", effect="destructive", errors=(-32003,))
def ticket_delete(s: Services, actor: Actor, params: ById) -> Ticket:
    """Delete a ticket with its comments and attachments, for good."""
    return s.tickets.delete(actor, params.id)


@methods.method("ticket.history", identity="user", errors=(-32003,))
def ticket_history(s: Services, actor: Actor, params: TicketHistoryParams) -> Page[HistoryEntry]:
    """The ticket's audit trail, oldest first (internal-note entries for support only)."""
    return s.tickets.history(actor, params.id, params.limit, params.cursor)


# -- members ---------------------------------------------------------------------------------
@attrs.frozen(kw_only=True)
class MemberListParams:
    ticket_id: int = field(metadata=ID)
    limit: int = _limit()
    cursor: str | None = _cursor()


@attrs.frozen(kw_only=True)
class MemberParams:
    ticket_id: int = field(metadata=ID)
    user_id: int = field(metadata=ID)


@methods.method("ticket.member.list", identity="user", errors=(-32003,))
def member_list(s: Services, actor: Actor, params: MemberListParams) -> Page[User]:
    """The members of a ticket."""
    return s.tickets.member_list(actor, params.ticket_id, params.limit, params.cursor)


@methods.method("ticket.member.add", identity="support", effect="write", errors=(-32003, -32004))
def member_add(s: Services, actor: Actor, params: MemberParams) -> Ticket:
    """Add a user to a ticket's members."""
    return s.tickets.member_change(actor, params.ticket_id, params.user_id, add=True)


@methods.method("ticket.member.remove", identity="support", effect="write", errors=(-32003,))
def member_remove(s: Services, actor: Actor, params: MemberParams) -> Ticket:
    """Remove a user from a ticket's members."""
    return s.tickets.member_change(actor, params.ticket_id, params.user_id, add=False)


# -- comments --------------------------------------------------------------------------------
@attrs.frozen(kw_only=True)
class CommentCreateParams:
    ticket_id: int = field(metadata=ID)
    body: str = field(default="", metadata=constraints(maxLength=65536))
    parent_id: int | None = field(default=None, metadata=ID)
    internal: bool = False
    attachment_ids: list[int] = field(factory=list, metadata=ID_LIST)


@attrs.frozen(kw_only=True)
class CommentListParams:
    ticket_id: int = field(metadata=ID)
    limit: int = _limit()
    cursor: str | None = _cursor()


@attrs.frozen(kw_only=True)
class CommentUpdateParams:
    id: int = field(metadata=ID)
    body: str = field(metadata=constraints(maxLength=65536))


@methods.method("comment.create", identity="user", effect="write", errors=(-32002, -32003))
def comment_create(s: Services, actor: Actor, params: CommentCreateParams) -> Comment:
    """Reply on a ticket (a thread reply with parent_id; an internal note for support)."""
    return s.comments.create(
        actor,
        ticket_id=params.ticket_id,
        body=params.body,
        parent_id=params.parent_id,
        internal=params.internal,
        attachment_ids=params.attachment_ids,
    )


@methods.method("comment.list", identity="user", errors=(-32003,))
def comment_list(s: Services, actor: Actor, params: CommentListParams) -> Page[Comment]:
    """A ticket's comments, oldest first (internal notes for support only)."""
    return s.comments.list(actor, params.ticket_id, params.limit, params.cursor)


@methods.method("comment.update", identity="user", effect="write", idempotent=True, errors=(-32002, -32003))
def comment_update(s: Services, actor: Actor, params: CommentUpdateParams) -> Comment:
    """Edit your own comment."""
    return s.comments.update(actor, params.id, params.body)


@methods.method("comment.delete", identity="user", effect="destructive", errors=(-32002, -32003))
def comment_delete(s: Services, actor: Actor, params: ById) -> Comment:
    """Delete a comment (its author, or support); replies move up to its parent."""
    return s.comments.delete(actor, params.id)


# -- attachments -----------------------------------------------------------------------------
@attrs.frozen(kw_only=True)
class UploadParams:
    filename: str = field(metadata=constraints(minLength=1, maxLength=1000))
    content_type: str = field(metadata=constraints(maxLength=200))
    data: str = field(metadata=constraints(maxLength=MAX_UPLOAD_CHARS))


@attrs.frozen(kw_only=True)
class CleanupParams:
    older_than_s: int = field(metadata=constraints(minimum=0, maximum=MAX_AGE_S))


@methods.method("attachment.upload", identity="user", effect="write", errors=(-32006,))
def attachment_upload(s: Services, actor: Actor, params: UploadParams) -> Attachment:
    """Upload an image (base64; PNG, JPEG, GIF or WebP by content; at most 10 MiB), pending until used."""
    return s.attachments.upload(actor, params.filename, params.content_type, params.data)  # type: ignore[return-value]


@methods.method("attachment.get", identity="user", errors=(-32003,))
def attachment_get(s: Services, actor: Actor, params: ById) -> Attachment:
    """An attachment's metadata (bytes at GET /attachments/{id})."""
    return s.attachments.get(actor, params.id)


@methods.method("attachment.cleanup_pending", identity="support", effect="destructive", idempotent=True)
def attachment_cleanup(s: Services, actor: Actor, params: CleanupParams) -> Removed:
    """Remove uploads never attached to anything and older than the given age."""
    return s.attachments.cleanup_pending(actor, params.older_than_s)


# -- presence --------------------------------------------------------------------------------
@attrs.frozen(kw_only=True)
class PresenceUpdateParams:
    status: PresenceStatus
    status_text: str = field(default="", metadata=constraints(maxLength=200))


@attrs.frozen(kw_only=True)
class ViewingParams:
    ticket_id: int | None = field(metadata=ID)


@attrs.frozen(kw_only=True)
class ComposingParams:
    ticket_id: int = field(metadata=ID)
    internal: bool = False
    composing: bool = field(default=True, metadata={"doc": "false: you stopped (sent, left, or cleared it)."})


@methods.method("presence.update", identity="user", effect="write", idempotent=True)
def presence_update(s: Services, actor: Actor, params: PresenceUpdateParams) -> Presence:
    """Set your status (online, away, offline) and status text."""
    return s.presence.update(actor, params.status, params.status_text)


@methods.method("presence.list", identity="user")
def presence_list(s: Services, actor: Actor, params: Paged) -> Page[Presence]:
    """The presence of the people you may see (customers: themselves and the agents)."""
    return s.presence.visible(actor, params.limit, params.cursor)


@methods.method("presence.set_viewing_ticket", identity="user", effect="write", idempotent=True, errors=(-32003,))
def presence_viewing(s: Services, actor: Actor, params: ViewingParams) -> Presence:
    """Say which ticket you are looking at (null: none)."""
    return s.presence.set_viewing(actor, params.ticket_id)


@methods.method("presence.set_composing", identity="user", effect="write", idempotent=True, errors=(-32002, -32003))
def presence_composing(s: Services, actor: Actor, params: ComposingParams) -> Composing:
    """Say you are writing a reply (or stopped: composing false); it expires by itself after 10 s unless renewed.

    An indicator for an internal note is shown to support only. Switching between a reply and an
    internal note, or to another ticket, ends the previous indicator at once for everyone who saw it.
    """
    return s.presence.set_composing(actor, params.ticket_id, params.internal, params.composing)


# -- search ----------------------------------------------------------------------------------
@attrs.frozen(kw_only=True)
class SearchParams:
    q: str = field(metadata=constraints(minLength=1, maxLength=500))
    status: TicketStatus | list[TicketStatus] | None = field(default=None, metadata=ONE_OR_LIST)
    archived: bool | None = field(
        default=None, metadata={"doc": "true: archived tickets only; false: none of them; absent: both."}
    )
    limit: int = _limit()
    cursor: str | None = _cursor()


@methods.method("search.query", identity="user")
def search_query(s: Services, actor: Actor, params: SearchParams) -> SearchResults:
    """Full-text search (FTS5 syntax) over the tickets and comments you may read, best first.

    Every status and archived tickets are searched unless ``status`` or ``archived`` narrow the search;
    each hit carries its ticket's status.
    """
    return s.search.query(
        actor,
        params.q,
        params.limit,
        params.cursor,
        statuses=_as_list(params.status),
        archived=params.archived,
    )
