"""What the ui is told: which projects to merge, where to listen, which origins to trust.

The config file is TOML and small enough to write by hand::

    listen = "127.0.0.1:8080"
    socket = "/home/me/hero/var/sockets/hero_assistance/ui/app.sock"
    origins = ["https://help.example.com"]   # extra origins allowed besides the listen address
    gateway = false                          # true: browsers may not change the project list

    [projects]
    acme = "unix:/home/me/hero/var/sockets/hero_assistance/acme/rpc.sock"
    globex = "http://[4ab:1::1]:8443"

``ui.projects.add`` / ``ui.projects.remove`` rewrite the file (atomically, by rename), so comments in
it are not kept. The standard library reads TOML but does not write it; the file's shape is so
simple (strings, a list of strings, a boolean, one table of strings) that writing it ourselves is
a dozen lines and spares a runtime dependency.
"""

from __future__ import annotations

import ipaddress
import json
import os
import tomllib
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import attrs

from hero_assistance.core import check_project_name

DEFAULT_LISTEN = "127.0.0.1:8080"
APP_SOCKET = "app.sock"

Transport = Literal["unix", "tcp"]


class ConfigError(ValueError):
    """A config value the operator must fix; the message is one line for them."""


@attrs.frozen
class ProjectEndpoint:
    """Where one project server answers: ``unix:/path/rpc.sock`` or ``http://host:port``."""

    name: str
    url: str

    @property
    def transport(self) -> Transport:
        return "unix" if self.url.startswith("unix:") else "tcp"


def parse_project_url(url: str) -> str:
    """Validate a project URL; returns it normalised (no trailing slash)."""
    url = url.strip()
    if url.startswith("unix:"):
        path = url[5:]
        if not path.startswith("/"):
            raise ConfigError(f"project URL {url!r}: a Unix socket path must be absolute (unix:/path/rpc.sock)")
        return url
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise ConfigError(f"project URL {url!r}: expected unix:/path/rpc.sock or http://HOST:PORT")
    try:
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        raise ConfigError(f"project URL {url!r}: the port is not a number") from None
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ConfigError(f"project URL {url!r}: give only scheme, host and port")
    return f"{parts.scheme}://{parts.netloc}"


def parse_project_arg(text: str) -> ProjectEndpoint:
    """``NAME=URL`` from the command line."""
    name, sep, url = text.partition("=")
    if not sep:
        raise ConfigError(f"--project {text!r}: expected NAME=URL")
    try:
        check_project_name(name.strip())
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    return ProjectEndpoint(name.strip(), parse_project_url(url))


def parse_listen(text: str) -> tuple[str, int]:
    """``HOST:PORT`` or ``[IPV6]:PORT`` into a host and a port."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ConfigError(f"listen address {text!r}: expected HOST:PORT")
    host = host.strip("[]") or "127.0.0.1"
    return host, int(port)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@attrs.define(kw_only=True)
class UiConfig:
    """Everything ``serve_ui`` needs. ``projects`` keeps the order the operator gave."""

    projects: dict[str, str] = attrs.field(factory=dict)
    listen: str = DEFAULT_LISTEN
    socket_path: Path | None = None
    config_file: Path | None = None
    origins: list[str] = attrs.field(factory=list)
    gateway: bool = False

    def endpoints(self) -> list[ProjectEndpoint]:
        return [ProjectEndpoint(name, url) for name, url in self.projects.items()]


def default_config_file() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(base) / "hero_assistance" / "ui.toml"


def default_socket_path() -> Path:
    base = os.environ.get("HERO_SOCKET_DIR") or Path.home() / "hero" / "var" / "sockets"
    return Path(base) / "hero_assistance" / "ui" / APP_SOCKET


def load_config(path: Path) -> UiConfig:
    """Read a config file; a missing file is an empty config (it is created on the first change)."""
    config = UiConfig(config_file=path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return config
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: {exc}") from None
    projects = data.get("projects", {})
    if not isinstance(projects, dict) or not all(isinstance(v, str) for v in projects.values()):
        raise ConfigError(f"{path}: [projects] must map names to URL strings")
    for name, url in projects.items():
        endpoint = parse_project_arg(f"{name}={url}")
        config.projects[endpoint.name] = endpoint.url
    if "listen" in data:
        config.listen = _string(data, "listen", path)
        parse_listen(config.listen)
    if "socket" in data:
        config.socket_path = Path(_string(data, "socket", path))
    origins = data.get("origins", [])
    if not isinstance(origins, list) or not all(isinstance(o, str) for o in origins):
        raise ConfigError(f"{path}: origins must be a list of strings")
    config.origins = [o.rstrip("/") for o in origins]
    gateway = data.get("gateway", False)
    if not isinstance(gateway, bool):
        raise ConfigError(f"{path}: gateway must be true or false")
    config.gateway = gateway
    return config


def _string(data: dict[str, Any], key: str, path: Path) -> str:
    value = data[key]
    if not isinstance(value, str):
        raise ConfigError(f"{path}: {key} must be a string")
    return value


def _toml_string(value: str) -> str:
    # A JSON string is a valid TOML basic string: both escape quotes, backslashes and control
    # characters the same way, and json.dumps never emits the one escape TOML lacks (``\/``).
    return json.dumps(value, ensure_ascii=False)


def render_config(config: UiConfig) -> str:
    lines = [
        "# hero-assistance ui configuration; rewritten when projects are added or removed in the app.",
        f"listen = {_toml_string(config.listen)}",
    ]
    if config.socket_path is not None:
        lines.append(f"socket = {_toml_string(str(config.socket_path))}")
    if config.origins:
        lines.append(f"origins = [{', '.join(_toml_string(o) for o in config.origins)}]")
    lines.append(f"gateway = {'true' if config.gateway else 'false'}")
    lines += ["", "[projects]"]
    lines += [f"{name} = {_toml_string(url)}" for name, url in config.projects.items()]
    return "\n".join(lines) + "\n"


def save_config(config: UiConfig) -> None:
    """Write the config file atomically (a crash leaves the old file or the new one, never half)."""
    if config.config_file is None:
        return
    path = config.config_file
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(render_config(config), encoding="utf-8")
    os.replace(tmp, path)
