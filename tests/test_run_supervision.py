"""``hero-assistance run --config``: mycelium (the stand-in) and two servers in one process tree; a
server killed with SIGKILL comes back; SIGTERM stops everything and exits 0."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import trio

from hero_assistance.supervisor._http import HttpUnavailable, request

from ._mycelium_fixtures import free_addr, free_port, install_standin


def children(pid: int) -> dict[int, str]:
    """Direct children of ``pid`` with their command lines."""
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except FileNotFoundError:
        return {}
    found = {}
    for child in text.split():
        try:
            found[int(child)] = Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except FileNotFoundError:
            continue
    return found


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat").read_text() if Path(f"/proc/{pid}/stat").exists() else ""
    return " Z " not in stat  # a zombie is dead, just not reaped yet


def healthy(endpoint: str, path: str = "/health") -> bool:
    async def ask() -> bool:
        try:
            with trio.move_on_after(2):
                return (await request(endpoint, "GET", path)).status == 200
        except HttpUnavailable:
            return False
        return False

    return trio.run(ask)


def wait_for(condition, what: str, limit: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_run_restarts_a_killed_server_and_stops_cleanly(tmp_path: Path) -> None:
    standin = install_standin(tmp_path / "bin")
    api = free_addr()
    config = tmp_path / "run.toml"
    config.write_text(
        f"""
[defaults]
data_root = "{tmp_path / "data"}"
socket_root = "{tmp_path / "sockets"}"

[mycelium]
mode = "ensure"
binary = "{standin}"
data_dir = "{tmp_path / "mycelium"}"
api_addr = "{api}"
jsonrpc_addr = "{free_addr()}"
tcp_port = {free_port()}
quic_port = {free_port(socket.SOCK_DGRAM)}
no_tun = true
detect = false

[[servers]]
project = "acme"

[[servers]]
project = "globex"

[restart]
initial_s = 0.1
max_s = 0.5
stop_grace_s = 5
"""
    )
    acme = f"unix:{tmp_path / 'sockets' / 'acme' / 'rpc.sock'}"
    globex = f"unix:{tmp_path / 'sockets' / 'globex' / 'rpc.sock'}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "hero_assistance", "run", "--config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for(lambda: healthy(acme) and healthy(globex), "both servers")
        wait_for(lambda: healthy(api, "/api/v1/admin"), "the mycelium stand-in")
        before = children(proc.pid)
        [acme_pid] = [pid for pid, cmd in before.items() if "--project acme" in cmd]
        assert any("mycelium" in cmd for cmd in before.values())
        os.kill(acme_pid, signal.SIGKILL)
        wait_for(
            lambda: any("--project acme" in cmd and pid != acme_pid for pid, cmd in children(proc.pid).items()),
            "a new acme server",
        )
        wait_for(lambda: healthy(acme), "acme healthy again")
        assert healthy(globex)
        tree = set(children(proc.pid))
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        for pid in tree:
            wait_for(lambda pid=pid: not alive(pid), f"child {pid} gone", limit=5)
        assert not (tmp_path / "sockets" / "acme" / "rpc.sock").exists()
        output = proc.stdout.read().decode() if proc.stdout else ""
        assert "server:acme exited with code -9; restarting" in output
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()  # reaps it and closes its pipe


def test_a_bad_config_is_one_line_naming_the_key_and_the_file(tmp_path: Path) -> None:
    config = tmp_path / "run.toml"
    config.write_text('[[servers]]\nproject = "acme"\n\n[[servers]]\ntitle = "no name"\n')
    result = subprocess.run(
        [sys.executable, "-m", "hero_assistance", "run", "--config", str(config)], capture_output=True, text=True
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"hero-assistance run: {config}: servers[1].project: required field missing"
    ]
    config.write_text("[ui]\nlisten = 8080\n")
    result = subprocess.run(
        [sys.executable, "-m", "hero_assistance", "run", "--config", str(config)], capture_output=True, text=True
    )
    assert result.returncode == 2 and "ui.listen: expected a str, got 8080" in result.stderr
