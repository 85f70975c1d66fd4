"""The ui's own JSON-RPC namespace, ``ui.*``, answered without asking any project.

``ui.projects.list`` / ``ui.projects.add`` / ``ui.projects.remove`` — the project list (persisted,
applied live); ``ui.status`` — each project's connection state; ``ui.render_markdown`` — comment
Markdown to sanitised HTML (server-side, so the browser never parses Markdown into markup itself).

Requests follow JSON-RPC 2.0 exactly like a project's: named params, unknown params refused,
errors with the codes of docs/api.md (Errors), notifications answered with nothing.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from hero_assistance.core import InvalidParams, InvalidRequest, MethodNotFound, ParseError, RpcError

from ._markdown import render_markdown

if TYPE_CHECKING:
    from ._gateway import Gateway

PREFIX = "ui."
MAX_MARKDOWN_TEXTS = 200
MAX_MARKDOWN_BYTES = 64 * 1024

Handler = Callable[["Gateway", Any, bool], Awaitable[Any]]


def _params(params: Any, allowed: dict[str, type], required: tuple[str, ...] = ()) -> dict[str, Any]:
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise InvalidParams("params must be an object (by name)", {"field": "params", "reason": "not an object"})
    for key, value in params.items():
        if key not in allowed:
            raise InvalidParams.field(key, "unknown parameter")
        if not isinstance(value, allowed[key]):
            raise InvalidParams.field(key, f"must be a {allowed[key].__name__}")
    for key in required:
        if key not in params:
            raise InvalidParams.field(key, "required")
    return params


async def _status(gateway: Gateway, params: Any, trusted: bool) -> Any:
    _params(params, {})
    return gateway.status()


async def _projects_list(gateway: Gateway, params: Any, trusted: bool) -> Any:
    _params(params, {})
    return {"items": gateway.project_entries(), "next_cursor": None}


async def _projects_add(gateway: Gateway, params: Any, trusted: bool) -> Any:
    p = _params(params, {"name": str, "url": str}, ("name", "url"))
    gateway.check_may_change_projects(trusted)
    return await gateway.add_project(p["name"], p["url"])


async def _projects_remove(gateway: Gateway, params: Any, trusted: bool) -> Any:
    p = _params(params, {"name": str}, ("name",))
    gateway.check_may_change_projects(trusted)
    await gateway.remove_project(p["name"])
    return {"name": p["name"], "removed": True}


async def _render_markdown(gateway: Gateway, params: Any, trusted: bool) -> Any:
    p = _params(params, {"texts": list}, ("texts",))
    texts = p["texts"]
    if len(texts) > MAX_MARKDOWN_TEXTS:
        raise InvalidParams.field("texts", f"at most {MAX_MARKDOWN_TEXTS} texts")
    if not all(isinstance(t, str) and len(t.encode()) <= MAX_MARKDOWN_BYTES for t in texts):
        raise InvalidParams.field("texts", f"strings of at most {MAX_MARKDOWN_BYTES} bytes")
    return {"html": [render_markdown(t) for t in texts]}


METHODS: dict[str, Handler] = {
    "ui.status": _status,
    "ui.projects.list": _projects_list,
    "ui.projects.add": _projects_add,
    "ui.projects.remove": _projects_remove,
    "ui.render_markdown": _render_markdown,
}


def is_local_request(body: bytes) -> bool | None:
    """Whether a ``/rpc`` body is for the ui itself: ``True`` (all ``ui.*``), ``False`` (none), or ``None``
    (a batch mixing both, which is refused: a project must see the browser's bytes or nothing).

    The substring test first spares decoding a 13 MiB attachment upload just to learn it is not ours.
    """
    if b'"ui.' not in body:
        return False
    try:
        message = json.loads(body)
    except ValueError:
        return False  # let the project answer its own parse error
    items = message if isinstance(message, list) else [message]
    local = [isinstance(i, dict) and str(i.get("method", "")).startswith(PREFIX) for i in items]
    if all(local) and local:
        return True
    if any(local):
        return None
    return False


def _error(ident: Any, error: RpcError) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": ident, "error": error.to_wire()}


async def _one(gateway: Gateway, request: Any, trusted: bool) -> dict[str, Any] | None:
    if not isinstance(request, dict) or request.get("jsonrpc") != "2.0" or not isinstance(request.get("method"), str):
        return _error(request.get("id") if isinstance(request, dict) else None, InvalidRequest())
    ident = request.get("id")
    notification = "id" not in request
    handler = METHODS.get(request["method"])
    try:
        if handler is None:
            raise MethodNotFound(f"method not found: {request['method']}")
        result = await handler(gateway, request.get("params"), trusted)
    except RpcError as exc:
        return None if notification else _error(ident, exc)
    return None if notification else {"jsonrpc": "2.0", "id": ident, "result": result}


async def handle_local(gateway: Gateway, body: bytes, *, trusted: bool) -> bytes | None:
    """Answer a ``ui.*`` request or batch; ``None`` means "reply 204" (notifications only)."""
    try:
        message = json.loads(body)
    except ValueError:
        return json.dumps(_error(None, ParseError())).encode()
    if isinstance(message, list):
        replies = [r for r in [await _one(gateway, item, trusted) for item in message] if r is not None]
        return json.dumps(replies).encode() if replies else None
    reply = await _one(gateway, message, trusted)
    return json.dumps(reply).encode() if reply is not None else None


def error_body(body: bytes, error: RpcError) -> bytes:
    """A JSON-RPC error answering ``body`` (its id when it has one) that the ui raises itself."""
    ident = None
    try:
        message = json.loads(body)
        if isinstance(message, dict):
            ident = message.get("id")
    except ValueError:
        pass
    return json.dumps(_error(ident, error)).encode()
