"""Real project servers for client tests, started exactly as an operator would start them.

``hero-assistance server --project NAME --data-dir D --socket-dir D --auth-mode proxy`` in a subprocess, ready
once ``GET /health`` on its ``rpc.sock`` answers. Socket directories live under a short ``/tmp`` path because
a Unix socket path may not exceed 107 bytes, which pytest's ``tmp_path`` easily does.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import attrs
import pytest
import trio

from hero_assistance.transport._client import Client
from hero_assistance.transport._errors import ConnectFailed, ConnectionLost

READY_WITHIN_S = 30.0


async def _health(socket_path: Path) -> bytes | None:
    """The body of ``GET /health`` on a Unix socket, or ``None`` if nothing answers yet."""
    try:
        stream = await trio.open_unix_socket(str(socket_path))
    except OSError:
        return None
    async with stream:
        try:
            await stream.send_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            data = b""
            while chunk := await stream.receive_some(65536):
                data += chunk
        except (trio.BrokenResourceError, OSError):
            return None
    head, _, body = data.partition(b"\r\n\r\n")
    return body if head.startswith(b"HTTP/1.1 200") else None


@attrs.define
class ServerProcess:
    """One ``hero-assistance server`` subprocess and the directory holding its data and sockets."""

    name: str
    root: Path
    process: trio.Process | None = None
    starts: int = 0
    #: ``--mycelium-bind`` for a TCP listener too (e.g. ``[::1]:PORT``); ``None``: Unix sockets only.
    mycelium_bind: str | None = None

    @property
    def rpc_socket(self) -> Path:
        return self.root / "rpc.sock"

    @property
    def url(self) -> str:
        return f"unix:{self.rpc_socket}"

    @property
    def log_path(self) -> Path:
        return self.root / f"server-{self.starts}.log"

    def log(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in sorted(self.root.glob("server-*.log")))

    async def start(self) -> None:
        assert self.process is None or self.process.returncode is not None, "already running"
        self.starts += 1
        command = [
            sys.executable,
            "-m",
            "hero_assistance",
            "server",
            "--project",
            self.name,
            "--data-dir",
            str(self.root),
            "--socket-dir",
            str(self.root),
            "--auth-mode",
            "proxy",
            *(["--mycelium-bind", self.mycelium_bind] if self.mycelium_bind else []),
        ]
        with open(self.log_path, "wb") as log:
            self.process = await trio.lowlevel.open_process(command, stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        with trio.move_on_after(READY_WITHIN_S):
            while True:
                if self.process.returncode is not None:
                    raise RuntimeError(f"server {self.name} exited with {self.process.returncode}:\n{self.log()}")
                if await _health(self.rpc_socket):
                    return
                await trio.sleep(0.02)
        raise RuntimeError(f"server {self.name} not ready within {READY_WITHIN_S} s:\n{self.log()}")

    async def stop(self) -> None:
        """SIGTERM and wait: the server's own graceful shutdown."""
        await self._signal(signal.SIGTERM)

    async def kill(self) -> None:
        """SIGKILL and wait: a crash, leaving stale socket files behind."""
        await self._signal(signal.SIGKILL)

    async def restart(self) -> None:
        await self.stop()
        await self.start()

    async def _signal(self, sig: signal.Signals) -> None:
        process = self.process
        if process is None or process.returncode is not None:
            return
        process.send_signal(sig)
        with trio.CancelScope(shield=True):
            await process.wait()

    def kill_now(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.kill()


class Servers:
    """Starts named servers on demand; the fixture kills whatever is still running at the end."""

    def __init__(self) -> None:
        self.base = Path(tempfile.mkdtemp(prefix="ha-", dir="/tmp"))
        self.running: dict[str, ServerProcess] = {}

    async def start(self, name: str, *, mycelium_bind: str | None = None) -> ServerProcess:
        root = self.base / name
        root.mkdir(exist_ok=True)
        server = ServerProcess(name, root, mycelium_bind=mycelium_bind)
        self.running[name] = server
        await server.start()
        return server

    async def close(self) -> None:
        for server in self.running.values():
            server.kill_now()
        with trio.CancelScope(shield=True):
            for server in self.running.values():
                if server.process is not None:
                    await server.process.wait()
        shutil.rmtree(self.base, ignore_errors=True)


@pytest.fixture(name="servers")
async def servers_fixture() -> AsyncIterator[Servers]:
    pool = Servers()
    try:
        yield pool
    finally:
        await pool.close()


@pytest.fixture(name="server")
async def server_fixture(servers: Servers) -> ServerProcess:
    return await servers.start("acme")


@attrs.define
class Desk:
    """People enrolled on a real server, by email (the Unix socket lets local callers assert X-Hero-User)."""

    ann: str = "ann@example.com"  # customer
    bob: str = "bob@example.com"  # customer
    sam: str = "sam@example.com"  # support


async def enroll_desk(url: str) -> Desk:
    desk = Desk()
    async with Client(url) as operator:
        await operator.users.enroll(desk.ann, "customer", display_name="Ann")
        await operator.users.enroll(desk.bob, "customer", display_name="Bob")
        await operator.users.enroll(desk.sam, "support", display_name="Sam")
    return desk


def free_tcp_port(host: str = "::1") -> int:
    """A port that was free a moment ago (the server binds it by number, so it cannot report port 0)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def open_fds() -> set[int]:
    return {int(name) for name in os.listdir("/proc/self/fd")}


def trio_tasks() -> list[str]:
    """Names of every task under the root, for leak checks (the test's own task included)."""
    names: list[str] = []

    def walk(task: Any) -> None:
        names.append(task.name)
        for nursery in task.child_nurseries:
            for child in nursery.child_tasks:
                walk(child)

    walk(trio.lowlevel.current_root_task())
    return names


# -- scripted event sources for MultiProjectClient tests ------------------------------------------------
class FixedRandom:
    """A ``random()`` that returns the given values in turn (the last one forever)."""

    def __init__(self, *values: float) -> None:
        self.values = list(values)
        self.calls = 0

    def random(self) -> float:
        value = self.values[min(self.calls, len(self.values) - 1)]
        self.calls += 1
        return value


class FakeProject:
    """An in-memory project server for ``MultiProjectClient(connector=...)``.

    It keeps an event log (seq = position), refuses the first ``fail_first`` connections with
    ``ConnectFailed``, then serves ``subscribed`` + every event after ``since`` + live ones. ``drop()``
    breaks every open stream (``ConnectionLost``), as a server restart would. ``replay_overlap`` makes it
    resend that many events before ``since`` (a sloppy server the client must de-duplicate).
    """

    def __init__(self, name: str, *, fail_first: int = 0, fail_always: bool = False, replay_overlap: int = 0) -> None:
        self.name = name
        self.fail_first = fail_first
        self.fail_always = fail_always
        self.replay_overlap = replay_overlap
        self.log: list[dict[str, Any]] = []
        self.attempts: list[tuple[float, int | None]] = []
        self.open_streams = 0
        self._epoch = 0
        self._lot = trio.lowlevel.ParkingLot()

    def emit(self, count: int = 1) -> None:
        for _ in range(count):
            seq = len(self.log) + 1
            self.log.append({"seq": seq, "type": "ticket.created", "project": self.name, "data": {"n": seq}})
        self._lot.unpark_all()

    def drop(self) -> None:
        self._epoch += 1
        self._lot.unpark_all()

    def connect(self, since: int | None) -> Any:
        @asynccontextmanager
        async def opened() -> AsyncIterator[FakeSource]:
            self.attempts.append((trio.current_time(), since))
            await trio.lowlevel.checkpoint()
            if self.fail_always or len(self.attempts) <= self.fail_first:
                raise ConnectFailed(f"{self.name}: scripted refusal #{len(self.attempts)}")
            self.open_streams += 1
            try:
                yield FakeSource(self, since)
            finally:
                self.open_streams -= 1

        return opened()


class FakeSource:
    def __init__(self, project: FakeProject, since: int | None) -> None:
        self.project = project
        self.epoch = project._epoch
        latest = len(project.log)
        self.pending: list[dict[str, Any]] = [{"type": "subscribed", "project": project.name, "seq": latest}]
        if since is not None and since > latest:
            self.pending.append({"type": "resync_required", "seq": latest})
            since = latest
        self.next_index = latest if since is None else max(0, since - project.replay_overlap)

    async def receive(self) -> dict[str, Any]:
        await trio.lowlevel.checkpoint()
        while True:
            if self.project._epoch != self.epoch:
                raise ConnectionLost(f"{self.project.name}: dropped")
            if self.pending:
                return self.pending.pop(0)
            if self.next_index < len(self.project.log):
                self.next_index += 1
                return self.project.log[self.next_index - 1]
            await self.project._lot.park()
