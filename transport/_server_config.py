"""What one project server is told: paths, the overlay bind, auth mode, mail, and a few tunables.

The command line builds a ``ServerConfig``; so can the supervisor (``hero-assistance run``) or a
test. Defaults follow the wire contract (docs/api.md): data under ``$XDG_DATA_HOME/hero_assistance/NAME``,
sockets under ``$HERO_SOCKET_DIR/hero_assistance/NAME``.
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from typing import Literal

import attrs

from hero_assistance.core import Limits, check_project_name

from ._http_server import ConnectionLimits
from ._smtp import SmtpSettings

#: mycelium gives every node an address inside this prefix, authenticated by its kernel routing.
OVERLAY_PREFIX = ipaddress.IPv6Network("400::/7")
#: Request bodies above this are refused with 413 before they are read whole (the wire contract (docs/api.md)).
MAX_BODY_BYTES = 16 * 1024 * 1024

RPC_SOCKET = "rpc.sock"
EVENTS_SOCKET = "events.sock"


@attrs.frozen
class OverlayBind:
    """Where the TCP overlay listener binds.

    ``auto``: ``[::]:PORT`` with ``IPV6_V6ONLY``, and only peers inside ``400::/7`` count as devices.
    ``literal``: exactly ``[HOST]:PORT``, and every peer's address is its device key (the operator
    vouches that only the overlay reaches that address).
    """

    mode: Literal["auto", "literal"]
    host: str
    port: int

    def __str__(self) -> str:
        return f"auto:{self.port}" if self.mode == "auto" else f"[{self.host}]:{self.port}"


def parse_mycelium_bind(spec: str) -> OverlayBind:
    """``auto:PORT`` or ``[IPV6]:PORT``; raises ``ValueError`` with a message fit for the operator."""
    spec = spec.strip()
    if spec.startswith("auto:"):
        return OverlayBind("auto", "::", _port(spec[5:], spec))
    if spec.startswith("["):
        host, sep, port = spec[1:].partition("]:")
        if sep:
            try:
                address = ipaddress.IPv6Address(host)
            except ValueError:
                raise ValueError(f"mycelium bind {spec!r}: {host!r} is not an IPv6 address") from None
            return OverlayBind("literal", address.compressed, _port(port, spec))
    raise ValueError(f"mycelium bind {spec!r}: expected auto:PORT or [IPV6]:PORT")


def _port(text: str, spec: str) -> int:
    if not text.isdigit() or not 0 <= int(text) <= 65535:
        raise ValueError(f"mycelium bind {spec!r}: the port must be a number from 0 to 65535")
    return int(text)


def default_data_dir(project: str) -> Path:
    """``$XDG_DATA_HOME/hero_assistance/NAME`` (``XDG_DATA_HOME`` defaults to ``~/.local/share``)."""
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "hero_assistance" / project


def default_socket_dir(project: str) -> Path:
    """``$HERO_SOCKET_DIR/hero_assistance/NAME`` (``HERO_SOCKET_DIR`` defaults to ``~/hero/var/sockets``)."""
    base = os.environ.get("HERO_SOCKET_DIR") or Path.home() / "hero" / "var" / "sockets"
    return Path(base) / "hero_assistance" / project


@attrs.define(kw_only=True)
class ServerConfig:
    """Everything ``serve_project`` needs; only ``project`` is required."""

    project: str = attrs.field(converter=check_project_name)
    data_dir: Path = attrs.field(
        converter=Path, default=attrs.Factory(lambda self: default_data_dir(self.project), takes_self=True)
    )
    socket_dir: Path = attrs.field(
        converter=Path, default=attrs.Factory(lambda self: default_socket_dir(self.project), takes_self=True)
    )
    overlay: OverlayBind | None = None
    #: What ``project.info`` reports as the overlay address (default: the URL of a literal bind).
    overlay_address: str | None = None
    auth_mode: Literal["proxy", "dev"] = "proxy"
    #: ``open``: a magic link requested for an email nobody enrolled creates that customer when used.
    signup: Literal["invite", "open"] = "invite"
    title: str | None = None
    #: Sockets are 0600; with a group they are 0660 and owned by that group (name or number).
    socket_group: str | None = None
    #: Magic links go out by mail when set, else to the log as one ``MAGIC-LINK`` line.
    smtp: SmtpSettings | None = None
    link_base_url: str | None = None
    limits: Limits = attrs.field(factory=Limits)
    event_retention: int = 100_000
    event_buffer: int = 1024
    #: WebSocket pings and SSE ``: ping`` comments: traffic that lets a dead peer be noticed.
    heartbeat_s: float = 15.0
    #: How long in-flight requests (and queued mail) may take to finish after a stop.
    grace_period_s: float = 5.0
    #: Connections per overlay /64 and per listener, the request-head deadline, idle keep-alive.
    connection_limits: ConnectionLimits = attrs.field(factory=ConnectionLimits)

    def __attrs_post_init__(self) -> None:
        if self.event_retention < 1 or self.event_buffer < 1:
            raise ValueError("event retention and event buffer must be at least 1")

    @property
    def rpc_socket(self) -> Path:
        return self.socket_dir / RPC_SOCKET

    @property
    def events_socket(self) -> Path:
        return self.socket_dir / EVENTS_SOCKET
