"""Helpers shared by the mycelium tests: the stand-in daemon on PATH, free ports, process checks."""

from __future__ import annotations

import os
import shlex
import socket
import stat
import sys
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any

import attrs
import trio

from hero_assistance.supervisor.mycelium import MyceliumOptions, NodeInfo, detect

STANDIN = Path(__file__).with_name("mycelium_standin.py")
SRC_ROOT = Path(__file__).resolve().parent.parent


def free_port(kind: socket.SocketKind = socket.SOCK_STREAM) -> int:
    """A port the kernel just handed out (and released); good enough for one test."""
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def free_addr() -> str:
    return f"127.0.0.1:{free_port()}"


def install_standin(bin_dir: Path) -> Path:
    """A ``mycelium`` executable in ``bin_dir`` that runs the stand-in with this interpreter."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    script = bin_dir / "mycelium"
    script.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} {shlex.quote(str(STANDIN))} "$@"\n')
    script.chmod(script.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return script


def standin_options(tmp_path: Path, **overrides: Any) -> MyceliumOptions:
    """Options for our own daemon = the stand-in, on fresh ports, with nothing to detect."""
    options = MyceliumOptions(
        binary=str(install_standin(tmp_path / "bin")),
        data_dir=tmp_path / "data",
        tcp_port=free_port(),
        quic_port=free_port(socket.SOCK_DGRAM),
        peer_discovery_port=None,
        api_addr=free_addr(),
        jsonrpc_addr=free_addr(),
        tun_name="hero-test",
        grace_period=2.0,
        startup_limit=10.0,
        restart_backoff_initial=0.05,
        restart_backoff_max=0.5,
    ).without_detection()
    return attrs.evolve(options, **overrides)


def start_log_pids(path: Path) -> list[int]:
    """The pids the stand-in wrote to ``STANDIN_START_LOG``, in start order."""
    if not path.exists():
        return []
    return [int(line) for line in path.read_text().split()]


def process_running(pid: int) -> bool:
    """True while ``pid`` is a live process (a zombie, dead but unreaped, counts as gone)."""
    try:
        stat_line = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    state = stat_line.rpartition(")")[2].split()[0]
    return state not in ("Z", "X")


async def wait_until_gone(pid: int, within: float) -> bool:
    with trio.move_on_after(within):
        while process_running(pid):
            await trio.sleep(0.02)
        return True
    return False


def child_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.update(extra or {})
    return env


@asynccontextmanager
async def running_standin(
    tmp_path: Path, *args: str, env: Mapping[str, str] | None = None
) -> AsyncIterator[trio.Process]:
    """The stand-in run directly (as a system daemon would be), stopped with SIGTERM afterwards."""
    argv = [sys.executable, str(STANDIN), "--log-format", "plain", *args]
    with open(tmp_path / "standin.log", "ab") as log:
        async with trio.open_nursery() as nursery:
            run = partial(trio.run_process, argv, env=child_env(env), stdout=log, stderr=log, check=False)
            process: trio.Process = await nursery.start(run)
            try:
                yield process
            finally:
                process.terminate()


async def wait_for_node(**where: Any) -> NodeInfo:
    """Poll ``detect(**where)`` until a node answers (the caller bounds the wait)."""
    while True:
        info = await detect(**where)
        if info is not None:
            return info
        await trio.sleep(0.05)
