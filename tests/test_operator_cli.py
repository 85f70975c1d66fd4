"""The operator's commands: help everywhere, user management over the socket, status, service files."""

from __future__ import annotations

import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from hero_assistance.supervisor._cli import build_parser


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hero_assistance", *args], capture_output=True, text=True, env=env)


def all_commands() -> list[list[str]]:
    """Every subcommand path the parser knows, found by walking it."""
    import argparse

    found: list[list[str]] = []

    def walk(parser: argparse.ArgumentParser, prefix: list[str]) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    found.append([*prefix, name])
                    walk(sub, [*prefix, name])

    walk(build_parser(), [])
    return found


def test_every_command_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    commands = all_commands()
    names = {" ".join(c) for c in commands}
    assert {
        "server",
        "run",
        "status",
        "user enroll",
        "user list",
        "user disable",
        "service print",
        "mycelium status",
        "mycelium run",
    } <= names
    for command in commands:
        with pytest.raises(SystemExit) as exited:
            build_parser().parse_args([*command, "--help"])
        assert exited.value.code == 0, command
        out = capsys.readouterr().out
        assert f"usage: hero-assistance {' '.join(command)}" in " ".join(out.split()), command
    # every option and argument of every command documents itself
    import argparse

    def undocumented(parser: argparse.ArgumentParser, prefix: str) -> list[str]:
        missing = []
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    missing += undocumented(sub, f"{prefix} {name}")
            elif not action.help:
                missing.append(f"{prefix} {'/'.join(action.option_strings) or action.dest}")
        return missing

    assert undocumented(build_parser(), "hero-assistance") == []
    result = cli("--help")
    assert result.returncode == 0 and "usage: hero-assistance" in result.stdout


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Path]:
    sockets = tmp_path / "sockets" / "acme"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "hero_assistance",
            "server",
            "--project",
            "acme",
            "--data-dir",
            str(tmp_path / "data"),
            "--socket-dir",
            str(sockets),
        ],
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 20
    while not (sockets / "rpc.sock").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    try:
        yield sockets
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_users_are_managed_over_the_socket(server: Path) -> None:
    where = ["--project", "acme", "--socket-dir", str(server)]
    enrolled = cli("user", "enroll", *where, "Ann@Example.com", "--role", "support", "--name", "Ann", "--invite")
    assert enrolled.returncode == 0, enrolled.stderr
    assert "enrolled ann@example.com as support" in enrolled.stdout
    assert "sign-in token" in enrolled.stdout
    again = cli("user", "enroll", *where, "ann@example.com")
    assert again.returncode == 1 and "already enrolled" in again.stderr
    listed = cli("user", "list", *where, "--role", "support", "--json")
    assert [line for line in listed.stdout.splitlines() if "ann@example.com" in line]
    assert cli("user", "disable", *where, "ann@example.com").stdout.strip() == "ann@example.com is now disabled"
    assert "disabled" in cli("user", "list", *where, "--query", "ann").stdout
    missing = cli("user", "disable", *where, "nobody@example.com")
    assert missing.returncode == 1 and "no user with email" in missing.stderr


def test_status_reports_up_and_down(server: Path, tmp_path: Path) -> None:
    up = cli("status", "--socket-dir", str(server.parent))
    assert up.returncode == 0, up.stdout + up.stderr
    assert up.stdout.count("up  ") == 2
    config = tmp_path / "run.toml"
    config.write_text(
        f'[defaults]\nsocket_root = "{server.parent}"\n[[servers]]\nproject = "acme"\n[[servers]]\nproject = "ghost"\n'
    )
    mixed = cli("status", "--config", str(config))
    assert mixed.returncode == 1
    assert [line.split()[0] for line in mixed.stdout.splitlines()] == ["up", "up", "DOWN", "DOWN"]
    nothing = cli("status", "--socket-dir", str(tmp_path / "empty"))
    assert nothing.returncode == 2


def test_service_definitions_pin_proxy_mode(tmp_path: Path) -> None:
    unit = cli("service", "print", "--for", "systemd", "--project", "acme", "--mycelium-bind", "auto:8443")
    assert unit.returncode == 0
    exec_start = next(line for line in unit.stdout.splitlines() if line.startswith("ExecStart="))
    assert "server --project acme --auth-mode proxy" in exec_start and "auto:8443" in exec_start
    assert "[Install]" in unit.stdout
    config = tmp_path / "run.toml"
    config.write_text('[[servers]]\nproject = "acme"\n')
    hero = cli("service", "print", "--for", "hero_proc", "--config", str(config))
    parsed = tomllib.loads(hero.stdout)
    assert parsed["service"]["cmd"][1:] == ["run", "--config", str(config.resolve())]
    assert parsed["service"]["health"]["socket"].endswith("acme/rpc.sock")
    bad = cli("service", "print", "--for", "systemd", "--project", "Not Valid")
    assert bad.returncode == 2 and "invalid project name" in bad.stderr


def test_backup_while_the_server_runs_restores_everything(server: Path, tmp_path: Path) -> None:
    where = ["--project", "acme", "--socket-dir", str(server)]
    assert cli("user", "enroll", *where, "kept@example.com").returncode == 0
    result = cli("backup", "--project", "acme", "--data-dir", str(tmp_path / "data"), "--to", str(tmp_path / "bk"))
    assert result.returncode == 0, result.stderr
    import sqlite3

    copy = sqlite3.connect(tmp_path / "bk" / "project.sqlite3")
    assert copy.execute("SELECT count(*) FROM users WHERE email = 'kept@example.com'").fetchone()[0] == 1
    assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    missing = cli("backup", "--project", "acme", "--data-dir", str(tmp_path / "nowhere"), "--to", str(tmp_path / "x"))
    assert missing.returncode == 1 and "no database" in missing.stderr
