"""The ``run --config`` file: a TOML declaration of everything one operator host runs.

Example (every key but ``[[servers]].project`` is optional)::

    [defaults]
    data_root = "/var/lib/hero_assistance"          # a server's data dir: data_root/<project>
    socket_root = "/run/hero/sockets/hero_assistance" # a server's sockets: socket_root/<project>

    [mycelium]
    mode = "ensure"                                   # "ensure": use the running daemon or start ours; "off"
    peers = ["tcp://188.40.132.242:9651"]

    [[servers]]
    project = "acme"
    title = "Acme Printers"
    mycelium_bind = "auto:8443"

    [ui]
    listen = "127.0.0.1:8080"                         # projects default to every server above

    [admin]
    listen = "127.0.0.1:8081"

A mistake is reported as one line naming the file and the key: ``run.toml: servers[1].project: required``.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal

import attrs
import cattrs
from cattrs.v import format_exception

from hero_assistance.core import check_project_name

from .mycelium import MyceliumOptions


class ConfigError(Exception):
    """The configuration file is missing, not TOML, or declares something invalid."""


def _default_data_root() -> Path:
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "hero_assistance"


def _default_socket_root() -> Path:
    return Path(os.environ.get("HERO_SOCKET_DIR") or Path.home() / "hero" / "var" / "sockets") / "hero_assistance"


@attrs.frozen(kw_only=True)
class Defaults:
    data_root: Path = attrs.field(factory=_default_data_root, converter=Path)
    socket_root: Path = attrs.field(factory=_default_socket_root, converter=Path)
    auth_mode: Literal["proxy", "dev"] = "proxy"


@attrs.frozen(kw_only=True)
class MyceliumSection:
    mode: Literal["ensure", "off"] = "off"
    binary: str | None = None
    data_dir: str | None = None
    key_file: str | None = None
    peers: list[str] = attrs.field(factory=list)
    tcp_port: int | None = None
    quic_port: int | None = None
    disable_quic: bool = False
    peer_discovery_port: int | None = None
    api_addr: str | None = None
    jsonrpc_addr: str | None = None
    tun_name: str | None = None
    no_tun: bool = False
    detect: bool = True

    def options(self) -> MyceliumOptions:
        given: dict[str, Any] = {
            name: value
            for name in (
                "binary",
                "data_dir",
                "key_file",
                "tcp_port",
                "quic_port",
                "peer_discovery_port",
                "api_addr",
                "jsonrpc_addr",
                "tun_name",
            )
            if (value := getattr(self, name)) is not None
        }
        if self.peers:
            given["peers"] = tuple(self.peers)
        if self.disable_quic:
            given["quic_port"] = None
        if self.no_tun:
            given["tun_name"] = None
        options = MyceliumOptions(**given)
        return options if self.detect else options.without_detection()


@attrs.frozen(kw_only=True)
class ServerSection:
    project: str = attrs.field(validator=lambda _i, _a, v: check_project_name(v))
    title: str | None = None
    data_dir: Path | None = None
    socket_dir: Path | None = None
    mycelium_bind: str | None = None
    auth_mode: Literal["proxy", "dev"] | None = None
    socket_group: str | None = None
    smtp_url: str | None = None
    smtp_from: str | None = None
    link_base_url: str | None = None


@attrs.frozen(kw_only=True)
class UiSection:
    listen: str = "127.0.0.1:8080"
    gateway: bool = False
    projects: dict[str, str] = attrs.field(factory=dict)  # NAME = URL; default: every declared server
    config: Path | None = None


@attrs.frozen(kw_only=True)
class AdminSection:
    listen: str = "127.0.0.1:8081"


@attrs.frozen(kw_only=True)
class RestartPolicy:
    initial_s: float = 0.5
    max_s: float = 30.0
    stable_after_s: float = 60.0  # a child up this long has its backoff reset
    stop_grace_s: float = 15.0


@attrs.frozen(kw_only=True)
class RunConfig:
    defaults: Defaults = attrs.field(factory=Defaults)
    mycelium: MyceliumSection = attrs.field(factory=MyceliumSection)
    servers: list[ServerSection] = attrs.field(factory=list)
    ui: UiSection | None = None
    admin: AdminSection | None = None
    restart: RestartPolicy = attrs.field(factory=RestartPolicy)

    def data_dir(self, server: ServerSection) -> Path:
        return server.data_dir or self.defaults.data_root / server.project

    def socket_dir(self, server: ServerSection) -> Path:
        return server.socket_dir or self.defaults.socket_root / server.project

    def ui_projects(self) -> dict[str, str]:
        if self.ui and self.ui.projects:
            return dict(self.ui.projects)
        return {s.project: f"unix:{self.socket_dir(s) / 'rpc.sock'}" for s in self.servers}


_converter = cattrs.Converter(forbid_extra_keys=True)


def _strict(kind: type) -> Any:
    # cattrs would turn 5 into "5": a config that says listen = 5 is a mistake worth naming.
    def structure(value: Any, _: Any) -> Any:
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise TypeError(f"expected {'a ' + kind.__name__ if kind is not int else 'an int'}, got {value!r}")
        return value

    return structure


for _kind in (str, int, bool):
    _converter.register_structure_hook(_kind, _strict(_kind))
_converter.register_structure_hook(float, lambda v, _: float(_strict(float)(v, None) if not isinstance(v, int) else v))
_converter.register_structure_hook(Path, lambda value, _: Path(os.path.expanduser(_strict(str)(value, None))))


def _describe(exc: BaseException, type_: Any = None) -> str:
    if type(exc) in (ValueError, TypeError) and str(exc):
        return str(exc)  # our own checks and validators say exactly what is wrong
    return format_exception(exc, type_)


def _first_error(exc: BaseException) -> str:
    messages = (
        cattrs.transform_error(exc, path="", format_exception=_describe)
        if isinstance(exc, cattrs.BaseValidationError)
        else [str(exc)]
    )
    message = messages[0] if messages else str(exc)
    # cattrs says "invalid value for type, expected int @ .servers[0].project": put the key first.
    if " @ " in message:
        text, _, where = message.rpartition(" @ ")
        return f"{where.lstrip('.') or 'top level'}: {text}"
    return message


def load_run_config(path: Path) -> RunConfig:
    """Read and validate the file; any problem is one ``ConfigError`` line naming file and key."""
    try:
        raw = tomllib.loads(path.read_text())
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    try:
        config = _converter.structure(raw, RunConfig)
    except Exception as exc:
        raise ConfigError(f"{path}: {_first_error(exc)}") from None
    names = [s.project for s in config.servers]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ConfigError(f"{path}: servers: project {duplicates[0]!r} is declared twice")
    if not config.servers and config.ui is None and config.admin is None and config.mycelium.mode == "off":
        raise ConfigError(f'{path}: nothing to run: declare [[servers]], [ui], [admin] or [mycelium] mode = "ensure"')
    if config.mycelium.mode == "ensure":
        try:
            config.mycelium.options()
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"{path}: mycelium: {exc}") from None
    return config
