"""``serve_project``: one project server — its sockets, hypercorn on each, and a clean stop.

Start-up order matters for the operator: sockets first (so a second server on the same socket
dir fails before it touches the database), then the project (migrations, or ``DatabaseTooNew``),
then hypercorn on each socket. Up to that point every failure is a plain exception naming the
problem in one line (``ServerStartupError`` or ``DatabaseTooNew``), raised before any nursery of
ours exists, so callers need not dig it out of an exception group.

Stopping: ``ProjectServer.stop()`` ends every event stream (WebSocket close 1001, SSE end of body)
and triggers hypercorn's graceful shutdown: listeners close at once, requests in flight get
``grace_period_s`` to finish. Then queued mail gets the same grace, the project closes and the
socket files are removed. Cancelling ``serve_project`` instead stops everything at once, still
removing the socket files.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import sqlite3
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, cast

import hypercorn.config
import hypercorn.trio
import trio

from hero_assistance.core import Caller, LogOutbox, Project, ProjectConfig, open_project

from ._asgi import InFlight, Listener, Scope, ServerApp
from ._events_http import EventStreams, StreamStatistics
from ._events_server import serve_events_socket
from ._listen import (
    ServerStartupError,
    attest_overlay_peer,
    attest_unix,
    bind_overlay_socket,
    bind_unix_socket,
    lock_socket_dir,
    remove_socket_file,
)
from ._server_config import ServerConfig
from ._smtp import SmtpOutbox

if TYPE_CHECKING:
    from hypercorn.typing import ASGIFramework

log = logging.getLogger("hero_assistance.server")
#: hypercorn's own messages ("Running on …", connection errors); the CLI keeps them at WARNING.
hypercorn_log = logging.getLogger("hero_assistance.server.hypercorn")

KEEP_ALIVE_S = 30.0
WEBSOCKET_MAX_MESSAGE = 64 * 1024  # clients send us nothing but control frames


class ProjectServer:
    """A running project server, as handed to ``task_status.started`` by ``serve_project``."""

    def __init__(
        self,
        project: Project,
        config: ServerConfig,
        streams: EventStreams,
        overlay_address: tuple[str, int] | None,
    ) -> None:
        self.project = project
        self.config = config
        self.rpc_socket: Path = config.rpc_socket
        self.events_socket: Path = config.events_socket
        #: ``(host, port)`` the overlay listener is bound to (the real port when 0 was asked for).
        self.overlay_address = overlay_address
        self._streams = streams
        self._stopping = trio.Event()

    def stop(self) -> None:
        """Stop gracefully: close event streams and listeners, let requests in flight finish."""
        if not self._stopping.is_set():
            log.info("stopping project=%s", self.project.name)
        self._streams.close_all()
        self._stopping.set()

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def statistics(self) -> StreamStatistics:
        """The event streams; ``project.hub.statistics()`` has the hub's side."""
        return self._streams.statistics()


def _hypercorn_config(sock: socket.socket, config: ServerConfig) -> hypercorn.config.Config:
    hc = hypercorn.config.Config()
    # hypercorn adopts the file descriptor: from now on it closes the socket, not us.
    hc.bind = [f"fd://{sock.detach()}"]
    hc.backlog = 1024
    hc.accesslog = None  # we log one line per request ourselves
    hc.errorlog = hypercorn_log
    hc.graceful_timeout = config.grace_period_s
    hc.keep_alive_timeout = KEEP_ALIVE_S
    hc.keep_alive_max_requests = 100_000
    hc.websocket_ping_interval = config.heartbeat_s
    hc.websocket_max_message_size = WEBSOCKET_MAX_MESSAGE
    hc.include_server_header = False
    return hc


def _overlay_url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}"


def _attest_local(scope: Scope) -> Caller:
    return attest_unix(scope["headers"])


def _attest_peer(scope: Scope, *, literal: bool) -> Caller:
    client = scope.get("client")
    return attest_overlay_peer(client[0] if client else None, literal=literal)


async def serve_project(
    config: ServerConfig, *, task_status: trio.TaskStatus[ProjectServer] = trio.TASK_STATUS_IGNORED
) -> None:
    """Serve one project until ``ProjectServer.stop()`` (graceful) or cancellation (immediate).

    Raises ``ServerStartupError`` or ``DatabaseTooNew`` (plain, not grouped) if it cannot start.
    """
    async with contextlib.AsyncExitStack() as stack:
        listeners: list[tuple[Listener, socket.socket]] = []
        stack.callback(os.close, lock_socket_dir(config.socket_dir))  # released last
        for path, rpc in ((config.rpc_socket, True), (config.events_socket, False)):
            sock = bind_unix_socket(path, group=config.socket_group)
            stack.callback(remove_socket_file, path, os.lstat(path).st_ino)
            stack.callback(sock.close)  # a no-op once hypercorn has adopted it
            listeners.append((Listener(path.name, rpc=rpc, events=not rpc, attest=_attest_local), sock))
        overlay_address: tuple[str, int] | None = None
        overlay_url = config.overlay_address
        overlay_label = "-"
        if config.overlay is not None:
            sock = bind_overlay_socket(config.overlay)
            stack.callback(sock.close)
            host, port = sock.getsockname()[:2]
            overlay_address = (host, port)
            literal = config.overlay.mode == "literal"
            if literal and overlay_url is None:
                overlay_url = _overlay_url(host, port)
            overlay_label = f"{config.overlay.mode}:{_overlay_url(host, port)}"
            attest = partial(_attest_peer, literal=literal)
            listeners.append((Listener("overlay", rpc=True, events=True, attest=attest), sock))

        smtp = SmtpOutbox(config.smtp, link_base_url=config.link_base_url) if config.smtp else None
        project_config = ProjectConfig(
            name=config.project,
            data_dir=config.data_dir,
            title=config.title,
            auth_mode=config.auth_mode,
            outbox=smtp or LogOutbox(config.link_base_url),
            limits=config.limits,
            overlay_address=overlay_url,
            event_buffer=config.event_buffer,
            event_retention=config.event_retention,
        )
        try:
            project = await stack.enter_async_context(open_project(project_config))
        except (OSError, sqlite3.Error) as exc:
            raise ServerStartupError(f"cannot open the project database in {config.data_dir}: {exc}") from None

        streams = EventStreams(project, heartbeat_s=config.heartbeat_s)
        in_flight = InFlight()
        server = ProjectServer(project, config, streams, overlay_address)
        async with trio.open_nursery() as nursery:
            if smtp is not None:
                await nursery.start(smtp.run)
            async with trio.open_nursery() as http:
                for listener, sock in listeners:
                    asgi = ServerApp(project, listener, streams, in_flight)
                    if listener.events and not listener.rpc:
                        # events.sock: our fan-out server (see _events_server.py for why not hypercorn).
                        await http.start(
                            partial(
                                serve_events_socket,
                                asgi,
                                sock,
                                heartbeat_s=config.heartbeat_s,
                                shutdown_trigger=server._stopping.wait,
                            )
                        )
                        continue
                    # hypercorn types ASGI messages as TypedDicts; ours are plain dicts.
                    app = cast("ASGIFramework", asgi)
                    hc = _hypercorn_config(sock, config)
                    await http.start(partial(hypercorn.trio.serve, app, hc, shutdown_trigger=server._stopping.wait))
                log.info(
                    "ready project=%s rpc=%s events=%s overlay=%s auth_mode=%s",
                    project.name,
                    config.rpc_socket,
                    config.events_socket,
                    overlay_label,
                    config.auth_mode,
                )
                task_status.started(server)
                await server._stopping.wait()
                # hypercorn now waits up to the grace period for its connections to end. A
                # WebSocket's connection outlives its close until hypercorn's ping task next wakes
                # (up to a heartbeat later), so once our own requests and streams are done we end
                # the wait rather than sit out the whole grace period.
                with trio.move_on_after(config.grace_period_s):
                    await in_flight.wait_idle()
                http.cancel_scope.cancel()
            # Every listener has shut down; let mail already promised go out, within the grace.
            if smtp is not None:
                smtp.close()
                nursery.cancel_scope.deadline = trio.current_time() + config.grace_period_s
        log.info("stopped project=%s", project.name)
