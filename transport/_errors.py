"""Transport errors: the conversation with a project server failed, as opposed to the server answering "no".

The server's own answers arrive as ``RpcError`` subclasses from ``hero_assistance.core`` (one class per wire
code). Everything that goes wrong *around* an answer lands here, translated at the edge, so callers never see
``h11``, ``wsproto``, ``trio_websocket`` or ``OSError`` exceptions. All of them describe a state:

- ``ConnectFailed``: no connection could be made, so the request was certainly not sent.
- ``ConnectionLost``: the connection broke after the request may have reached the server; a write may or may
  not have taken effect (the classic ambiguity of any RPC: check before repeating a non-idempotent call).
- ``ProtocolError``: the server answered with something the wire contract does not allow (a stray HTTP status, non-JSON,
  a reply with another call's id). The connection it came on is closed.
- ``ClientClosed``: the ``Client`` (or ``MultiProjectClient``) was closed before or during the call.
"""

from __future__ import annotations

from hero_assistance.core import HeroAssistanceError


class TransportError(HeroAssistanceError):
    """Root of the errors about the connection rather than about the request."""


class ConnectFailed(TransportError):
    """Could not reach the server (refused, no such socket, the connect timeout, a refused WebSocket upgrade)."""


class ConnectionLost(TransportError):
    """The connection broke mid-conversation; a request that was being sent may or may not have taken effect."""


class ProtocolError(TransportError):
    """The server's answer breaks the wire contract; ``status`` is the HTTP status when there was one."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class ClientClosed(TransportError):
    """The client was closed before or while this call ran."""


class ConsumerTooSlow(TransportError):
    """A ``MultiProjectClient`` consumer fell behind: the project's stream was dropped and resumes with ``since``."""


class UnknownProject(HeroAssistanceError, LookupError):
    """No project is registered under this id in the ``MultiProjectClient``."""

    def __init__(self, project_id: str) -> None:
        super().__init__(f"no project registered as {project_id!r}")
        self.project_id = project_id

    def __str__(self) -> str:
        # LookupError's str() would quote the whole message again; keep the plain sentence.
        return str(self.args[0])
