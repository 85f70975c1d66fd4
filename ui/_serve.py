"""``serve_ui``: the ui's sockets, the HTTP engine on them, the gateway's status subscriptions, and a clean stop.

The ui runs on the same engine as the project server (``hero_assistance.transport.serve_asgi``): one seam
per connection, so no browser or local tool can take the ui down, and the same limits and conformance.
We bind the sockets ourselves and hand them to the engine: that gives one-line errors
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

import attrs
import trio

from hero_assistance.core import HeroAssistanceError
from hero_assistance.transport import ConnectionLimits, serve_asgi

from ._app import create_app
from ._config import UiConfig, parse_listen
from ._gateway import Gateway

log = logging.getLogger("hero_assistance.ui")

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
    app = create_app(gateway)
    named = [("ui", tcp)] + ([("app.sock", socks[1])] if len(socks) > 1 else [])
    try:
        async with trio.open_nursery() as nursery:
            await nursery.start(gateway.run)

            async def http(*, task_status: trio.TaskStatus[object] = trio.TASK_STATUS_IGNORED) -> None:
                await serve_asgi(
                    app,
                    named,
                    shutdown_trigger=server._stop.wait,
                    # Browsers behind one reverse proxy share its address: no per-peer cap here.
                    limits=ConnectionLimits(per_peer=ConnectionLimits().per_listener),
                    grace_period_s=GRACE_PERIOD_S,
                    task_status=task_status,
                )
                nursery.cancel_scope.cancel()  # every connection has ended: stop the status subscriptions

            await nursery.start(http)
            log.info("ready url=%s socket=%s projects=%s", url, config.socket_path or "-", ",".join(config.projects))
            task_status.started(server)
    finally:
        if config.socket_path is not None and unix_inode is not None:
            with contextlib.suppress(OSError):
                if os.lstat(config.socket_path).st_ino == unix_inode:
                    os.unlink(config.socket_path)
    log.info("stopped")
