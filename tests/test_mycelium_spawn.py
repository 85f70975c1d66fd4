"""spawn_own(): our own daemon is ready only when it answers with our key, and never outlives us."""

from __future__ import annotations

import json
import logging
import os
import socket
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import trio
import trio._core._thread_cache as trio_thread_cache

from hero_assistance.supervisor._mycelium_keyfile import prepare_state
from hero_assistance.supervisor.mycelium import (
    MyceliumExited,
    MyceliumOptions,
    MyceliumStartError,
    UnsupportedPlatform,
    derive_address,
    detect,
    pubkey_from_secret,
    spawn_own,
)
from tests._mycelium_fixtures import (
    SRC_ROOT,
    child_env,
    process_running,
    standin_options,
    start_log_pids,
    wait_until_gone,
)


@pytest.fixture
def start_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every stand-in started by the test appends its pid here."""
    path = tmp_path / "starts.log"
    monkeypatch.setenv("STANDIN_START_LOG", str(path))
    return path


@pytest.fixture
def options(tmp_path: Path) -> MyceliumOptions:
    return standin_options(tmp_path)


def the_only_pid(start_log: Path) -> int:
    pids = start_log_pids(start_log)
    assert len(pids) == 1
    return pids[0]


async def test_ready_means_answering_with_our_key(options: MyceliumOptions, start_log: Path) -> None:
    with trio.fail_after(15):
        async with spawn_own(options) as info:
            pid = the_only_pid(start_log)
            assert process_running(pid)
            secret = options.key_path.read_bytes()
            assert info.pubkey == pubkey_from_secret(secret).hex()
            assert info.address == derive_address(pubkey_from_secret(secret))
            assert (info.api, info.api_kind) == (f"http://{options.api_addr}/api/v1", "rest")
            assert await detect(api_addr=options.api_addr, jsonrpc_addr=None, hero_socket=None) == info
    # Left the block: stopped and reaped (not even a zombie entry in /proc).
    assert not Path(f"/proc/{pid}").exists()


async def test_state_is_private_and_the_key_is_kept(options: MyceliumOptions) -> None:
    with trio.fail_after(20):
        async with spawn_own(options) as first:
            pass
        async with spawn_own(options) as second:
            pass
    assert first.pubkey == second.pubkey  # same key file, same node identity
    assert len(options.key_path.read_bytes()) == 32
    assert stat.S_IMODE(options.key_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(options.data_dir.stat().st_mode) == 0o700
    assert options.config_path.exists()  # passed with -c: no foreign ~/.config/mycelium merged in


async def test_every_port_and_name_is_overridden(options: MyceliumOptions) -> None:
    args = options.command_line()
    for flag in ("-k", "-c", "--tcp-listen-port", "--quic-listen-port", "--api-addr", "--jsonrpc-addr", "--tun-name"):
        assert flag in args
    assert "--disable-peer-discovery" in args
    defaults = MyceliumOptions()
    assert defaults.api_addr != "127.0.0.1:8989" and defaults.jsonrpc_addr != "127.0.0.1:8990"
    assert defaults.tcp_port != 9651 and defaults.quic_port != 9651 and defaults.tun_name != "mycelium"


async def test_slow_start_is_waited_for(options: MyceliumOptions, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STANDIN_SLOW_START", "1")
    start = trio.current_time()
    with trio.fail_after(15):
        async with spawn_own(options) as info:
            assert trio.current_time() - start >= 1
            assert info.pubkey == pubkey_from_secret(options.key_path.read_bytes()).hex()


async def test_startup_limit_gives_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, start_log: Path
) -> None:
    monkeypatch.setenv("STANDIN_SLOW_START", "30")
    options = standin_options(tmp_path, startup_limit=0.5)
    with pytest.raises(MyceliumStartError, match=r"did not become ready .* within 0.5 s"):
        async with spawn_own(options):
            pytest.fail("a daemon that never answered was reported ready")
    assert not process_running(the_only_pid(start_log))


async def test_another_nodes_key_is_refused(
    options: MyceliumOptions, monkeypatch: pytest.MonkeyPatch, start_log: Path
) -> None:
    monkeypatch.setenv("STANDIN_WRONG_KEY", "1")
    with trio.fail_after(15), pytest.raises(MyceliumStartError, match="another mycelium node answers") as err:
        async with spawn_own(options):
            pytest.fail("a daemon answering with another key was accepted")
    assert pubkey_from_secret(options.key_path.read_bytes()).hex() in str(err.value)
    assert not process_running(the_only_pid(start_log))


@pytest.mark.parametrize("how", ["port-taken", "told-to-fail"])
async def test_api_bind_failure_fails_fast(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, start_log: Path, how: str
) -> None:
    options = standin_options(tmp_path, startup_limit=10)
    with socket.socket() as squatter:
        if how == "port-taken":
            # Something that accepts and never answers: only the daemon's log can tell us.
            host, port = options.api_addr.rsplit(":", 1)
            squatter.bind((host, int(port)))
            squatter.listen()
        else:
            monkeypatch.setenv("STANDIN_API_BIND_FAIL", "1")
        start = trio.current_time()
        with pytest.raises(MyceliumStartError, match="could not bind its HTTP API") as err:
            async with spawn_own(options):
                pytest.fail("a daemon without an API was reported ready")
    assert trio.current_time() - start < 5  # well before the 10 s start-up limit
    assert any("Failed to bind listener for Http Api server" in line for line in err.value.last_lines)
    assert not process_running(the_only_pid(start_log))


async def test_tun_failure_points_at_the_capability(options: MyceliumOptions, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STANDIN_TUN_FAIL", "1")
    with trio.fail_after(15), pytest.raises(MyceliumStartError, match=r"status 1.*CAP_NET_ADMIN") as err:
        async with spawn_own(options):
            pytest.fail("unreachable")
    assert any("Could not create tun device named hero-test" in line for line in err.value.last_lines)


async def test_exit_before_ready_is_a_start_error(tmp_path: Path) -> None:
    # The QUIC port is taken (say, by a system daemon): the real daemon treats that as fatal.
    with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as squatter:
        squatter.bind(("::", 0))
        options = standin_options(tmp_path, quic_port=squatter.getsockname()[1])
        with trio.fail_after(15), pytest.raises(MyceliumStartError, match=r"exited \(status 1\) before its API"):
            async with spawn_own(options):
                pytest.fail("unreachable")


async def test_missing_binary(tmp_path: Path) -> None:
    options = standin_options(tmp_path, binary=str(tmp_path / "no-such-mycelium"))
    with pytest.raises(MyceliumStartError, match="not found"):
        async with spawn_own(options):
            pytest.fail("unreachable")


async def test_other_platforms_are_told_to_use_a_system_daemon(
    options: MyceliumOptions, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "platform", "darwin")
    with pytest.raises(UnsupportedPlatform, match="system service"):
        async with spawn_own(options):
            pytest.fail("unreachable")
    assert not options.key_path.exists()  # refused before touching anything


async def test_crash_while_in_use_cancels_the_block(
    options: MyceliumOptions, monkeypatch: pytest.MonkeyPatch, start_log: Path
) -> None:
    monkeypatch.setenv("STANDIN_CRASH_AFTER", "0.3")
    with trio.fail_after(15), pytest.raises(MyceliumExited) as err:
        async with spawn_own(options):
            await trio.sleep(10)
            pytest.fail("the block ran on after the daemon died")
    assert err.value.returncode == 101
    assert any("panicked" in line for line in err.value.last_lines)
    assert not Path(f"/proc/{the_only_pid(start_log)}").exists()


async def test_errors_in_the_block_come_out_unwrapped(options: MyceliumOptions, start_log: Path) -> None:
    with trio.fail_after(15), pytest.raises(KeyError):
        async with spawn_own(options):
            raise KeyError("from the block")
    assert not process_running(the_only_pid(start_log))


async def test_cancelling_the_owner_stops_a_running_daemon(options: MyceliumOptions, start_log: Path) -> None:
    with trio.fail_after(15), trio.CancelScope() as scope:
        async with spawn_own(options):
            scope.cancel()
            await trio.sleep_forever()
    assert scope.cancelled_caught
    assert not Path(f"/proc/{the_only_pid(start_log)}").exists()


async def test_cancelling_the_owner_stops_a_starting_daemon(
    options: MyceliumOptions, monkeypatch: pytest.MonkeyPatch, start_log: Path
) -> None:
    monkeypatch.setenv("STANDIN_SLOW_START", "30")
    with trio.move_on_after(1) as scope:
        async with spawn_own(options):
            pytest.fail("unreachable")
    assert scope.cancelled_caught
    assert not Path(f"/proc/{the_only_pid(start_log)}").exists()


async def test_sigterm_then_sigkill_after_the_grace_period(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, start_log: Path, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("STANDIN_IGNORE_SIGTERM", "1")
    options = standin_options(tmp_path, grace_period=0.3)
    caplog.set_level(logging.INFO, logger="hero_assistance.supervisor.mycelium")
    with trio.fail_after(15):
        async with spawn_own(options):
            pass
    assert not Path(f"/proc/{the_only_pid(start_log)}").exists()
    assert "sending SIGKILL" in caplog.text
    assert "ended: killed by SIGKILL" in caplog.text
    assert "ignoring SIGTERM" in caplog.text  # the daemon's own output reached our log


async def test_daemon_output_is_logged_line_by_line(options: MyceliumOptions, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="hero_assistance.supervisor.mycelium.daemon")
    with trio.fail_after(15):
        async with spawn_own(options) as info:
            pass
    lines = [r for r in caplog.records if r.name == "hero_assistance.supervisor.mycelium.daemon"]
    assert any(str(info.address) in r.getMessage() for r in lines)
    assert all("\n" not in r.getMessage() for r in lines)
    # A fresh data dir: the key existed before the daemon started, so it never generated its own.
    assert not any("generating new keys" in r.getMessage() for r in lines)


def test_racing_first_runs_end_with_one_key(tmp_path: Path) -> None:
    import concurrent.futures

    for round_ in range(20):
        data = tmp_path / f"round-{round_}"
        key = data / "priv_key.bin"
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            runs = [pool.submit(prepare_state, data, key, data / "mycelium.toml") for _ in range(8)]
            secrets = [run.result() for run in runs]
        assert len(set(secrets)) == 1
        assert key.read_bytes() == secrets[0]
        assert sorted(p.name for p in data.iterdir()) == ["mycelium.toml", "priv_key.bin"]  # no temp left


async def test_two_daemons_started_together_share_one_key(tmp_path: Path) -> None:
    first = standin_options(tmp_path / "a", data_dir=tmp_path / "shared")
    second = standin_options(tmp_path / "b", data_dir=tmp_path / "shared")
    infos = {}

    async def run(name: str, options: MyceliumOptions, ready: trio.Event) -> None:
        async with spawn_own(options) as info:
            infos[name] = info
            ready.set()
            await all_ready.wait()

    all_ready = trio.Event()
    events = [trio.Event(), trio.Event()]
    with trio.fail_after(15):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(run, "a", first, events[0])
            nursery.start_soon(run, "b", second, events[1])
            for event in events:
                await event.wait()
            all_ready.set()
    assert infos["a"].pubkey == infos["b"].pubkey
    assert infos["a"].api != infos["b"].api


async def test_daemon_survives_idle_trio_worker_threads(
    options: MyceliumOptions, monkeypatch: pytest.MonkeyPatch, start_log: Path
) -> None:
    # PR_SET_PDEATHSIG fires when the *thread* that forked the child exits. Trio's worker threads
    # exit after IDLE_TIMEOUT (10 s); shortened here, a daemon forked from one would die now.
    monkeypatch.setattr(trio_thread_cache, "IDLE_TIMEOUT", 0.2)
    with trio.fail_after(15):
        async with spawn_own(options):
            for _ in range(3):
                await trio.to_thread.run_sync(lambda: None)
            await trio.sleep(1)
            assert process_running(the_only_pid(start_log))


PARENT_SCRIPT = textwrap.dedent(
    """
    import json, sys, trio
    from hero_assistance.supervisor.mycelium import MyceliumOptions, spawn_own

    async def main():
        options = MyceliumOptions(**json.loads(sys.argv[1]))
        async with spawn_own(options):
            print("READY", flush=True)
            await trio.sleep_forever()

    trio.run(main)
    """
)


async def test_daemon_dies_with_a_sigkilled_parent(options: MyceliumOptions, start_log: Path) -> None:
    kwargs = {
        "binary": options.binary,
        "data_dir": str(options.data_dir),
        "tcp_port": options.tcp_port,
        "quic_port": options.quic_port,
        "peer_discovery_port": None,
        "api_addr": options.api_addr,
        "jsonrpc_addr": options.jsonrpc_addr,
        "tun_name": options.tun_name,
    }
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT_SCRIPT, json.dumps(kwargs)],
        stdout=subprocess.PIPE,
        env=child_env({"PYTHONPATH": str(SRC_ROOT)}),
        cwd=SRC_ROOT,
    )
    daemon = None
    try:
        assert parent.stdout is not None
        with trio.fail_after(15):
            line = await trio.to_thread.run_sync(parent.stdout.readline)
        assert line.strip() == b"READY"
        daemon = the_only_pid(start_log)
        assert process_running(daemon)
        os.kill(parent.pid, 9)
        parent.wait()
        assert await wait_until_gone(daemon, within=30.0), "the daemon outlived its SIGKILLed parent"
    finally:
        parent.kill()
        parent.communicate()  # reaps it and closes its pipe
        if daemon is not None and process_running(daemon):
            os.kill(daemon, 9)  # the assertion failed: do not leave the orphan behind
