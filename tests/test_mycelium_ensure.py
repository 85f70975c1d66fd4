"""ensure(): use the running daemon, else our own — and bring ours back when it crashes."""

from __future__ import annotations

import logging
import random
from pathlib import Path

import pytest
import trio

from hero_assistance.supervisor._mycelium_ensure import restart_delay
from hero_assistance.supervisor.mycelium import MyceliumStartError, detect, ensure
from tests._mycelium_fixtures import (
    free_addr,
    free_port,
    process_running,
    running_standin,
    standin_options,
    start_log_pids,
    wait_for_node,
)


@pytest.fixture
def start_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "starts.log"
    monkeypatch.setenv("STANDIN_START_LOG", str(path))
    return path


async def wait_for_starts(start_log: Path, count: int) -> list[int]:
    while len(pids := start_log_pids(start_log)) < count:
        await trio.sleep(0.02)
    return pids


async def test_a_running_daemon_is_used_and_left_alone(tmp_path: Path) -> None:
    api = free_addr()
    system_args = ["-k", str(tmp_path / "system.key"), "-c", "/dev/null", "--no-tun", "--disable-quic"]
    system_args += ["--disable-peer-discovery", "-t", str(free_port()), "--api-addr", api]
    system_args += ["--jsonrpc-addr", free_addr()]
    # A binary that does not exist: if ensure() tried to start our own, it would fail loudly.
    options = standin_options(tmp_path, binary=str(tmp_path / "no-such-mycelium"), system_api_addr=api)
    async with running_standin(tmp_path, *system_args) as system:
        with trio.fail_after(10):
            expected = await wait_for_node(api_addr=api, jsonrpc_addr=None, hero_socket=None)
            async with ensure(options) as info:
                assert info == expected
        assert system.returncode is None  # not ours to stop
    assert not options.key_path.exists()


async def test_a_crash_is_restarted_with_the_same_identity(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, start_log: Path, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("STANDIN_CRASH_AFTER", "0.3")
    monkeypatch.setenv("STANDIN_CRASH_MARKER", str(tmp_path / "crashed-once"))
    caplog.set_level(logging.INFO, logger="hero_assistance.supervisor.mycelium")
    options = standin_options(tmp_path)
    with trio.fail_after(15):
        async with ensure(options) as info:
            first, second = await wait_for_starts(start_log, 2)
            while "our mycelium daemon is back" not in caplog.text:
                await trio.sleep(0.02)
            again = await detect(api_addr=options.api_addr, jsonrpc_addr=None, hero_socket=None)
            assert again is not None
            assert again.pubkey == info.pubkey and again.address == info.address
            assert not process_running(first)
            assert process_running(second)
    assert not process_running(second)
    assert "crashed" in caplog.text and "panicked" in caplog.text  # why it died, in our log
    assert "restarting our mycelium daemon in" in caplog.text


async def test_a_crash_loop_keeps_being_restarted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, start_log: Path
) -> None:
    # Long enough to be seen ready each time (a daemon dying before that fails the restart instead).
    monkeypatch.setenv("STANDIN_CRASH_AFTER", "0.2")
    options = standin_options(tmp_path, restart_backoff_initial=0.01, restart_backoff_max=0.1)
    with trio.fail_after(20):
        async with ensure(options):
            pids = await wait_for_starts(start_log, 4)
    assert len(set(pids)) == len(pids)
    assert not any(process_running(pid) for pid in start_log_pids(start_log))


async def test_a_failing_first_start_is_raised_as_is(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STANDIN_WRONG_KEY", "1")
    with trio.fail_after(15), pytest.raises(MyceliumStartError, match="another mycelium node"):
        async with ensure(standin_options(tmp_path)):
            pytest.fail("unreachable")


async def test_errors_in_the_block_come_out_unwrapped(tmp_path: Path, start_log: Path) -> None:
    with trio.fail_after(15), pytest.raises(KeyError):
        async with ensure(standin_options(tmp_path)):
            raise KeyError("from the block")
    assert not any(process_running(pid) for pid in start_log_pids(start_log))


def test_restart_delay_is_capped_full_jitter() -> None:
    random.seed(5)
    for failures in range(12):
        ceiling = min(30.0, 0.5 * 2**failures)
        delays = [restart_delay(failures, 0.5, 30.0) for _ in range(200)]
        assert all(0 <= d <= ceiling for d in delays)
        assert max(delays) > 0.8 * ceiling  # spread over the whole window, not a fixed step
    assert restart_delay(10_000, 0.5, 30.0) <= 30.0  # no overflow however long the loop
