"""The JSON-RPC 2.0 dispatcher: request bytes and a caller in, response bytes out.

No sockets here: the transport hands over a body and the attested ``Caller``; everything between
(parsing, batch handling, validation, permission, the service call, error mapping) is pure enough
to test without a network.
"""

from __future__ import annotations

import inspect
import json
import logging
import math
import time
import uuid
from typing import TYPE_CHECKING, Any

from ._errors import InternalError, InvalidParams, InvalidRequest, MethodNotFound, ParseError, RpcError
from ._identity import Actor, Caller
from ._permissions import require_identity
from ._records import converter
from ._registry import Registry
from ._storage import as_unavailable

if TYPE_CHECKING:
    from ._project import Services

log = logging.getLogger("hero_assistance.rpc")

MAX_BATCH = 100
MAX_DEPTH = 64  # levels of nesting in one request object (the request itself is level 1)
MAX_ID_LENGTH = 256  # characters of a string request id
_NO_RESPONSE = object()


class _Refused(ValueError):
    """A JSON literal the wire does not accept (``NaN``, ``Infinity``, a number that overflows)."""


def _refuse_constant(name: str) -> Any:
    raise _Refused(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _Refused(f"the number {text[:40]} overflows")
    return value


def _loads(body: bytes) -> Any:
    """Parse a request body; ``ParseError`` for anything that is not strict JSON."""
    try:
        return json.loads(body, parse_constant=_refuse_constant, parse_float=_finite_float)
    except _Refused as exc:
        raise ParseError(f"parse error: {exc}") from None
    except RecursionError:
        raise ParseError(f"parse error: nested deeper than {MAX_DEPTH} levels") from None
    except ValueError:  # includes UnicodeDecodeError and the int-digits limit
        raise ParseError("parse error: the body is not JSON") from None


def printable(text: str, limit: int = 100) -> str:
    """``text`` safe to log and to echo: lone surrogates escaped, cut to ``limit`` characters."""
    return text[:limit].encode("utf-8", "backslashreplace").decode()


def _valid_unicode(text: str) -> bool:
    if text.isascii():
        return True
    try:
        text.encode()
    except UnicodeEncodeError:  # a lone surrogate, from a "\ud800" escape
        return False
    return True


def malformed(value: Any, levels: int) -> tuple[str, str] | None:
    """``(path, reason)`` of the first string that is not valid Unicode, or nesting over ``levels``."""
    stack: list[tuple[Any, int, str]] = [(value, 1, "")]
    while stack:
        item, depth, path = stack.pop()
        if isinstance(item, str):
            if not _valid_unicode(item):
                return path or "params", "not valid Unicode (a lone surrogate)"
        elif isinstance(item, dict | list):
            if depth > levels:
                return path or "params", f"nested deeper than {MAX_DEPTH} levels"
            if isinstance(item, dict):
                for key, child in item.items():
                    if not _valid_unicode(key):
                        return printable(f"{path}.{key}" if path else key), "the name is not valid Unicode"
                    stack.append((child, depth + 1, f"{path}.{key}" if path else key))
            else:
                stack.extend((child, depth + 1, f"{path}.{i}" if path else str(i)) for i, child in enumerate(item))
    return None


def _dumps(obj: Any) -> bytes:
    # Lone surrogates are refused on the way in; should one still reach an answer (text stored by an
    # older version), "backslashreplace" writes it as the JSON escape "\udXXX" instead of failing.
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8", "backslashreplace")


def _error(ident: Any, err: RpcError) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": ident, "error": err.to_wire()}


class Dispatcher:
    def __init__(self, registry: Registry, services: Services) -> None:
        self.registry = registry
        self.services = services

    async def handle(self, body: bytes, caller: Caller) -> bytes | None:
        """Answer one HTTP body; ``None`` when there is nothing to send (only notifications)."""
        try:
            request = _loads(body)
        except ParseError as err:
            log.info("rpc refused: %s", err.message)
            return _dumps(_error(None, err))
        actor = self.services.users.resolve(caller)
        if isinstance(request, list):
            if not request:
                return _dumps(_error(None, InvalidRequest("invalid request: empty batch")))
            if len(request) > MAX_BATCH:
                return _dumps(_error(None, InvalidRequest(f"invalid request: batches hold at most {MAX_BATCH}")))
            answers = [await self._one(item, actor) for item in request]
            replies = [a for a in answers if a is not _NO_RESPONSE]
            return _dumps(replies) if replies else None
        answer = await self._one(request, actor)
        return None if answer is _NO_RESPONSE else _dumps(answer)

    async def _one(self, request: Any, actor: Actor) -> Any:
        if not isinstance(request, dict):
            return _error(None, InvalidRequest("invalid request: not an object"))
        ident = request.get("id")
        notification = "id" not in request
        if not isinstance(ident, str | int | None) or isinstance(ident, bool):
            return _error(None, InvalidRequest("invalid request: id must be a string, number or null"))
        if isinstance(ident, str) and (len(ident) > MAX_ID_LENGTH or not _valid_unicode(ident)):
            return _error(
                None, InvalidRequest(f"invalid request: a string id is valid Unicode, {MAX_ID_LENGTH} at most")
            )
        method_name = request.get("method")
        if request.get("jsonrpc") != "2.0" or not isinstance(method_name, str):
            return _error(ident, InvalidRequest('invalid request: needs jsonrpc "2.0" and a method name'))
        if not _valid_unicode(method_name):
            return _error(ident, InvalidRequest("invalid request: the method name is not valid Unicode"))
        unknown = set(request) - {"jsonrpc", "id", "method", "params"}
        if unknown:
            name = printable(sorted(unknown)[0])
            return _error(ident, InvalidRequest(f"invalid request: unknown member {name!r}"))
        started = time.perf_counter()
        outcome = "ok"
        try:
            result = await self.call(method_name, request.get("params"), actor)
            response: Any = {"jsonrpc": "2.0", "id": ident, "result": result}
        except RpcError as err:
            outcome = str(err.code)
            response = _error(ident, err)
        except Exception as exc:
            unavailable = as_unavailable(exc)
            if unavailable is not None:
                log.warning("rpc method=%s unavailable: %s", method_name, exc)
                outcome = str(unavailable.code)
                response = _error(ident, unavailable)
            else:
                trace_id = uuid.uuid4().hex[:16]
                log.exception("internal error in %s trace_id=%s", method_name, trace_id)
                outcome = "-32603"
                response = _error(ident, InternalError("internal error", {"trace_id": trace_id}))
        log.info(
            "rpc method=%s user=%s outcome=%s ms=%.2f",
            method_name if self.registry.get(method_name) else "<unknown>",
            actor.user_id,
            outcome,
            (time.perf_counter() - started) * 1000,
        )
        return _NO_RESPONSE if notification else response

    async def call(self, method_name: str, params: Any, actor: Actor) -> Any:
        """Run one method for ``actor``; the result as wire JSON, or an ``RpcError``.

        ``params`` absent (``None``), ``{}`` and ``[]`` all mean "no params" (generic OpenRPC clients
        send ``[]``); everything is checked for nesting and valid Unicode before the schema sees it.
        """
        spec = self.registry.get(method_name)
        if spec is None:
            raise MethodNotFound(f"method not found: {printable(method_name)}")
        if params is None or params == []:
            params = {}
        if isinstance(params, list):
            raise InvalidParams.field("params", "params are passed by name (an object), not by position")
        if not isinstance(params, dict):
            raise InvalidParams.field("params", "must be an object")
        problem = malformed(params, MAX_DEPTH - 1)
        if problem is not None:
            raise InvalidParams.field(*problem)
        require_identity(actor, spec.identity)
        parsed = spec.parse_params(params)
        result = spec.handler(self.services, actor, parsed)
        if inspect.isawaitable(result):
            result = await result
        return converter.unstructure(result)
