"""How to find, or run, the mycelium daemon: one immutable record, and the command line it implies."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import attrs

from ._mycelium_detect import DEFAULT_API_ADDR, DEFAULT_JSONRPC_ADDR, default_hero_socket

#: Linux interface names hold at most 15 characters (IFNAMSIZ - 1).
_MAX_TUN_NAME = 15


def default_data_dir() -> Path:
    """``$XDG_DATA_HOME/hero_assistance/mycelium`` (``~/.local/share/...`` when unset), read now."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "hero_assistance" / "mycelium"


def _check_port(_: object, attribute: attrs.Attribute[Any], value: int | None) -> None:
    if value is not None and not 0 < value < 65536:
        raise ValueError(f"{attribute.name} must be a port number in 1..65535, got {value}")


def _check_host_port(_: object, attribute: attrs.Attribute[Any], value: str | None) -> None:
    if value is None:
        return
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{attribute.name} must be HOST:PORT (e.g. 127.0.0.1:8991), got {value!r}")


def _check_tun_name(_: object, attribute: attrs.Attribute[Any], value: str | None) -> None:
    if value is not None and not 0 < len(value) <= _MAX_TUN_NAME:
        raise ValueError(f"{attribute.name} must be 1..{_MAX_TUN_NAME} characters, got {value!r}")


def _optional_path(value: str | os.PathLike[str] | None) -> Path | None:
    return None if value is None else Path(value)


@attrs.frozen(kw_only=True)
class MyceliumOptions:
    """Where to look for a running daemon, and how to run our own one.

    The defaults for our own daemon differ from mycelium's own defaults on every port and name
    (the key file, TCP/QUIC 9651, discovery 9650, API 8989, JSON-RPC 8990, TUN ``mycelium``), so it
    can run beside a system daemon without either noticing the other.
    """

    binary: str = "mycelium"
    """The daemon executable: a name looked up on ``PATH``, or a path."""
    data_dir: Path = attrs.field(factory=default_data_dir, converter=Path)
    """Our own daemon's state: its key file and an empty config file (see ``config_path``)."""
    key_file: Path | None = attrs.field(default=None, converter=_optional_path)
    """The node's 32-byte secret; ``None`` means ``data_dir/priv_key.bin``."""
    peers: tuple[str, ...] = attrs.field(default=(), converter=tuple)
    """Static peers, e.g. ``tcp://188.40.132.242:9651`` or ``quic://[2a01::2]:9651``."""
    tcp_port: int = attrs.field(default=9652, validator=_check_port)
    quic_port: int | None = attrs.field(default=9652, validator=_check_port)
    """UDP port for QUIC peering; ``None`` passes ``--disable-quic``."""
    peer_discovery_port: int | None = attrs.field(default=None, validator=_check_port)
    """UDP port for link-local discovery; ``None`` (the default) passes ``--disable-peer-discovery``."""
    api_addr: str = attrs.field(default="127.0.0.1:8991", validator=_check_host_port)
    """Our daemon's REST API; readiness is checked here."""
    jsonrpc_addr: str = attrs.field(default="127.0.0.1:8992", validator=_check_host_port)
    tun_name: str | None = attrs.field(default="hero-mycelium", validator=_check_tun_name)
    """The TUN interface (needs CAP_NET_ADMIN); ``None`` passes ``--no-tun`` (no overlay traffic to this host)."""
    grace_period: float = 5.0
    """Seconds between SIGTERM and SIGKILL when stopping our daemon."""
    startup_limit: float | None = 30.0
    """Seconds our daemon may take to answer on ``api_addr`` before start-up is declared failed;
    ``None`` waits as long as the caller lets it (cancel from outside)."""
    restart_backoff_initial: float = 0.5
    restart_backoff_max: float = 30.0
    """``ensure()`` waits a random delay in ``[0, min(max, initial * 2**failures)]`` before a restart."""
    system_api_addr: str | None = attrs.field(default=DEFAULT_API_ADDR, validator=_check_host_port)
    """Where ``ensure()`` looks for a running daemon's REST API; ``None`` skips it."""
    system_jsonrpc_addr: str | None = attrs.field(default=DEFAULT_JSONRPC_ADDR, validator=_check_host_port)
    system_hero_socket: Path | None = attrs.field(factory=default_hero_socket, converter=_optional_path)
    extra_args: tuple[str, ...] = attrs.field(default=(), converter=tuple)
    """More daemon flags, placed before ``--peers`` (e.g. ``("--debug",)``)."""

    @property
    def key_path(self) -> Path:
        return self.key_file if self.key_file is not None else self.data_dir / "priv_key.bin"

    @property
    def config_path(self) -> Path:
        """An empty config file we pass with ``-c``.

        Without ``-c`` the daemon merges ``~/.config/mycelium/mycelium.toml`` into its settings
        (peers, ``no_tun``, ``disable_quic`` …), so a user's system-daemon config would leak into ours.
        """
        return self.data_dir / "mycelium.toml"

    def without_detection(self) -> MyceliumOptions:
        """The same options, with ``ensure()`` going straight to our own daemon."""
        return attrs.evolve(self, system_api_addr=None, system_jsonrpc_addr=None, system_hero_socket=None)

    def command_line(self) -> list[str]:
        """The daemon's arguments (after the binary): every port and name overridden."""
        args = ["-k", str(self.key_path), "-c", str(self.config_path)]
        # logfmt without colours: one greppable line per event, and no ANSI codes in our log.
        args += ["--log-format", "plain"]
        args += ["--tcp-listen-port", str(self.tcp_port)]
        if self.quic_port is None:
            args.append("--disable-quic")
        else:
            args += ["--quic-listen-port", str(self.quic_port)]
        if self.peer_discovery_port is None:
            args.append("--disable-peer-discovery")
        else:
            args += ["--peer-discovery-port", str(self.peer_discovery_port)]
        args += ["--api-addr", self.api_addr, "--jsonrpc-addr", self.jsonrpc_addr]
        if self.tun_name is None:
            args.append("--no-tun")
        else:
            args += ["--tun-name", self.tun_name]
        args += self.extra_args
        if self.peers:
            # Last: --peers takes every value that follows it.
            args += ["--peers", *self.peers]
        return args
