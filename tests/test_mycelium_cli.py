"""``hero-assistance mycelium status|run`` as an operator runs them: separate processes, exit codes."""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import trio

from hero_assistance.supervisor import _cli_mycelium
from hero_assistance.supervisor.mycelium import derive_address, detect, pubkey_from_secret
from tests._mycelium_fixtures import (
    SRC_ROOT,
    child_env,
    free_addr,
    free_port,
    install_standin,
    process_running,
    running_standin,
    start_log_pids,
    wait_for_node,
)

SECRET = bytes(range(32))


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "hero_assistance", *args]


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """No real daemon on this machine can answer: an empty $HERO_SOCKET_DIR, and a start log."""
    return child_env({"HERO_SOCKET_DIR": str(tmp_path / "sockets"), "STANDIN_START_LOG": str(tmp_path / "starts")})


async def test_status_prints_the_running_node(tmp_path: Path, env: dict[str, str]) -> None:
    key = tmp_path / "system.key"
    key.write_bytes(SECRET)
    api = free_addr()
    args = ["-k", str(key), "-c", "/dev/null", "--no-tun", "--disable-quic", "--disable-peer-discovery"]
    args += ["-t", str(free_port()), "--api-addr", api, "--jsonrpc-addr", free_addr()]
    async with running_standin(tmp_path, *args):
        with trio.fail_after(10):
            await wait_for_node(api_addr=api, jsonrpc_addr=None, hero_socket=None)
        status = ["mycelium", "status", "--api-addr", api, "--jsonrpc-addr", free_addr(), "--own-api-addr", ""]
        human = await trio.run_process(cli(*status), env=env, capture_stdout=True, cwd=SRC_ROOT)
        as_json = await trio.run_process(cli(*status, "--json"), env=env, capture_stdout=True, cwd=SRC_ROOT)
    address = str(derive_address(pubkey_from_secret(SECRET)))
    assert f"mycelium node {address}" in human.stdout.decode()
    node = json.loads(as_json.stdout)
    assert node["address"] == address
    assert node["pubkey"] == pubkey_from_secret(SECRET).hex()
    assert (node["api"], node["api_kind"]) == (f"http://{api}/api/v1", "rest")


async def test_status_exits_1_when_nothing_answers(env: dict[str, str]) -> None:
    status = ["mycelium", "status", "--api-addr", free_addr(), "--jsonrpc-addr", free_addr()]
    result = await trio.run_process(
        cli(*status, "--own-api-addr", free_addr()), env=env, capture_stdout=True, capture_stderr=True, check=False
    )
    assert result.returncode == 1
    assert result.stdout == b""
    assert b"no mycelium daemon answers" in result.stderr


async def test_run_keeps_our_daemon_until_sigterm_then_exits_0(tmp_path: Path, env: dict[str, str]) -> None:
    api = free_addr()
    run = ["mycelium", "run", "--binary", str(install_standin(tmp_path / "bin")), "--data-dir", str(tmp_path / "d")]
    run += ["--tcp-port", str(free_port()), "--disable-quic", "--api-addr", api, "--jsonrpc-addr", free_addr()]
    run += ["--tun-name", "hero-cli", "--detect-api-addr", free_addr(), "--detect-jsonrpc-addr", free_addr()]
    process = subprocess.Popen(cli(*run), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=SRC_ROOT)
    try:
        assert process.stdout is not None
        with trio.fail_after(15):
            ready = await trio.to_thread.run_sync(process.stdout.readline)
        assert ready.startswith(b"mycelium ready: ")
        info = await detect(api_addr=api, jsonrpc_addr=None, hero_socket=None)
        assert info is not None and str(info.address) in ready.decode()
        (daemon,) = start_log_pids(Path(env["STANDIN_START_LOG"]))
        assert process_running(daemon)
        process.send_signal(signal.SIGTERM)
        with trio.fail_after(10):
            returncode = await trio.to_thread.run_sync(process.wait)
        assert returncode == 0
        assert not process_running(daemon)
        assert b"SIGTERM received: stopping" in process.stderr.read()  # type: ignore[union-attr]
    finally:
        process.kill()
        process.communicate()  # reaps it and closes its pipes


async def test_run_reports_a_start_failure_with_exit_1(tmp_path: Path, env: dict[str, str]) -> None:
    run = ["mycelium", "run", "--no-detect", "--binary", str(tmp_path / "no-such-mycelium")]
    result = await trio.run_process(cli(*run), env=env, capture_stderr=True, check=False, cwd=SRC_ROOT)
    assert result.returncode == 1
    assert b"not found" in result.stderr


def test_every_option_has_help() -> None:
    parser = argparse.ArgumentParser(prog="hero-assistance")
    _cli_mycelium.add_parser(parser.add_subparsers())
    mycelium = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices["mycelium"]
    actions = next(a for a in mycelium._actions if isinstance(a, argparse._SubParsersAction)).choices
    assert set(actions) == {"status", "run"}
    for name, sub in actions.items():
        for action in sub._actions:
            assert action.help, f"mycelium {name} {action.option_strings} has no help"


async def test_help_runs_for_each_action() -> None:
    for action in ("status", "run"):
        result = await trio.run_process(cli("mycelium", action, "--help"), capture_stdout=True, cwd=SRC_ROOT)
        assert b"--api-addr" in result.stdout
