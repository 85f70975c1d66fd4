"""What the server's flags and environment turn into, without starting a server."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from hero_assistance.supervisor._cli import build_parser
from hero_assistance.supervisor._cli_server import config_from_args
from hero_assistance.transport._listen import (
    TCP_USER_TIMEOUT_MS,
    attest_overlay_peer,
    attest_unix,
    bind_overlay_socket,
)
from hero_assistance.transport._server_config import OverlayBind, ServerConfig, parse_mycelium_bind


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("auto:8443", OverlayBind("auto", "::", 8443)),
        ("auto:0", OverlayBind("auto", "::", 0)),
        ("[4ab:1::1]:8443", OverlayBind("literal", "4ab:1::1", 8443)),
        ("[04ab:0001:0000::0001]:80", OverlayBind("literal", "4ab:1::1", 80)),
    ],
)
def test_mycelium_bind_specs(spec: str, expected: OverlayBind) -> None:
    assert parse_mycelium_bind(spec) == expected
    assert parse_mycelium_bind(str(expected)) == expected


@pytest.mark.parametrize(
    "spec", ["", "auto", "auto:", "auto:-1", "auto:65536", "8443", "4ab::1:8443", "[4ab::1]", "[10.0.0.1]:80", "[x]:1"]
)
def test_bad_mycelium_bind_specs_are_refused(spec: str) -> None:
    with pytest.raises(ValueError):
        parse_mycelium_bind(spec)


def parse(*argv: str) -> ServerConfig:
    return config_from_args(build_parser().parse_args(["server", "--project", "acme", *argv]))


def test_the_flag_wins_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HERO_ASSISTANCE_MYCELIUM_BIND", "auto:9000")
    assert parse().overlay == OverlayBind("auto", "::", 9000)
    assert parse("--mycelium-bind", "[4ab::1]:9001").overlay == OverlayBind("literal", "4ab::1", 9001)
    monkeypatch.delenv("HERO_ASSISTANCE_MYCELIUM_BIND")
    assert parse().overlay is None


def test_default_directories(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("HERO_SOCKET_DIR", str(tmp_path / "sock"))
    config = parse()
    assert config.data_dir == tmp_path / "data" / "hero_assistance" / "acme"
    assert config.rpc_socket == tmp_path / "sock" / "hero_assistance" / "acme" / "rpc.sock"
    monkeypatch.delenv("XDG_DATA_HOME")
    monkeypatch.delenv("HERO_SOCKET_DIR")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    config = parse()
    assert config.data_dir == tmp_path / "home" / ".local" / "share" / "hero_assistance" / "acme"
    assert (
        config.events_socket
        == tmp_path / "home" / "hero" / "var" / "sockets" / "hero_assistance" / "acme" / "events.sock"
    )


def test_explicit_directories_are_used_as_given(tmp_path: Path) -> None:
    config = parse("--data-dir", str(tmp_path / "d"), "--socket-dir", str(tmp_path / "s"))
    assert config.data_dir == tmp_path / "d"
    assert config.rpc_socket == tmp_path / "s" / "rpc.sock"


@pytest.mark.parametrize(
    ("host", "literal", "device"),
    [
        ("4ab:1::2", False, "4ab:1::2"),
        ("5ff:ffff::1", False, "5ff:ffff::1"),  # the top of 400::/7
        ("04ab:0001::0002", False, "4ab:1::2"),  # normalised
        ("600::1", False, None),  # just past it
        ("fd00::2", False, None),
        ("::1", False, None),
        ("fd00::2", True, "fd00::2"),
        (None, False, None),
    ],
)
def test_a_tcp_peer_is_a_device_only_inside_400_7_unless_bound_literally(
    host: str | None, literal: bool, device: str | None
) -> None:
    assert attest_overlay_peer(host, literal=literal).device == device


def test_a_unix_socket_caller_is_the_operator_unless_it_asserts_someone() -> None:
    assert attest_unix([]).local_operator
    assert attest_unix([(b"x-hero-user", b" ann@example.com ")]).user_email == "ann@example.com"
    assert attest_unix([(b"x-hero-device", b"browser-1")]).device == "browser-1"


def test_overlay_connections_notice_dead_peers_by_themselves() -> None:
    """Keep-alive probes and TCP_USER_TIMEOUT, set on the listener, are what accepted connections get."""
    listener = bind_overlay_socket(parse_mycelium_bind("[::1]:0"))
    with listener, socket.create_connection(("::1", listener.getsockname()[1])):
        accepted, _ = listener.accept()
        with accepted:
            assert listener.getsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY) == 1
            assert accepted.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
            assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT) == TCP_USER_TIMEOUT_MS
