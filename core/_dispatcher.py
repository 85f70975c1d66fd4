"""The JSON-RPC 2.0 dispatcher: request bytes and a caller in, response bytes out.

No sockets here: the transport hands over a body and the attested ``Caller``; everything between
(parsing, batch handling, validation, permission, the service call, error mapping) is pure enough
to test without a network.
"""

from __future__ import annotations

import inspect
import json
import logging
import time
import uuid
from typing import TYPE_CHECKING, Any

from ._errors import InternalError, InvalidParams, InvalidRequest, MethodNotFound, ParseError, RpcError
from ._identity import Actor, Caller
from ._permissions import require_identity
from ._records import converter
from ._registry import Registry

if TYPE_CHECKING:
    from ._project import Services

log = logging.getLogger("hero_assistance.rpc")

MAX_BATCH = 100
_NO_RESPONSE = object()


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


def _error(ident: Any, err: RpcError) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": ident, "error": err.to_wire()}


class Dispatcher:
    def __init__(self, registry: Registry, services: Services) -> None:
        self.registry = registry
        self.services = services

    async def handle(self, body: bytes, caller: Caller) -> bytes | None:
        """Answer one HTTP body; ``None`` when there is nothing to send (only notifications)."""
        try:
            request = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            return _dumps(_error(None, ParseError("parse error: the body is not JSON")))
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
        if not isinstance(ident, (str, int, type(None))) or isinstance(ident, bool):
            return _error(None, InvalidRequest("invalid request: id must be a string, number or null"))
        method_name = request.get("method")
        if request.get("jsonrpc") != "2.0" or not isinstance(method_name, str):
            return _error(ident, InvalidRequest('invalid request: needs jsonrpc "2.0" and a method name'))
        unknown = set(request) - {"jsonrpc", "id", "method", "params"}
        if unknown:
            return _error(ident, InvalidRequest(f"invalid request: unknown member {sorted(unknown)[0]!r}"))
        started = time.perf_counter()
        outcome = "ok"
        try:
            result = await self.call(method_name, request.get("params", {}), actor)
            response: Any = {"jsonrpc": "2.0", "id": ident, "result": result}
        except RpcError as err:
            outcome = str(err.code)
            response = _error(ident, err)
        except Exception:
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
        """Run one method for ``actor``; the result as wire JSON, or an ``RpcError``."""
        spec = self.registry.get(method_name)
        if spec is None:
            raise MethodNotFound(f"method not found: {method_name}")
        if isinstance(params, list):
            raise InvalidParams.field("params", "params are passed by name (an object), not by position")
        if not isinstance(params, dict):
            raise InvalidParams.field("params", "must be an object")
        require_identity(actor, spec.identity)
        parsed = spec.parse_params(params)
        result = spec.handler(self.services, actor, parsed)
        if inspect.isawaitable(result):
            result = await result
        return converter.unstructure(result)
