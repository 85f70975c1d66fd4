"""The benchmarks' child processes: project servers, baseline servers and load generators.

Every child runs under ``trio.run_process`` inside a nursery owned by the caller: leaving that nursery
(normally, by an error or by Ctrl-C) sends SIGTERM, then SIGKILL after trio's grace, and reaps the
child. Children get their own stdout/stderr files or pipes we read, never a pipe nobody drains (a
server logging one line per request into a full pipe would stall and the figures would lie).

CPUs: on a 2-core machine a measurement runs the server on one core and its load on the other, each
pinned from its first instruction on, so neither time-slices with the other and the scheduler cannot
migrate them mid-run. With a single CPU nothing is pinned. The pinning is done by a tiny ``python -I -S``
shim that sets the affinity and ``exec``s the real command (same pid), not by ``preexec_fn``: trio forks
from a worker thread, and Python code between fork and exec is not safe while other threads exist.

Each child gets its own session, so a Ctrl-C in the terminal reaches only the benchmark driver, which
then stops its children in order, instead of every process racing to exit at once.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import attrs
import trio

from ._http import build_request, message_end, status_of

READY_TIMEOUT_S = 60.0


class BenchError(Exception):
    """A benchmark could not run (a child failed to start or answered wrongly); the message says why."""


def cpu_plan() -> tuple[frozenset[int] | None, frozenset[int] | None]:
    """(server CPUs, load CPUs): two disjoint single cores, or (None, None) when there is only one."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return None, None
    return frozenset({cpus[0]}), frozenset({cpus[1]})


SERVER_CPUS, LOAD_CPUS = cpu_plan()


_PIN_SHIM = (
    "import os, sys; os.sched_setaffinity(0, map(int, sys.argv[1].split(','))); os.execv(sys.argv[2], sys.argv[2:])"
)


def _pinned(command: Sequence[str], cpus: frozenset[int] | None) -> list[str]:
    """``command`` run on ``cpus`` (every thread it starts inherits the affinity)."""
    if cpus is None:
        return list(command)
    return [sys.executable, "-I", "-S", "-c", _PIN_SHIM, ",".join(map(str, sorted(cpus))), *command]


def raise_fd_limit() -> int:
    """Raise this process's open-file limit to its hard limit (1,000 subscribers need 1,000+ fds)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 1 << 20 if hard == resource.RLIM_INFINITY else hard
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    return wanted


def rss_mb(pid: int) -> float:
    """Resident set size of a process (``VmRSS`` from ``/proc/PID/status``) in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise BenchError(f"no VmRSS for pid {pid}")


def process_cpu_s(pid: int) -> float:
    """CPU time used so far by another process, in seconds, with nanosecond resolution.

    Linux's per-process CPU-time clock, encoded as ``clock_getcpuclockid(3)`` does: ``(~pid << 3) | 2``
    (CPUCLOCK_SCHED, whole process). ``/proc/PID/stat`` would only give 10 ms ticks.
    """
    return time.clock_gettime((~pid << 3) | 2)


def python_module(module: str, *args: str) -> list[str]:
    return [sys.executable, "-m", module, *args]


@attrs.define
class Child:
    """A started child process and where it listens (if it is a server)."""

    process: trio.Process
    name: str
    log: Path | None = None

    @property
    def pid(self) -> int:
        return self.process.pid

    def rss_mb(self) -> float:
        return rss_mb(self.pid)

    def log_tail(self, lines: int = 15) -> str:
        if self.log is None or not self.log.exists():
            return ""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


async def start_child(
    nursery: trio.Nursery,
    command: Sequence[str],
    *,
    name: str,
    log: Path,
    cpus: frozenset[int] | None,
    env: dict[str, str] | None = None,
) -> Child:
    """Start a long-running child owned by ``nursery``; its stdout and stderr go to ``log``.

    The child must outlive its use: if it exits before ``nursery`` is cancelled (a crashed server),
    a ``BenchError`` with its log's last lines fails the block, rather than a load waiting forever.
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as sink:  # the child has its own copy of the descriptor once started
        process: trio.Process = await nursery.start(
            partial(
                trio.run_process,
                _pinned(command, cpus),
                check=False,
                stdin=subprocess.DEVNULL,
                stdout=sink,
                stderr=sink,
                env=env,
                start_new_session=True,
            )
        )
    child = Child(process, name, log)
    nursery.start_soon(_exit_is_failure, child)
    return child


async def _exit_is_failure(child: Child) -> None:
    await child.process.wait()
    raise BenchError(f"{child.name} exited with {child.process.returncode} while in use:\n{child.log_tail()}")


async def wait_http_ready(child: Child, socket_path: Path, path: str = "/health") -> None:
    """Wait until ``GET path`` on the Unix socket answers (any status): the server is serving."""
    request = build_request("GET", path)
    with trio.move_on_after(READY_TIMEOUT_S):
        while True:
            if child.process.returncode is not None:
                raise BenchError(
                    f"{child.name} exited with {child.process.returncode} before it was ready:\n{child.log_tail()}"
                )
            try:
                response = await http_exchange(socket_path, request)
            except OSError:
                await trio.sleep(0.05)
                continue
            if status_of(response) < 500:
                return
            await trio.sleep(0.05)
    raise BenchError(f"{child.name} was not ready after {READY_TIMEOUT_S:.0f} s:\n{child.log_tail()}")


async def http_exchange(socket_path: Path, request: bytes) -> bytes:
    """One request on a fresh connection; the raw response."""
    sock = trio.socket.socket(trio.socket.AF_UNIX, trio.socket.SOCK_STREAM)
    with sock:
        await sock.connect(str(socket_path))
        await sock.send(request)
        buf = bytearray()
        while (end := message_end(buf)) is None:
            chunk = await sock.recv(65536)
            if not chunk:
                raise OSError("connection closed before a whole response")
            buf += chunk
        return bytes(buf[:end])


async def start_project_server(
    nursery: trio.Nursery, *, project: str, data_dir: Path, socket_dir: Path, log: Path, cpus: frozenset[int] | None
) -> Child:
    """``hero-assistance server`` exactly as an operator runs it (default log level), ready to serve."""
    command = python_module(
        "hero_assistance",
        "server",
        "--project",
        project,
        "--data-dir",
        str(data_dir),
        "--socket-dir",
        str(socket_dir),
    )
    child = await start_child(nursery, command, name=f"server {project}", log=log, cpus=cpus)
    await wait_http_ready(child, socket_dir / "rpc.sock")
    await wait_http_ready(child, socket_dir / "events.sock")
    return child


async def run_json(
    module: str, args: Sequence[str], payload: dict[str, Any], *, cpus: frozenset[int] | None
) -> dict[str, Any]:
    """Run a load generator to completion: ``payload`` as JSON on stdin, its JSON result from stdout.

    Its stderr (progress, errors) passes through to ours.
    """
    result = await trio.run_process(
        _pinned(python_module(module, *args), cpus),
        stdin=json.dumps(payload).encode(),
        capture_stdout=True,
        stderr=None,
        check=False,
        start_new_session=True,
    )
    if result.returncode != 0:
        raise BenchError(f"{module} exited with {result.returncode}")
    try:
        answer: dict[str, Any] = json.loads(result.stdout)
    except ValueError:
        raise BenchError(f"{module} printed no JSON result: {result.stdout[-500:]!r}") from None
    return answer


def load_generator_main(work: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
    """A load generator's ``main``: the JSON job from stdin, ``work(job)``, the JSON result to stdout."""
    raise_fd_limit()
    result = work(json.loads(sys.stdin.buffer.read()))
    sys.stdout.write(json.dumps(result))
    sys.stdout.flush()


def _cpu_ticks(cpus: frozenset[int]) -> int:
    """Busy clock ticks (USER_HZ) of the given CPUs since boot, from /proc/stat."""
    wanted = {f"cpu{n}" for n in cpus}
    busy = 0
    for line in Path("/proc/stat").read_text().splitlines():
        fields = line.split()
        if fields and fields[0] in wanted:
            user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, fields[1:9])
            busy += user + nice + system + irq + softirq + steal
    return busy


def _process_ticks(pid: int) -> int:
    # utime and stime (fields 14 and 15); the command name, in parentheses, may contain spaces.
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return int(fields[11]) + int(fields[12])


class ForeignLoad:
    """How much of the server's CPU went to anything but the server process during a measurement.

    Other people's work on the machine (a test suite, a browser) shares the cores with the benchmark;
    this makes it visible next to each figure instead of silently skewing it. It also counts kernel
    work not charged to the server process (interrupts, wake-ups of its socket peers), which is why it
    is never zero and is highest against the fastest server (the raw Trio baseline).
    """

    def __init__(self, cpus: frozenset[int] | None, pid: int | None) -> None:
        """``pid``: the process whose time is not foreign (None: count it yourself with ``exclude``)."""
        self.cpus = cpus or frozenset(os.sched_getaffinity(0))
        self.pid = pid
        self.busy_s = 0.0
        self.elapsed_s = 0.0

    def __enter__(self) -> ForeignLoad:
        self._started = time.perf_counter()
        self._cpu = _cpu_ticks(self.cpus)
        self._own = _process_ticks(self.pid) if self.pid else 0
        return self

    def __exit__(self, *exc: object) -> None:
        self.elapsed_s = time.perf_counter() - self._started
        own = _process_ticks(self.pid) - self._own if self.pid else 0
        self.busy_s = ((_cpu_ticks(self.cpus) - self._cpu) - own) / os.sysconf("SC_CLK_TCK")

    def share(self, exclude_s: float = 0.0) -> float:
        """The foreign share of the CPUs' time, after removing ``exclude_s`` seconds of our own."""
        return max(0.0, (self.busy_s - exclude_s) / self.elapsed_s / len(self.cpus))


def pin(pid: int, cpus: frozenset[int] | None) -> None:
    """Pin every thread of a running process (for children started unpinned to start faster)."""
    if cpus is None:
        return
    for tid in os.listdir(f"/proc/{pid}/task"):
        os.sched_setaffinity(int(tid), cpus)
