"""``serve_project``: one project server — its sockets, our HTTP engine on each, and a clean stop.

Start-up order matters for the operator: sockets first (so a second server on the same socket
dir fails before it touches the database), then the project (migrations, or ``DatabaseTooNew``),
then hypercorn on each socket. Up to that point every failure is a plain exception naming the
problem in one line (``ServerStartupError`` or ``DatabaseTooNew``), raised before any nursery of
ours exists, so callers need not dig it out of an exception group.

Every listener (rpc.sock, events.sock, the overlay listener) runs on ``_http_server.HttpListener``:
one seam per connection contains whatever a peer causes, and the connection limits live there too.

Stopping: ``ProjectServer.stop()`` ends every event stream (WebSocket close 1001, SSE end of body),
stops accepting and closes idle keep-alive connections at once; requests in flight get
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

import trio

from hero_assistance.core import Caller, LogOutbox, Project, ProjectConfig, open_project

from ._asgi import InFlight, Listener, Scope, ServerApp
from ._events_http import EventStreams, StreamStatistics
from ._http_server import HttpListener, ListenerStatistics
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

log = logging.getLogger("hero_assistance.server")


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
        self.listeners: dict[str, HttpListener] = {}

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

    def listener_statistics(self) -> dict[str, ListenerStatistics]:
        """Open, accepted, refused-over-limit and failed connections of each listener."""
        return {name: listener.statistics() for name, listener in self.listeners.items()}


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
            stack.callback(sock.close)  # a no-op once its listener has closed it
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
            signup=config.signup,
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
                    app = ServerApp(project, listener, streams, in_flight)
                    engine = HttpListener(
                        app, sock, name=listener.name, limits=config.connection_limits, heartbeat_s=config.heartbeat_s
                    )
                    server.listeners[listener.name] = engine
                    await http.start(engine.serve, server._stopping.wait)
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
                # The listeners have stopped accepting and closed their idle connections; streams are
                # closing (1001). Requests in flight get the grace period, then whatever is left is cut.
                http.cancel_scope.deadline = trio.current_time() + config.grace_period_s
            # Every listener has shut down; let mail already promised go out, within the grace.
            if smtp is not None:
                smtp.close()
                nursery.cancel_scope.deadline = trio.current_time() + config.grace_period_s
        log.info("stopped project=%s", project.name)
