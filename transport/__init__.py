"""The wire: the project server's listeners and the client SDK.

Clients: ``connect`` (a ``Client`` over a Unix socket or the TCP overlay), ``MultiProjectClient``
(N projects merged into one event channel) and ``HttpPool`` (the raw keep-alive HTTP/1.1 pool under them).
Servers: ``serve_project`` with a ``ServerConfig``; ``serve_asgi`` puts any ASGI app on the same engine.
Errors: the ``RpcError`` family shared with the core (one class per wire code) and the transport
errors (``ConnectFailed``, ``ConnectionLost``, ...), all rooted at ``HeroAssistanceError``.
"""

from hero_assistance.core import (
    Conflict as Conflict,
)
from hero_assistance.core import (
    Forbidden as Forbidden,
)
from hero_assistance.core import (
    HeroAssistanceError as HeroAssistanceError,
)
from hero_assistance.core import (
    InternalError as InternalError,
)
from hero_assistance.core import (
    InvalidParams as InvalidParams,
)
from hero_assistance.core import (
    InvalidRequest as InvalidRequest,
)
from hero_assistance.core import (
    InvalidToken as InvalidToken,
)
from hero_assistance.core import (
    MethodNotFound as MethodNotFound,
)
from hero_assistance.core import (
    NotFound as NotFound,
)
from hero_assistance.core import (
    ParseError as ParseError,
)
from hero_assistance.core import (
    PayloadTooLarge as PayloadTooLarge,
)
from hero_assistance.core import (
    RateLimited as RateLimited,
)
from hero_assistance.core import (
    RpcError as RpcError,
)
from hero_assistance.core import (
    Unauthenticated as Unauthenticated,
)

from ._asgi_host import LifespanFailed as LifespanFailed
from ._asgi_host import serve_asgi as serve_asgi
from ._client import Client as Client
from ._client import connect as connect
from ._client_api_base import OMIT as OMIT
from ._errors import ClientClosed as ClientClosed
from ._errors import ConnectFailed as ConnectFailed
from ._errors import ConnectionLost as ConnectionLost
from ._errors import ConsumerTooSlow as ConsumerTooSlow
from ._errors import ProtocolError as ProtocolError
from ._errors import TransportError as TransportError
from ._errors import UnknownProject as UnknownProject
from ._events_http import StreamStatistics as StreamStatistics
from ._http11 import HttpPool as HttpPool
from ._http11 import HttpResponse as HttpResponse
from ._http11 import PoolStatistics as PoolStatistics
from ._http_server import ConnectionLimits as ConnectionLimits
from ._http_server import ListenerStatistics as ListenerStatistics
from ._listen import ServerStartupError as ServerStartupError
from ._multi import MergedEvents as MergedEvents
from ._multi import MultiProjectClient as MultiProjectClient
from ._multi import ProjectStatistics as ProjectStatistics
from ._multi_backoff import Backoff as Backoff
from ._server import ProjectServer as ProjectServer
from ._server import serve_project as serve_project
from ._server_config import OverlayBind as OverlayBind
from ._server_config import ServerConfig as ServerConfig
from ._server_config import parse_mycelium_bind as parse_mycelium_bind
from ._smtp import SmtpOutbox as SmtpOutbox
from ._smtp import SmtpSettings as SmtpSettings
from ._smtp import parse_smtp_url as parse_smtp_url
from ._ws_events import EventStream as EventStream

__all__ = [
    "OMIT",
    "Backoff",
    "Client",
    "ClientClosed",
    "Conflict",
    "ConnectFailed",
    "ConnectionLimits",
    "ConnectionLost",
    "ConsumerTooSlow",
    "EventStream",
    "Forbidden",
    "HeroAssistanceError",
    "HttpPool",
    "HttpResponse",
    "InternalError",
    "InvalidParams",
    "InvalidRequest",
    "InvalidToken",
    "LifespanFailed",
    "ListenerStatistics",
    "MergedEvents",
    "MethodNotFound",
    "MultiProjectClient",
    "NotFound",
    "OverlayBind",
    "ParseError",
    "PayloadTooLarge",
    "PoolStatistics",
    "ProjectServer",
    "ProjectStatistics",
    "ProtocolError",
    "RateLimited",
    "RpcError",
    "ServerConfig",
    "ServerStartupError",
    "SmtpOutbox",
    "SmtpSettings",
    "StreamStatistics",
    "TransportError",
    "Unauthenticated",
    "UnknownProject",
    "connect",
    "parse_mycelium_bind",
    "parse_smtp_url",
    "serve_asgi",
    "serve_project",
]
