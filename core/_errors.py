"""One small, flat set of errors that describe state, not call sites.

``RpcError`` subclasses map one-to-one to the wire codes of the wire contract (docs/api.md). The services raise
them, the dispatcher turns them into JSON-RPC error objects, and the client SDK turns error objects
back into the same classes, so both sides of the wire share one vocabulary.
"""

from __future__ import annotations

from typing import Any, ClassVar


class HeroAssistanceError(Exception):
    """Root of every error this package raises on purpose."""


class RpcError(HeroAssistanceError):
    """A JSON-RPC error: ``code``, ``message`` and optional ``data`` exactly as on the wire."""

    code: int = -32000
    default_message: ClassVar[str] = "error"

    def __init__(self, code: int | None = None, message: str | None = None, data: Any = None) -> None:
        if code is not None:
            self.code = code
        self.message = message or self.default_message
        self.data = data
        super().__init__(self.message)

    def to_wire(self) -> dict[str, Any]:
        err: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.data is not None:
            err["data"] = self.data
        return err

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code}, message={self.message!r}, data={self.data!r})"


class _FixedCodeError(RpcError):
    """An ``RpcError`` whose code is fixed by its class: constructed as ``(message=None, data=None)``."""

    def __init__(self, message: str | None = None, data: Any = None) -> None:
        super().__init__(None, message, data)


class ParseError(_FixedCodeError):
    """The request body is not JSON."""

    code = -32700
    default_message = "parse error"


class InvalidRequest(_FixedCodeError):
    """The JSON is not a JSON-RPC 2.0 request object."""

    code = -32600
    default_message = "invalid request"


class MethodNotFound(_FixedCodeError):
    """No such method."""

    code = -32601
    default_message = "method not found"


class InvalidParams(_FixedCodeError):
    """A parameter is missing, unknown or out of range; ``data`` names the field and the reason."""

    code = -32602
    default_message = "invalid params"

    @classmethod
    def field(cls, name: str, reason: str) -> InvalidParams:
        return cls(f"invalid params: {name}: {reason}", {"field": name, "reason": reason})


class InternalError(_FixedCodeError):
    """Something unexpected; ``data.trace_id`` points at the logged stack trace."""

    code = -32603
    default_message = "internal error"


class Unauthenticated(_FixedCodeError):
    """The caller has no bound identity."""

    code = -32001
    default_message = "unauthenticated"


class Forbidden(_FixedCodeError):
    """The identity is known but lacks the permission."""

    code = -32002
    default_message = "forbidden"


class NotFound(_FixedCodeError):
    """The thing does not exist, or exists but the caller may not see it."""

    code = -32003
    default_message = "not found"

    @classmethod
    def of(cls, kind: str, ident: int | str | None) -> NotFound:
        return cls(f"{kind} not found", {"kind": kind, "id": ident})


class Conflict(_FixedCodeError):
    """Duplicate email, already bound, and other clashes with existing state."""

    code = -32004
    default_message = "conflict"


class RateLimited(_FixedCodeError):
    """Too many requests; ``data.retry_after`` says how many seconds to wait."""

    code = -32005
    default_message = "rate limited"

    @classmethod
    def after(cls, seconds: int) -> RateLimited:
        return cls("rate limited", {"retry_after": seconds})


class PayloadTooLarge(_FixedCodeError):
    """An attachment is too big or not an accepted image type."""

    code = -32006
    default_message = "payload too large or unsupported type"


class InvalidToken(_FixedCodeError):
    """A magic-link token that is unknown, used, expired or presented from the wrong device."""

    code = -32007
    default_message = "invalid or expired token"


class Unavailable(_FixedCodeError):
    """The server cannot take this write now (storage full or read-only); nothing was written."""

    code = -32008
    default_message = "unavailable: the server cannot take this write now"

    @classmethod
    def after(cls, seconds: int, reason: str) -> Unavailable:
        return cls(f"unavailable: {reason}; nothing was written, retry later", {"retry_after": seconds})


ERRORS_BY_CODE: dict[int, type[RpcError]] = {
    cls.code: cls
    for cls in (
        ParseError,
        InvalidRequest,
        MethodNotFound,
        InvalidParams,
        InternalError,
        Unauthenticated,
        Forbidden,
        NotFound,
        Conflict,
        RateLimited,
        PayloadTooLarge,
        InvalidToken,
        Unavailable,
    )
}


def error_from_wire(obj: Any) -> RpcError:
    """The error class for a JSON-RPC error object (an unknown code gives a plain ``RpcError``)."""
    if not isinstance(obj, dict):
        return InternalError("malformed error object", obj)
    code = obj.get("code")
    message = obj.get("message") if isinstance(obj.get("message"), str) else None
    data = obj.get("data")
    cls = ERRORS_BY_CODE.get(code) if isinstance(code, int) else None
    if cls is None:
        return RpcError(code if isinstance(code, int) else -32603, message, data)
    err = cls.__new__(cls)
    RpcError.__init__(err, code, message, data)
    return err
