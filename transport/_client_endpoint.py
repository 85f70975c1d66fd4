"""Where a client talks to: parsing ``unix:/…/rpc.sock`` and ``http://[addr]:port`` into endpoints.

the wire contract (docs/api.md) puts JSON-RPC at ``POST /rpc`` and the event stream at ``GET /events``. On a Unix socket
the two live on different sockets (``rpc.sock`` and ``events.sock`` in one directory); over the TCP overlay
they share one listener. A URL names the RPC side; the events side is derived from it unless given.
"""

from __future__ import annotations

import math
import os
from urllib.parse import urlsplit

import attrs
import trio

from ._errors import ConnectFailed

RPC_SOCKET = "rpc.sock"
EVENTS_SOCKET = "events.sock"


@attrs.frozen
class Endpoint:
    """One place to open a byte stream to: a Unix socket path, or a TCP host and port."""

    unix_path: str | None = None
    host: str | None = None
    port: int | None = None

    @property
    def host_header(self) -> str:
        # HTTP needs a Host header; a Unix socket has no host, so name the machine itself.
        if self.unix_path is not None:
            return "localhost"
        assert self.host is not None
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    def __str__(self) -> str:
        return f"unix:{self.unix_path}" if self.unix_path is not None else f"http://{self.host_header}"

    async def open_stream(self, connect_timeout: float | None) -> trio.SocketStream:
        """A connected stream, or ``ConnectFailed`` (refused, missing socket, or past ``connect_timeout``)."""
        with trio.move_on_after(math.inf if connect_timeout is None else connect_timeout) as scope:
            try:
                if self.unix_path is not None:
                    return await trio.open_unix_socket(self.unix_path)
                assert self.host is not None and self.port is not None
                return await trio.open_tcp_stream(self.host, self.port)
            except OSError as exc:
                raise ConnectFailed(f"cannot connect to {self}: {exc.strerror or exc}") from exc
        assert scope.cancelled_caught
        raise ConnectFailed(f"cannot connect to {self}: no connection within {connect_timeout} s")


@attrs.frozen
class Target:
    """An endpoint plus the HTTP path on it."""

    endpoint: Endpoint
    path: str

    def __str__(self) -> str:
        return f"{self.endpoint}{self.path}" if self.endpoint.unix_path is None else f"{self.endpoint} {self.path}"


def parse_url(url: str, events_url: str | None = None) -> tuple[Target, Target]:
    """The JSON-RPC target and the event-stream target of a project server URL."""
    if url.startswith("unix:"):
        path = _unix_path(url)
        rpc = Target(Endpoint(unix_path=path), "/rpc")
        events = Target(Endpoint(unix_path=os.path.join(os.path.dirname(path), EVENTS_SOCKET)), "/events")
    else:
        endpoint, base = _http_endpoint(url, ("http",))
        if base.endswith("/rpc"):
            base = base[: -len("/rpc")]
        rpc = Target(endpoint, base + "/rpc")
        events = Target(endpoint, base + "/events")
    if events_url is not None:
        events = _events_target(events_url)
    return rpc, events


def endpoint_from_url(url: str) -> Endpoint:
    """The endpoint of ``unix:/path/to.sock`` or ``http://host:port`` (a path after the port is not its business)."""
    if url.startswith("unix:"):
        return Endpoint(unix_path=_unix_path(url))
    return _http_endpoint(url, ("http",))[0]


def _events_target(url: str) -> Target:
    if url.startswith("unix:"):
        return Target(Endpoint(unix_path=_unix_path(url)), "/events")
    endpoint, path = _http_endpoint(url, ("http", "ws"))
    return Target(endpoint, path if path.endswith("/events") else path + "/events")


def _unix_path(url: str) -> str:
    # Both "unix:/run/x/rpc.sock" and "unix:///run/x/rpc.sock".
    path = url[len("unix:") :]
    if path.startswith("//"):
        path = path[2:]
    if not path.startswith("/"):
        raise ValueError(f"{url!r}: a unix: URL needs an absolute socket path, like unix:/run/x/acme/rpc.sock")
    return path


def _http_endpoint(url: str, schemes: tuple[str, ...]) -> tuple[Endpoint, str]:
    parts = urlsplit(url)
    if parts.scheme not in schemes:
        wanted = " or ".join(f"{s}://" for s in schemes)
        raise ValueError(f"{url!r}: expected unix:/path/rpc.sock or {wanted}[address]:port")
    try:
        port = parts.port
    except ValueError:
        raise ValueError(f"{url!r}: the port is not a number from 0 to 65535") from None
    if not parts.hostname or port is None:
        raise ValueError(f"{url!r}: needs a host and a port, like http://[4ab:1::1]:8443")
    return Endpoint(host=parts.hostname, port=port), parts.path.rstrip("/")
