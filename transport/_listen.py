"""The server's listening sockets, made by hand, and who a peer on each of them is.

We create the sockets ourselves rather than letting hypercorn bind them, for three reasons:
a Unix socket must never be connectable with looser permissions than 0600/0660, not even for the
moment between ``bind`` and ``chmod`` (so we bind under a tight umask); a socket file left by a
dead server must be replaced while one held by a live server must not be stolen (so we probe it
with ``connect`` first); and hypercorn's own ``[::]`` bind does not set ``IPV6_V6ONLY``, which the
overlay listener needs so that no IPv4 peer appears as an IPv4-mapped IPv6 address.
"""

from __future__ import annotations

import errno
import fcntl
import grp
import ipaddress
import os
import socket
import stat
from collections.abc import Iterable
from pathlib import Path

from hero_assistance.core import Caller, HeroAssistanceError

from ._server_config import OVERLAY_PREFIX, OverlayBind

BACKLOG = 1024
#: A TCP peer whose sent data stays unacknowledged this long is given up (dead peers, and peers
#: that stopped reading with a closed window): bounds how long a send to it can block.
TCP_USER_TIMEOUT_MS = 60_000
TCP_KEEPIDLE_S = 30
TCP_KEEPINTVL_S = 10
TCP_KEEPCNT = 3


class ServerStartupError(HeroAssistanceError):
    """A fatal problem starting the server; the message is one line for the operator."""


class BadIdentityHeaders(HeroAssistanceError):
    """A Unix-socket request asserted an identity in a way we refuse (both headers, or an empty one)."""


# -- Unix sockets --------------------------------------------------------------------------------
LOCK_FILE = ".server.lock"


def lock_socket_dir(directory: Path) -> int:
    """Hold an exclusive lock on the socket directory for as long as the returned fd stays open.

    Probing a socket file with ``connect`` alone races: a server starting at the same moment may
    have bound its socket but not yet called ``listen``, so it looks stale and would be unlinked,
    leaving two servers each believing it owns the path. The lock makes "one server per socket
    directory" exact; the kernel drops it when the process dies, even by ``kill -9``.
    """
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(directory / LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        raise ServerStartupError(f"cannot create the socket directory {directory}: {exc.strerror}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        raise ServerStartupError(
            f"{directory} is held by a running server: stop it first (or use another --socket-dir)"
        ) from None
    return fd


def _group_id(group: str) -> int:
    if group.isdigit():
        return int(group)
    try:
        return grp.getgrnam(group).gr_gid
    except KeyError:
        raise ServerStartupError(f"socket group {group!r} does not exist") from None


def _clear_stale(path: Path) -> None:
    """Remove a socket file nobody listens on; refuse if a live server holds it."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        raise ServerStartupError(f"{path} exists and is not a socket: move it away")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(2.0)
    try:
        probe.connect(str(path))
    except ConnectionRefusedError:
        path.unlink(missing_ok=True)  # stale: its server is gone
        return
    except FileNotFoundError:
        return
    except OSError as exc:
        if exc.errno not in (errno.EAGAIN, errno.ETIMEDOUT) and not isinstance(exc, TimeoutError):
            raise ServerStartupError(f"cannot check {path}: {exc.strerror or exc}") from None
        # A full backlog means someone is listening: fall through to "held".
    finally:
        probe.close()
    raise ServerStartupError(f"{path} is held by a running server: stop it first (or use another --socket-dir)")


def bind_unix_socket(path: Path, *, group: str | None = None) -> socket.socket:
    """A listening Unix socket at ``path``, mode 0600 (0660 and chgrp'ed with a group).

    Call with the directory locked (``lock_socket_dir``)."""
    gid = _group_id(group) if group is not None else None
    _clear_stale(path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        # bind creates the file with 0777 & ~umask: the tight umask means there is no moment in
        # which the socket is connectable by others. (os.umask is process-wide; start-up runs
        # before any other thread creates files.)
        old_umask = os.umask(0o177)
        try:
            sock.bind(str(path))
        finally:
            os.umask(old_umask)
        if gid is not None:
            os.chown(path, -1, gid)
            os.chmod(path, 0o660)
        sock.listen(BACKLOG)  # listening at once: a concurrent start-up's probe sees it as live
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise ServerStartupError(f"{path} was taken by another server while starting") from None
        hint = " (the path is too long for a Unix socket: use a shorter --socket-dir)" if len(str(path)) > 100 else ""
        raise ServerStartupError(f"cannot listen on {path}: {exc.strerror or exc}{hint}") from None
    return sock


def remove_socket_file(path: Path, inode: int) -> None:
    """Remove our socket file, unless something else has taken its place since."""
    try:
        if os.lstat(path).st_ino == inode:
            path.unlink()
    except FileNotFoundError:
        pass


# -- the TCP overlay listener ---------------------------------------------------------------------
def _set_tcp_options(sock: socket.socket) -> None:
    # Accepted connections inherit these from the listening socket on Linux.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    for name, value in (
        ("TCP_KEEPIDLE", TCP_KEEPIDLE_S),
        ("TCP_KEEPINTVL", TCP_KEEPINTVL_S),
        ("TCP_KEEPCNT", TCP_KEEPCNT),
        ("TCP_USER_TIMEOUT", TCP_USER_TIMEOUT_MS),
    ):
        if hasattr(socket, name):
            sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, name), value)


def bind_overlay_socket(bind: OverlayBind) -> socket.socket:
    """The listening TCP socket for ``bind``: ``[::]`` with ``IPV6_V6ONLY`` for auto, else literal."""
    sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        # SO_REUSEADDR only lets a restart bind over connections in TIME_WAIT; Linux still refuses
        # a port another socket listens on, so "port taken" is detected.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        _set_tcp_options(sock)
        sock.bind((bind.host, bind.port))
        sock.listen(BACKLOG)
    except OSError as exc:
        sock.close()
        where = f"[{bind.host}]:{bind.port}"
        if exc.errno == errno.EADDRINUSE:
            raise ServerStartupError(f"overlay port {where} is already in use by another program") from None
        if exc.errno == errno.EADDRNOTAVAIL:
            raise ServerStartupError(f"overlay address {bind.host} is not configured on this host") from None
        if exc.errno == errno.EACCES:
            raise ServerStartupError(f"not allowed to bind {where} (ports below 1024 need privileges)") from None
        raise ServerStartupError(f"cannot listen on {where}: {exc.strerror or exc}") from None
    return sock


# -- who the peer is ----------------------------------------------------------------------------
MAX_KEY_LENGTH = 256


def attest_unix(headers: Iterable[tuple[bytes, bytes]]) -> Caller:
    """A Unix-socket peer is a trusted local component: it may assert a device or a user."""
    device: str | None = None
    user: str | None = None
    for name, value in headers:
        if name == b"x-hero-device":
            device = value.decode("utf-8", "replace").strip()
        elif name == b"x-hero-user":
            user = value.decode("utf-8", "replace").strip()
    if device is not None and user is not None:
        raise BadIdentityHeaders("send X-Hero-Device or X-Hero-User, not both")
    if device is not None:
        if not device or len(device) > MAX_KEY_LENGTH:
            raise BadIdentityHeaders(f"X-Hero-Device must be 1 to {MAX_KEY_LENGTH} characters")
        return Caller.from_device(device)
    if user is not None:
        if not user or len(user) > MAX_KEY_LENGTH:
            raise BadIdentityHeaders(f"X-Hero-User must be 1 to {MAX_KEY_LENGTH} characters")
        return Caller.from_user(user)
    return Caller.operator()


def attest_overlay_peer(host: str | None, *, literal: bool) -> Caller:
    """A TCP peer is its address: a device inside ``400::/7`` (any address on a literal bind)."""
    if host is None:
        return Caller.anonymous()
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return Caller.anonymous()
    if literal or (address.version == 6 and address in OVERLAY_PREFIX):
        return Caller.from_device(address.compressed)
    return Caller.anonymous()
