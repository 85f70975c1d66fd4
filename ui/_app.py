"""The Quart-Trio application: the single page app, the ``/rpc`` proxy, ``/ws``, attachments.

Routes:
  ``POST /rpc``                 JSON-RPC for the project named by ``X-Hero-Project`` (body untouched),
                                or the ui's own ``ui.*`` methods
  ``GET /ws``                   one WebSocket: every project's events, tagged, plus connection states
  ``GET /openrpc.json?project=``  the project's OpenRPC document, passed through
  ``GET /attachments/{project}/{id}[/thumb]``  an attachment's bytes, fetched as this browser
  ``GET /health``               the ui's own liveness
  ``GET /static/…``, ``/vendor/bootstrap/…``  the app's files and Bootstrap (from bootstrap-wrapper)
  anything else                 ``index.html``, so a deep link like ``/tickets/acme/42`` survives a reload

Every response carries a Content-Security-Policy that allows scripts from this origin only (no inline
script, no ``eval``), and nothing the browser sends in an ``X-Hero-*`` header ever reaches a project:
the ui builds the upstream request's headers from scratch.
"""

from __future__ import annotations

import json
import logging
import mimetypes
from pathlib import Path

import bootstrap_wrapper
import trio
from quart import Response, request, websocket
from quart.helpers import send_from_directory
from quart_trio import QuartTrio
from werkzeug.exceptions import NotFound as HttpNotFound

from hero_assistance.core import InvalidRequest, NotFound, RpcError
from hero_assistance.transport import Client, TransportError

from ._bridge import run_bridge
from ._gateway import Gateway, device_for
from ._local import error_body, handle_local, is_local_request
from ._session import COOKIE_NAME, cookie_header, device_key, new_session, valid_session

log = logging.getLogger("hero_assistance.ui")

STATIC_DIR = Path(__file__).parent / "static"
BOOTSTRAP_DIR = Path(bootstrap_wrapper.get_bootstrap_dir())
#: The project refuses bodies over 16 MiB; let such a body through to get its 413, refuse beyond.
MAX_BODY_BYTES = 16 * 1024 * 1024 + 64 * 1024
#: A 10 MiB screenshot over a slow overlay path can take a while; nothing legitimate takes longer.
UPSTREAM_DEADLINE_S = 120.0
IMAGE_TYPES = {"image/png", "image/jpeg", "image/gif", "image/webp"}

CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' blob: data:",  # blob: previews of pasted screenshots; data: Bootstrap's SVG icons
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
#: For bytes a project hands us (attachments, documents): nothing in them may run on our origin.
CSP_INERT = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox"


def _json_response(body: bytes, status: int = 200) -> Response:
    return Response(body, status=status, content_type="application/json")


def create_app(gateway: Gateway) -> QuartTrio:
    app = QuartTrio(__name__, static_folder=None)
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    app.config["PROVIDE_AUTOMATIC_OPTIONS"] = False

    def over_tcp() -> bool:
        # The engine gives no "server" address for a Unix socket: the app socket is for local tools,
        # trusted like the project's own sockets (whoever can connect is the operator).
        return request.scope.get("server") is not None

    @app.before_request
    async def check_host() -> Response | None:
        if over_tcp() and not gateway.host_allowed(request.headers.get("Host")):
            return Response("unknown host name\n", status=421, content_type="text/plain")
        return None

    @app.before_websocket
    async def check_ws_host() -> Response | None:
        over = websocket.scope.get("server") is not None
        if over and not gateway.host_allowed(websocket.headers.get("Host")):
            return Response("unknown host name\n", status=421, content_type="text/plain")
        if not gateway.origin_allowed(websocket.headers.get("Origin")):
            return Response("origin not allowed\n", status=403, content_type="text/plain")
        return None

    @app.after_request
    async def security_headers(response: Response) -> Response:
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers["X-Content-Type-Options"] = "nosniff"
        # Sign-in links carry a token in the query string: never leak it to another site in a Referer header.
        # (Not "no-referrer": with it, browsers send "Origin: null" on form posts, which the Origin check refuses.)
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
        response.headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
        return response

    def browser_session() -> tuple[str, bool]:
        """This browser's session, and whether it was just minted (then the response sets it)."""
        existing = valid_session(request.cookies.get(COOKIE_NAME))
        return (existing, False) if existing else (new_session(), True)

    def with_cookie(response: Response, session: str, fresh: bool) -> Response:
        if fresh:
            # Behind a TLS-terminating proxy the request arrives as http; the configured https origin says more.
            secure = request.scheme == "https" or gateway.https_host(request.headers.get("Host"))
            response.headers.add("Set-Cookie", cookie_header(session, secure=secure))
        return response

    def upstream_for(project: str, device: str | None) -> tuple[Client, list[tuple[str, str]]]:
        """The project's client and the only identity header the ui sends it (never one the browser sent)."""
        endpoint = gateway.endpoint(project)
        upstream = gateway.upstreams.get(project)
        if endpoint is None or upstream is None:
            raise NotFound(f"no project named {project!r} is configured", {"kind": "project", "id": project})
        asserted = device_for(endpoint, device)
        return upstream, [] if asserted is None else [("X-Hero-Device", asserted)]

    # -- JSON-RPC ---------------------------------------------------------------------------------
    @app.post("/rpc")
    async def rpc() -> Response:
        if not gateway.origin_allowed(request.headers.get("Origin")):
            return Response("origin not allowed\n", status=403, content_type="text/plain")
        session, fresh = browser_session()
        body = await request.get_data(cache=False, as_text=False)
        assert isinstance(body, bytes)
        local = is_local_request(body)
        if local is None:
            error = InvalidRequest("a batch cannot mix ui.* methods with a project's methods")
            return with_cookie(_json_response(error_body(body, error)), session, fresh)
        if local:
            answer = await handle_local(gateway, body, trusted=not over_tcp())
            response = Response(status=204) if answer is None else _json_response(answer)
            return with_cookie(response, session, fresh)
        project = request.headers.get("X-Hero-Project", "")
        if not project:
            error = InvalidRequest("name the project in the X-Hero-Project header")
            return with_cookie(_json_response(error_body(body, error)), session, fresh)
        try:
            upstream, headers = upstream_for(project, device_key(session))
            with trio.fail_after(UPSTREAM_DEADLINE_S):
                upstream_answer = await upstream.forward(body, headers)
        except RpcError as exc:
            return with_cookie(_json_response(error_body(body, exc)), session, fresh)
        except (TransportError, trio.TooSlowError) as exc:
            reason = str(exc) or "no answer in time"
            unreachable = RpcError(-32603, f"project {project} is unreachable: {reason}", {"project": project})
            return with_cookie(_json_response(error_body(body, unreachable), status=502), session, fresh)
        content_type = upstream_answer.header("Content-Type") or ""
        if not content_type.startswith("application/json"):
            content_type = "text/plain; charset=utf-8"
        response = Response(upstream_answer.body, status=upstream_answer.status, content_type=content_type)
        return with_cookie(response, session, fresh)

    # -- passed-through documents -------------------------------------------------------------------
    async def passthrough(project: str, target: str, allowed_types: set[str] | None) -> Response:
        session = valid_session(request.cookies.get(COOKIE_NAME))
        try:
            upstream, headers = upstream_for(project, device_key(session) if session else None)
            with trio.fail_after(UPSTREAM_DEADLINE_S):
                answer = await upstream.get(target, headers)
        except NotFound:
            return Response("no such project\n", status=404, content_type="text/plain")
        except (TransportError, trio.TooSlowError) as exc:
            return Response(f"project {project} is unreachable: {exc}\n", status=502, content_type="text/plain")
        content_type = (answer.header("Content-Type") or "").split(";")[0].strip().lower()
        if allowed_types is not None and content_type not in allowed_types:
            content_type = "application/octet-stream"
        response = Response(answer.body, status=answer.status, content_type=content_type or "text/plain")
        response.headers["Content-Security-Policy"] = CSP_INERT
        if answer.status == 200 and target.startswith("/attachments/"):
            # An attachment never changes under its id; only this browser's identity may see it.
            response.headers["Cache-Control"] = "private, max-age=86400"
        return response

    @app.get("/openrpc.json")
    async def openrpc() -> Response:
        project = request.args.get("project", "")
        if not project:
            return Response("name the project: /openrpc.json?project=NAME\n", status=400, content_type="text/plain")
        return await passthrough(project, "/openrpc.json", {"application/json"})

    @app.get("/attachments/<project>/<int:attachment_id>")
    async def attachment(project: str, attachment_id: int) -> Response:
        return await passthrough(project, f"/attachments/{attachment_id}", IMAGE_TYPES)

    @app.get("/attachments/<project>/<int:attachment_id>/thumb")
    async def attachment_thumb(project: str, attachment_id: int) -> Response:
        return await passthrough(project, f"/attachments/{attachment_id}/thumb", IMAGE_TYPES)

    # -- events -----------------------------------------------------------------------------------
    @app.websocket("/ws")
    async def ws() -> None:
        session = valid_session(websocket.cookies.get(COOKIE_NAME))
        await websocket.accept()
        await run_bridge(gateway, websocket, device_key(session) if session else None)

    # -- the ui itself ------------------------------------------------------------------------------
    @app.get("/health")
    async def health() -> Response:
        status = gateway.status()
        body = {"status": "ok", "service": status["service"], "version": status["version"]}
        return _json_response(json.dumps(body).encode())

    @app.get("/static/<path:name>")
    async def static(name: str) -> Response:
        try:
            response = await send_from_directory(STATIC_DIR, name, mimetype=_mimetype(name))
        except HttpNotFound:
            return Response("not found\n", status=404, content_type="text/plain")
        response.headers["Cache-Control"] = "no-cache"  # revalidate (ETag): a new version shows at once
        return response

    @app.get("/vendor/bootstrap/<path:name>")
    async def bootstrap(name: str) -> Response:
        try:
            response = await send_from_directory(BOOTSTRAP_DIR, name, mimetype=_mimetype(name))
        except HttpNotFound:
            return Response("not found\n", status=404, content_type="text/plain")
        response.headers["Cache-Control"] = "public, max-age=86400"
        return response

    @app.get("/")
    @app.get("/<path:path>")
    async def index(path: str = "") -> Response:
        if path.startswith(("static/", "vendor/", "attachments/", "api/")):
            return Response("not found\n", status=404, content_type="text/plain")
        response = await send_from_directory(STATIC_DIR, "index.html", mimetype="text/html")
        response.headers["Cache-Control"] = "no-cache"
        return response

    return app


def _mimetype(name: str) -> str:
    if name.endswith((".js", ".mjs")):
        return "text/javascript"  # module scripts must have a JavaScript type
    return mimetypes.guess_type(name)[0] or "application/octet-stream"
