"""``serve_asgi``: any ASGI application (the ui's and the admin's Quart apps) on the project's own engine.

The project server's listeners run on ``_http_server.HttpListener``; this puts the ui and the admin
dashboard on the same engine, so every listener of the system shares one connection seam (whatever a
peer causes ends its own connection, never the process), the same limits and the same HTTP/1.1 and
WebSocket conformance. It adds what a general ASGI application expects and the project server's app
does not need: the lifespan protocol (Quart runs its ``before_serving`` / ``after_serving`` hooks and
owns its background nursery there) and a bounded graceful stop.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Awaitable, Callable
from typing import Any

import trio

from ._http_server import App, ConnectionLimits, HttpListener

log = logging.getLogger("hero_assistance.server.asgi")


class LifespanFailed(RuntimeError):
    """The application refused to start (``lifespan.startup.failed``)."""


class _Lifespan:
    """Runs the application's lifespan task: ``startup`` before serving, ``shutdown`` after."""

    def __init__(self, app: App) -> None:
        self.app = app
        self._to_app: list[dict[str, Any]] = [{"type": "lifespan.startup"}]
        self._wake = trio.Event()
        self.started = trio.Event()
        self.stopped = trio.Event()
        self.failure: str | None = None
        self.supported = True

    async def run(self) -> None:
        try:
            await self.app(
                {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.3"}}, self._receive, self._send
            )
        except Exception as exc:  # an app without lifespan support may raise on the scope type
            if not self.started.is_set():
                self.supported = False
                log.debug("the application does not support lifespan: %s", exc)
            else:
                raise
        finally:
            self.started.set()
            self.stopped.set()

    async def _receive(self) -> dict[str, Any]:
        while not self._to_app:
            await self._wake.wait()
            self._wake = trio.Event()
        return self._to_app.pop(0)

    async def _send(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        if kind == "lifespan.startup.complete":
            self.started.set()
        elif kind == "lifespan.startup.failed":
            self.failure = str(message.get("message", "")) or "the application failed to start"
            self.started.set()
        elif kind in ("lifespan.shutdown.complete", "lifespan.shutdown.failed"):
            self.stopped.set()

    def shutdown(self) -> None:
        self._to_app.append({"type": "lifespan.shutdown"})
        self._wake.set()


async def serve_asgi(
    app: Any,
    sockets: list[tuple[str, socket.socket]],
    *,
    shutdown_trigger: Callable[[], Awaitable[object]],
    limits: ConnectionLimits | None = None,
    heartbeat_s: float = 30.0,
    grace_period_s: float = 5.0,
    task_status: trio.TaskStatus[dict[str, HttpListener]] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve ``app`` on the listening ``sockets`` (``(name, socket)`` pairs; they are adopted and closed).

    Runs the lifespan startup first (``LifespanFailed`` if the app refuses), reports the listeners by name
    through ``task_status``, and at ``shutdown_trigger`` stops accepting, gives open connections
    ``grace_period_s`` to finish, then runs the lifespan shutdown.
    """
    limits = limits or ConnectionLimits()
    lifespan = _Lifespan(app)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(lifespan.run)
        try:
            await lifespan.started.wait()
            if lifespan.failure is not None:
                raise LifespanFailed(lifespan.failure)
        except BaseException:
            for _name, sock in sockets:
                sock.close()
            raise
        listeners = {
            name: HttpListener(app, sock, name=name, limits=limits, heartbeat_s=heartbeat_s) for name, sock in sockets
        }
        stop = trio.Event()
        async with trio.open_nursery() as serving:
            for listener in listeners.values():
                await serving.start(listener.serve, stop.wait)
            task_status.started(listeners)
            await shutdown_trigger()
            stop.set()
            serving.cancel_scope.deadline = trio.current_time() + grace_period_s
        if lifespan.supported:
            lifespan.shutdown()
            with trio.move_on_after(grace_period_s):
                await lifespan.stopped.wait()
        nursery.cancel_scope.cancel()
