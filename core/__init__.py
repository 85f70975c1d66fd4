"""The domain: records, storage, permissions, services, the event hub and the JSON-RPC dispatcher."""

from ._context import Limits as Limits
from ._errors import (
    ERRORS_BY_CODE as ERRORS_BY_CODE,
)
from ._errors import (
    Conflict as Conflict,
)
from ._errors import (
    Forbidden as Forbidden,
)
from ._errors import (
    HeroAssistanceError as HeroAssistanceError,
)
from ._errors import (
    InternalError as InternalError,
)
from ._errors import (
    InvalidParams as InvalidParams,
)
from ._errors import (
    InvalidRequest as InvalidRequest,
)
from ._errors import (
    InvalidToken as InvalidToken,
)
from ._errors import (
    MethodNotFound as MethodNotFound,
)
from ._errors import (
    NotFound as NotFound,
)
from ._errors import (
    ParseError as ParseError,
)
from ._errors import (
    PayloadTooLarge as PayloadTooLarge,
)
from ._errors import (
    RateLimited as RateLimited,
)
from ._errors import (
    RpcError as RpcError,
)
from ._errors import (
    Unauthenticated as Unauthenticated,
)
from ._errors import Unavailable as Unavailable
from ._errors import (
    error_from_wire as error_from_wire,
)
from ._events import HubStatistics as HubStatistics
from ._events import IdentityChanged as IdentityChanged
from ._events import StoredEvent as StoredEvent
from ._events import SubscriberDropped as SubscriberDropped
from ._events import SubscriberTooSlow as SubscriberTooSlow
from ._events import Subscription as Subscription
from ._identity import Actor as Actor
from ._identity import AuthMode as AuthMode
from ._identity import Caller as Caller
from ._identity import Role as Role
from ._mail import LogOutbox as LogOutbox
from ._mail import MagicLinkOutbox as MagicLinkOutbox
from ._mail import sign_in_link as sign_in_link
from ._methods import methods as methods
from ._permissions import Scope as Scope
from ._permissions import permits as permits
from ._presence import Composing as Composing
from ._project import Project as Project
from ._project import ProjectConfig as ProjectConfig
from ._project import check_project_name as check_project_name
from ._project import open_project as open_project
from ._records import (
    Attachment as Attachment,
)
from ._records import BoundDevice as BoundDevice
from ._records import (
    Comment as Comment,
)
from ._records import (
    Device as Device,
)
from ._records import (
    HistoryEntry as HistoryEntry,
)
from ._records import MagicLinkIssued as MagicLinkIssued
from ._records import MagicLinkSent as MagicLinkSent
from ._records import (
    Page as Page,
)
from ._records import (
    Presence as Presence,
)
from ._records import PresenceStatus as PresenceStatus
from ._records import Priority as Priority
from ._records import (
    ProjectInfo as ProjectInfo,
)
from ._records import Removed as Removed
from ._records import (
    SearchHit as SearchHit,
)
from ._records import SearchResults as SearchResults
from ._records import SignIn as SignIn
from ._records import (
    Ticket as Ticket,
)
from ._records import TicketStatus as TicketStatus
from ._records import (
    User as User,
)
from ._records import UserStatus as UserStatus
from ._records import WhoAmI as WhoAmI
from ._records import (
    converter as converter,
)
from ._registry import MethodSpec as MethodSpec
from ._storage import DatabaseTooNew as DatabaseTooNew
from ._storage import Storage as Storage

__all__ = [
    "ERRORS_BY_CODE",
    "Actor",
    "Attachment",
    "AuthMode",
    "BoundDevice",
    "Caller",
    "Comment",
    "Composing",
    "Conflict",
    "DatabaseTooNew",
    "Device",
    "Forbidden",
    "HeroAssistanceError",
    "HistoryEntry",
    "HubStatistics",
    "IdentityChanged",
    "InternalError",
    "InvalidParams",
    "InvalidRequest",
    "InvalidToken",
    "Limits",
    "LogOutbox",
    "MagicLinkIssued",
    "MagicLinkOutbox",
    "MagicLinkSent",
    "MethodNotFound",
    "MethodSpec",
    "NotFound",
    "Page",
    "ParseError",
    "PayloadTooLarge",
    "Presence",
    "PresenceStatus",
    "Priority",
    "Project",
    "ProjectConfig",
    "ProjectInfo",
    "RateLimited",
    "Removed",
    "Role",
    "RpcError",
    "Scope",
    "SearchHit",
    "SearchResults",
    "SignIn",
    "Storage",
    "StoredEvent",
    "SubscriberDropped",
    "SubscriberTooSlow",
    "Subscription",
    "Ticket",
    "TicketStatus",
    "Unauthenticated",
    "Unavailable",
    "User",
    "UserStatus",
    "WhoAmI",
    "check_project_name",
    "converter",
    "error_from_wire",
    "methods",
    "open_project",
    "permits",
    "sign_in_link",
]
