"""``serve_ui``: the ui's sockets, hypercorn on them, the gateway's status subscriptions, and a clean stop.

We bind the sockets ourselves and hand hypercorn their file descriptors: that gives one-line errors
for the operator ("port 8080 is taken") before anything starts, the real port when 0 was asked for,
an app socket created 0600 from the first instant (bound under a tight umask), and a live ui's app
socket is never stolen by a second one (we probe it with ``connect`` first).
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import socket
import stat
from pathlib import Path
from typing import TYPE_CHECKING, cast

import attrs
import hypercorn.config
import hypercorn.trio
import trio

from hero_assistance.core import HeroAssistanceError

from ._app import create_app
from ._config import UiConfig, parse_listen
from ._gateway import Gateway

if TYPE_CHECKING:
    from hypercorn.typing import ASGIFramework

log = logging.getLogger("hero_assistance.ui")
hypercorn_log = logging.getLogger("hero_assistance.ui.hypercorn")

#: In-flight requests get this long after a stop; event bridges end at once on their own.
GRACE_PERIOD_S = 3.0


class UiStartupError(HeroAssistanceError):
    """The ui cannot start; the message is one line for the operator."""


@attrs.define(eq=False)
class UiServer:
    """A running ui, as handed to ``task_status.started`` by ``serve_ui``."""

    gateway: Gateway
    #: ``http://HOST:PORT`` of the TCP listener (the real port when 0 was asked for).
    url: str
    socket_path: Path | None
    _stop: trio.Event = attrs.field(factory=trio.Event)

    def stop(self) -> None:
        """Stop gracefully: end every browser's event socket, let requests in flight finish."""
        self.gateway.stopping.set()
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()


def _bind_tcp(listen: str) -> socket.socket:
    host, port = parse_listen(listen)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise UiStartupError(f"cannot listen on {listen}: the port is taken (another ui running?)") from None
        raise UiStartupError(f"cannot listen on {listen}: {exc.strerror or exc}") from None
    sock.listen(1024)
    return sock


def _bind_unix(path: Path) -> socket.socket:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with contextlib.suppress(FileNotFoundError):
        if not stat.S_ISSOCK(os.lstat(path).st_mode):
            raise UiStartupError(f"{path} exists and is not a socket: move it away")
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(str(path))
        except OSError:
            os.unlink(path)  # left by a ui that died: nobody answers on it
        else:
            raise UiStartupError(f"{path} is held by a running ui: stop it first")
        finally:
            probe.close()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)
    try:
        sock.bind(str(path))
    except OSError as exc:
        sock.close()
        raise UiStartupError(f"cannot create {path}: {exc.strerror or exc}") from None
    finally:
        os.umask(old)
    sock.listen(1024)
    return sock


def _hypercorn_config(socks: list[socket.socket]) -> hypercorn.config.Config:
    hc = hypercorn.config.Config()
    # hypercorn adopts the descriptors: from here on it closes the sockets, not us.
    hc.bind = [f"fd://{sock.detach()}" for sock in socks]
    hc.accesslog = None
    hc.errorlog = hypercorn_log
    hc.graceful_timeout = GRACE_PERIOD_S
    # No WebSocket pings from hypercorn: it sends its first one the instant a socket opens, racing the
    # client's own close handshake. The bridge sends a small heartbeat frame instead (see _bridge).
    hc.websocket_ping_interval = None
    hc.include_server_header = False
    return hc


async def serve_ui(config: UiConfig, *, task_status: trio.TaskStatus[UiServer] = trio.TASK_STATUS_IGNORED) -> None:
    """Serve the ui until ``UiServer.stop()`` (graceful) or cancellation (immediate).

    Raises ``UiStartupError`` (plain, not grouped) if a socket cannot be bound.
    """
    tcp = _bind_tcp(config.listen)
    socks = [tcp]
    unix_inode: int | None = None
    try:
        if config.socket_path is not None:
            unix = _bind_unix(config.socket_path)
            socks.append(unix)
            unix_inode = os.lstat(config.socket_path).st_ino
    except BaseException:
        tcp.close()
        raise
    host, port = tcp.getsockname()[:2]
    gateway = Gateway(config)
    gateway.allow_listen_address(host, port)
    url = f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
    server = UiServer(gateway, url, config.socket_path)
    app = cast("ASGIFramework", create_app(gateway))
    hc = _hypercorn_config(socks)
    try:
        async with trio.open_nursery() as nursery:
            await nursery.start(gateway.run)

            async def http(*, task_status: trio.TaskStatus[list[str]] = trio.TASK_STATUS_IGNORED) -> None:
                await hypercorn.trio.serve(app, hc, shutdown_trigger=server._stop.wait, task_status=task_status)
                nursery.cancel_scope.cancel()  # hypercorn has drained: stop the status subscriptions

            await nursery.start(http)
            log.info("ready url=%s socket=%s projects=%s", url, config.socket_path or "-", ",".join(config.projects))
            task_status.started(server)
    finally:
        if config.socket_path is not None and unix_inode is not None:
            with contextlib.suppress(OSError):
                if os.lstat(config.socket_path).st_ino == unix_inode:
                    os.unlink(config.socket_path)
    log.info("stopped")
