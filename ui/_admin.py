"""The operator's dashboard (``hero-assistance admin``): is every project up, how busy is it, invite people.

One page, rendered on the server (no JavaScript; it refreshes itself every 15 s), on a loopback
address only. Per configured project it shows ``GET /health`` with its latency, ``project.info``
(title, version, auth mode, overlay address, ticket counts by status, users), and, when ``--ui`` names
a running ui, that ui's ``ui.status`` (each project's connection state, browsers connected).

It also does the one thing an operator needs most often: invite a person — enroll the email with a
role if it is new, and issue a one-time sign-in link (``auth.issue_magic_link``). Over a project's
Unix socket the dashboard asks nothing of anyone: it is the local operator, who is admin.
``GET /api/status`` answers the same facts as JSON for scripts and monitoring.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any
from urllib.parse import quote

import attrs
import trio
from quart import Response, render_template, request
from quart_trio import QuartTrio

from hero_assistance.core import RpcError
from hero_assistance.transport import Client, HttpPool, TransportError

from ._config import ProjectEndpoint

log = logging.getLogger("hero_assistance.admin")

PROBE_DEADLINE_S = 5.0
ROLES = ("customer", "support", "admin")
CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)


@attrs.define
class AdminConfig:
    projects: list[ProjectEndpoint]
    #: A running ui to ask for ``ui.status``: ``http://127.0.0.1:8080`` or ``unix:/path/app.sock``.
    ui_url: str | None = None
    #: Where sign-in links point (the ui's address); default: the ui URL when it is http.
    link_base_url: str | None = None
    allowed_origins: set[str] = attrs.field(factory=set)
    allowed_hosts: set[str] = attrs.field(factory=set)


async def _timed(coro: Any) -> tuple[Any, float]:
    started = time.perf_counter()
    result = await coro
    return result, (time.perf_counter() - started) * 1000


async def probe_project(endpoint: ProjectEndpoint) -> dict[str, Any]:
    """Health and info of one project; never raises (a dead project is a row saying so)."""
    row: dict[str, Any] = {"name": endpoint.name, "url": endpoint.url, "transport": endpoint.transport}
    try:
        async with Client(endpoint.url) as client:
            with trio.move_on_after(PROBE_DEADLINE_S) as scope:
                health, ms = await _timed(client.get("/health"))
                row["latency_ms"] = round(ms, 1)
                row["health"] = health.json() if health.status == 200 else {"status": f"HTTP {health.status}"}
                row["info"] = await client.call("project.info")
        if scope.cancelled_caught:
            row["error"] = f"no answer within {PROBE_DEADLINE_S:.0f} s"
    except (TransportError, RpcError, OSError, ValueError) as exc:
        row["error"] = str(exc)
    except Exception as exc:  # anything else the SDK raises: report, never crash the page
        row["error"] = f"{type(exc).__name__}: {exc}"
    row["ok"] = "error" not in row and row.get("health", {}).get("status") == "ok"
    return row


async def probe_ui(url: str) -> dict[str, Any]:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "ui.status", "params": {}}).encode()
    try:
        async with HttpPool(url, max_connections=1) as pool:
            with trio.fail_after(PROBE_DEADLINE_S):
                answer = await pool.request("POST", "/rpc", [("Content-Type", "application/json")], body)
        reply = answer.json()
        if "result" not in reply:
            return {"url": url, "error": reply.get("error", {}).get("message", "no result")}
        return {"url": url, **reply["result"]}
    except (TransportError, trio.TooSlowError, ValueError) as exc:
        return {"url": url, "error": str(exc) or "no answer in time"}


async def gather_status(config: AdminConfig) -> dict[str, Any]:
    rows: list[dict[str, Any]] = [{} for _ in config.projects]
    ui: dict[str, Any] | None = None

    async def one(i: int, endpoint: ProjectEndpoint) -> None:
        rows[i] = await probe_project(endpoint)

    async def the_ui(url: str) -> None:
        nonlocal ui
        ui = await probe_ui(url)

    async with trio.open_nursery() as nursery:
        for i, endpoint in enumerate(config.projects):
            nursery.start_soon(one, i, endpoint)
        if config.ui_url:
            nursery.start_soon(the_ui, config.ui_url)
    return {"projects": rows, "ui": ui}


async def invite(config: AdminConfig, project: str, email: str, role: str, name: str) -> dict[str, Any]:
    """Enroll ``email`` (if new) and issue a sign-in link for it; the answer for the page."""
    endpoint = next((p for p in config.projects if p.name == project), None)
    if endpoint is None:
        return {"error": f"no project named {project!r}"}
    if role not in ROLES:
        return {"error": f"unknown role {role!r}"}
    try:
        async with Client(endpoint.url) as client:
            enrolled = True
            try:
                await client.call("user.enroll", email=email, role=role, **({"display_name": name} if name else {}))
            except RpcError as exc:
                if exc.code != -32004:  # already enrolled: just issue a new link
                    raise
                enrolled = False
            issued = await client.call("auth.issue_magic_link", email=email)
    except Exception as exc:
        return {"error": str(getattr(exc, "message", exc))}
    link = issued["token"]
    if config.link_base_url:
        base = config.link_base_url.rstrip("/")
        link = f"{base}/?project={quote(project)}&token={quote(issued['token'])}"
    return {"project": project, "email": email, "enrolled": enrolled, "link": link, "expires_at": issued["expires_at"]}


def create_admin_app(config: AdminConfig) -> QuartTrio:
    app = QuartTrio(__name__, static_folder=None, template_folder="static/admin")

    @app.before_request
    async def check_host() -> Response | None:
        if request.scope.get("server") is not None and (request.headers.get("Host") or "") not in config.allowed_hosts:
            return Response("unknown host name\n", status=421, content_type="text/plain")
        return None

    @app.after_request
    async def headers(response: Response) -> Response:
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers.setdefault("Cache-Control", "no-store")  # the page may show a fresh sign-in link
        return response

    @app.get("/")
    async def index() -> str:
        status = await gather_status(config)
        return await render_template("admin.html", status=status, roles=ROLES, invited=None)

    @app.post("/invite")
    async def do_invite() -> str | Response:
        origin = request.headers.get("Origin")
        if origin is not None and origin not in config.allowed_origins:
            return Response("origin not allowed\n", status=403, content_type="text/plain")
        form = await request.form
        invited = await invite(
            config,
            form.get("project", ""),
            form.get("email", "").strip(),
            form.get("role", "customer"),
            form.get("name", "").strip(),
        )
        status = await gather_status(config)
        return await render_template("admin.html", status=status, roles=ROLES, invited=invited)

    @app.get("/api/status")
    async def api_status() -> Response:
        status = await gather_status(config)
        return Response(json.dumps(status, default=str), content_type="application/json")

    @app.get("/admin.css")
    async def css() -> Response:
        from ._app import BOOTSTRAP_DIR

        data = await trio.Path(BOOTSTRAP_DIR / "css" / "bootstrap.min.css").read_bytes()
        response = Response(data, content_type="text/css")
        response.headers["Cache-Control"] = "public, max-age=86400"
        return response

    return app


@attrs.define(eq=False)
class AdminServer:
    url: str
    _stop: trio.Event = attrs.field(factory=trio.Event)

    def stop(self) -> None:
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()


async def serve_admin(
    config: AdminConfig, listen: str, *, task_status: trio.TaskStatus[AdminServer] = trio.TASK_STATUS_IGNORED
) -> None:
    """Serve the dashboard on ``listen`` (a loopback address) until ``AdminServer.stop()`` or cancellation."""
    from hero_assistance.transport import serve_asgi

    from ._serve import _bind_tcp

    sock = _bind_tcp(listen)
    host, port = sock.getsockname()[:2]
    netloc = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    names = {netloc} | (
        {f"localhost:{port}", f"127.0.0.1:{port}", f"[::1]:{port}"} if host in ("127.0.0.1", "::1") else set()
    )
    config.allowed_hosts |= names
    config.allowed_origins |= {f"http://{n}" for n in names}
    server = AdminServer(f"http://{netloc}")
    await serve_asgi(
        create_admin_app(config),
        [("admin", sock)],
        shutdown_trigger=server._stop.wait,
        grace_period_s=2.0,
        task_status=_Started(task_status, server),
    )


class _Started:
    """Adapts the engine's ``started(listeners)`` to ours, ``started(AdminServer)``."""

    def __init__(self, task_status: trio.TaskStatus[AdminServer], server: AdminServer) -> None:
        self._task_status = task_status
        self._server = server

    def started(self, value: object = None) -> None:
        self._task_status.started(self._server)
