"""A supervised child process (the mycelium daemon, or a server / ui run by ``run --config``):
forked so that it dies with us, watched, drained, stopped.

Why not ``trio.lowlevel.open_process``: Linux sends the ``PR_SET_PDEATHSIG`` signal when the
*thread* that forked the child exits, not when the process does (prctl(2): "the 'parent' in this
case is considered to be the thread that created this process"). Trio forks in a worker thread of
its thread cache, and an idle worker exits after ten seconds — the daemon would get SIGTERM ten
seconds after every start. So we fork from the Trio thread itself, which lives as long as the run
that owns the daemon. The fork/exec blocks the event loop for a millisecond or two; acceptable for
something done once per daemon start.

Why a wrapper instead of ``preexec_fn``: ``preexec_fn`` runs Python between fork and exec, which can
deadlock when other threads exist (and ours do: ``trio.to_thread``). The wrapper is a fresh
``python -I -S`` that arms the death signal with ``prctl`` and then ``exec``s the daemon in place,
so the daemon keeps the pid we know. It re-checks its parent after arming, because a parent that
died between fork and ``prctl`` would otherwise leave an orphan that never gets the signal.

The exit is awaited through a pidfd (Linux >= 5.3), with a polling fallback.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import signal
import subprocess
import sys
from collections.abc import Callable

import trio

logger = logging.getLogger("hero_assistance.supervisor")

_PDEATHSIG_WRAPPER = """\
import ctypes, os, signal, sys
PR_SET_PDEATHSIG = 1
libc = ctypes.CDLL(None, use_errno=True)
if libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0) != 0:
    sys.exit("hero_assistance: prctl(PR_SET_PDEATHSIG) failed: " + os.strerror(ctypes.get_errno()))
if os.getppid() != int(sys.argv[1]):
    sys.exit(0)  # the supervisor died before the death signal was armed: start nothing
os.execv(sys.argv[2], sys.argv[2:])
"""

#: Longest line kept whole; a daemon printing megabytes without a newline must not grow our memory.
_MAX_LINE = 8192
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


class ChildProcess:
    """A running child; create with :meth:`spawn`, then run :meth:`watch` and :meth:`pump_output`
    in the owner's nursery, and always finish with :meth:`stop`."""

    def __init__(self, popen: subprocess.Popen[bytes], output_fd: int, name: str) -> None:
        self.name = name
        self._popen = popen
        self._output = trio.lowlevel.FdStream(output_fd)
        self.pid = popen.pid
        self.returncode: int | None = None
        self.stopping = False
        self.exited = trio.Event()
        self.output_done = trio.Event()

    @classmethod
    def spawn(cls, argv: list[str], *, env: dict[str, str] | None = None, name: str = "") -> ChildProcess:
        """Fork and exec ``argv`` from the calling (Trio) thread; stdout and stderr go to one pipe."""
        wrapped = [sys.executable, "-I", "-S", "-c", _PDEATHSIG_WRAPPER, str(os.getpid()), *argv]
        read_fd, write_fd = os.pipe()
        try:
            popen = subprocess.Popen(
                wrapped,
                stdin=subprocess.DEVNULL,
                stdout=write_fd,
                stderr=write_fd,
                env=env,
                # Its own session: a Ctrl-C in our terminal reaches us, and we stop the daemon in
                # order, instead of both racing to exit (and ensure() restarting a "crashed" daemon).
                start_new_session=True,
            )
        except BaseException:
            os.close(read_fd)
            raise
        finally:
            os.close(write_fd)
        return cls(popen, read_fd, name or os.path.basename(argv[0]))

    async def watch(self, on_unexpected_exit: Callable[[], None]) -> None:
        """Wait for the child to exit, reap it, set :attr:`exited`; report an exit we did not ask for.

        Shielded from cancellation: the owner always ends the child through :meth:`stop` (which
        escalates to SIGKILL), and only this task reaps it — were it cancelled, the child would stay
        a zombie and ``stop()`` would wait for an exit nobody observes.
        """
        with trio.CancelScope(shield=True):
            await self._wait_for_exit()
        self.returncode = self._popen.returncode
        self.exited.set()
        if not self.stopping:
            on_unexpected_exit()

    async def _wait_for_exit(self) -> None:
        try:
            pidfd = os.pidfd_open(self.pid)
        except (AttributeError, OSError):
            # No pidfd (kernel < 5.3): nothing to wait on but time itself.
            while self._popen.poll() is None:  # noqa: ASYNC110
                await trio.sleep(0.05)
            return
        try:
            await trio.lowlevel.wait_readable(pidfd)
        finally:
            os.close(pidfd)
        self._popen.wait()  # readable pidfd = exited: this only reaps, it does not block

    async def pump_output(self, on_line: Callable[[str], None]) -> None:
        """Hand every output line (ANSI codes stripped) to ``on_line`` until the pipe closes."""
        pending = b""
        try:
            async with self._output:
                while data := await self._output.receive_some(65536):
                    pending += data
                    *lines, pending = pending.split(b"\n")
                    if len(pending) > _MAX_LINE:
                        lines.append(pending)
                        pending = b""
                    for line in lines:
                        on_line(_ANSI.sub("", line.decode("utf-8", "replace")).rstrip())
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass
        finally:
            if pending:
                on_line(_ANSI.sub("", pending.decode("utf-8", "replace")).rstrip())
            self.output_done.set()

    def _send(self, signum: signal.Signals) -> None:
        # Safe against pid reuse: the pid stays ours until watch() reaps it, which sets returncode.
        if self.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signum)

    async def stop(self, grace_period: float) -> None:
        """SIGTERM, SIGKILL after ``grace_period`` seconds, return once reaped. Shielded."""
        self.stopping = True
        with trio.CancelScope(shield=True):
            if self.returncode is None:
                self._send(signal.SIGTERM)
                with trio.move_on_after(grace_period):
                    await self.exited.wait()
            if self.returncode is None:
                logger.warning(
                    "%s (pid %d) still running %.1f s after SIGTERM; sending SIGKILL",
                    self.name,
                    self.pid,
                    grace_period,
                )
                self._send(signal.SIGKILL)
                await self.exited.wait()
