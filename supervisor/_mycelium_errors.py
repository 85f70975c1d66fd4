"""What can go wrong with the mycelium daemon, described as states an operator can act on."""

from __future__ import annotations

import signal
from collections.abc import Sequence

from hero_assistance.core import HeroAssistanceError


class MyceliumError(HeroAssistanceError):
    """Root of the mycelium lifecycle errors."""


class UnsupportedPlatform(MyceliumError):
    """This platform cannot run a daemon of our own (only Linux can tie its life to ours)."""


class _WithDaemonLog(MyceliumError):
    """An error that carries the daemon's last log lines, shown after the message."""

    def __init__(self, message: str, last_lines: Sequence[str] = ()) -> None:
        self.last_lines = tuple(last_lines)
        if self.last_lines:
            message += "\nlast lines of the mycelium log:\n  " + "\n  ".join(self.last_lines)
        super().__init__(message)


class MyceliumStartError(_WithDaemonLog):
    """Our own daemon could not be started or never became ready (the message says why)."""


class MyceliumExited(_WithDaemonLog):
    """Our own daemon exited on its own after it had become ready."""

    def __init__(self, returncode: int, last_lines: Sequence[str] = ()) -> None:
        self.returncode = returncode
        super().__init__(f"the mycelium daemon exited unexpectedly ({describe_exit(returncode)})", last_lines)


def describe_exit(returncode: int) -> str:
    """``status 1`` or ``killed by SIGKILL``, as Popen's negative return codes mean a signal."""
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"status {returncode}"
