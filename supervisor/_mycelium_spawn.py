"""Running a mycelium daemon of our own, for exactly as long as a ``async with`` block lasts."""

from __future__ import annotations

import collections
import logging
import math
import os
import re
import shlex
import shutil
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import trio

from ._child_process import ChildProcess
from ._mycelium_address import pubkey_from_secret
from ._mycelium_detect import PROBE_DEADLINE, NodeInfo, probe_rest
from ._mycelium_errors import MyceliumExited, MyceliumStartError, UnsupportedPlatform, describe_exit
from ._mycelium_keyfile import prepare_state
from ._mycelium_options import MyceliumOptions

logger = logging.getLogger("hero_assistance.supervisor.mycelium")
daemon_logger = logging.getLogger("hero_assistance.supervisor.mycelium.daemon")

# What the daemon logs (mycelium-api) when its REST API cannot bind; it then runs on without an API.
_API_BIND_FAILURE = "Failed to bind listener for Http Api server"
_TUN_FAILURE = "Could not create tun device"
_LEVEL = re.compile(r"\blevel=(\w+)|\s(TRACE|DEBUG|INFO|WARN|ERROR)\s", re.IGNORECASE)
_LEVELS = {"trace": logging.DEBUG, "debug": logging.DEBUG, "warn": logging.WARNING, "error": logging.ERROR}
# nodeStartTime has one-second resolution and both clocks are this machine's; allow for rounding.
_START_TIME_SLACK = 2


class _DaemonLog:
    """Forwards daemon output into our log, keeps the last lines for error messages, spots failures."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.tail: collections.deque[str] = collections.deque(maxlen=20)
        self.api_bind_failed = False
        self.tun_failed = False

    def line(self, text: str) -> None:
        if not text:
            return
        self.tail.append(text)
        match = _LEVEL.search(text)
        level = _LEVELS.get((match.group(1) or match.group(2)).lower(), logging.INFO) if match else logging.INFO
        daemon_logger.log(level, "[mycelium %d] %s", self.pid, text)
        if _API_BIND_FAILURE in text:
            self.api_bind_failed = True
        if _TUN_FAILURE in text:
            self.tun_failed = True


def _require_linux() -> None:
    if sys.platform != "linux":
        raise UnsupportedPlatform(
            f"hero_assistance cannot run its own mycelium daemon on {sys.platform}: only Linux lets the "
            "daemon die with us (PR_SET_PDEATHSIG). Install and start mycelium as a system service "
            "(it is then found automatically), see runbook/mycelium.md."
        )


def _resolve_binary(binary: str) -> str:
    path = shutil.which(binary)
    if path is None:
        raise MyceliumStartError(
            f"mycelium binary {binary!r} not found or not executable (looked on PATH): install mycelium, "
            "or name the binary explicitly"
        )
    return os.path.abspath(path)


def _warn_if_file_capabilities(binary: str) -> None:
    try:
        os.getxattr(binary, "security.capability")
    except OSError:
        return  # no file capabilities (or no xattr support): the death signal survives exec
    logger.warning(
        "%s has file capabilities (setcap); the kernel drops PR_SET_PDEATHSIG when executing it, so the "
        "daemon will outlive this process if it is killed with SIGKILL. See runbook/mycelium.md.",
        binary,
    )


@asynccontextmanager
async def spawn_own(options: MyceliumOptions) -> AsyncIterator[NodeInfo]:
    """Run our own mycelium daemon; yield its :class:`NodeInfo` once it is ready; stop it on exit.

    Ready means ``GET /api/v1/admin`` on ``options.api_addr`` answers 200 *and* reports the public
    key of our key file: a 200 alone may come from another daemon holding that address. Raises
    :class:`MyceliumStartError` if the daemon exits first, reports another key, logs that its API
    could not bind, or stays silent for ``options.startup_limit`` seconds; its last log lines are in
    the message. If the daemon exits on its own while the block runs, the block is cancelled and
    :class:`MyceliumExited` is raised (``ensure()`` restarts it instead). Leaving the block sends
    SIGTERM, then SIGKILL after ``options.grace_period``; the process is reaped before this returns.

    Linux only (:class:`UnsupportedPlatform` elsewhere). The daemon's output goes to the
    ``hero_assistance.supervisor.mycelium.daemon`` logger, one record per line.
    """
    _require_linux()
    binary = _resolve_binary(options.binary)
    _warn_if_file_capabilities(binary)
    try:
        secret = await trio.to_thread.run_sync(prepare_state, options.data_dir, options.key_path, options.config_path)
    except OSError as exc:
        raise MyceliumStartError(f"cannot prepare our mycelium state in {options.data_dir}: {exc}") from exc
    our_pubkey = pubkey_from_secret(secret).hex()
    argv = [binary, *options.command_line()]
    logger.info("starting our own mycelium daemon: %s", shlex.join(argv))
    spawned_at = time.time()
    try:
        child = ChildProcess.spawn(argv, name="mycelium")
    except OSError as exc:
        raise MyceliumStartError(f"could not start {binary}: {exc}") from exc
    log = _DaemonLog(child.pid)
    ready = False
    exited_on_its_own = False
    outcome: BaseException | None = None

    async with trio.open_nursery() as nursery:

        def on_unexpected_exit() -> None:
            nonlocal exited_on_its_own
            exited_on_its_own = True
            nursery.cancel_scope.cancel()

        nursery.start_soon(child.watch, on_unexpected_exit)
        nursery.start_soon(child.pump_output, log.line)
        try:
            info = await _wait_until_ready(options, log, our_pubkey, spawned_at)
            ready = True
            logger.info("our mycelium daemon (pid %d) is ready: %s at %s", child.pid, info.address, info.api)
            yield info
        except GeneratorExit:
            raise
        except BaseException as exc:
            # Kept and re-raised after the nursery, so callers see it as-is and not wrapped in an
            # ExceptionGroup; a Cancelled that is ours (the daemon exited) is replaced below.
            outcome = exc
        finally:
            with trio.CancelScope(shield=True):
                await child.stop(options.grace_period)
                # Let the last lines (often the reason it exited) reach the log, within reason.
                with trio.move_on_after(1):
                    await child.output_done.wait()
            nursery.cancel_scope.cancel()

    assert child.returncode is not None
    logger.info("our mycelium daemon (pid %d) ended: %s", child.pid, describe_exit(child.returncode))
    if exited_on_its_own and (outcome is None or isinstance(outcome, trio.Cancelled)):
        if not ready:
            raise MyceliumStartError(_early_exit_message(options, child.returncode, log), log.tail)
        raise MyceliumExited(child.returncode, log.tail)
    if outcome is not None:
        raise outcome


def _early_exit_message(options: MyceliumOptions, returncode: int, log: _DaemonLog) -> str:
    message = f"mycelium exited ({describe_exit(returncode)}) before its API answered on {options.api_addr}"
    if log.tun_failed:
        message += (
            f"; creating the TUN device {options.tun_name!r} needs CAP_NET_ADMIN (see runbook/mycelium.md: "
            "run a system daemon, grant the capability, or run with no TUN)"
        )
    return message


async def _wait_until_ready(options: MyceliumOptions, log: _DaemonLog, our_pubkey: str, spawned_at: float) -> NodeInfo:
    limit = math.inf if options.startup_limit is None else options.startup_limit
    delay = 0.02
    last_problem = "no answer yet"
    with trio.move_on_after(limit):
        while True:
            if log.api_bind_failed:
                raise MyceliumStartError(
                    f"mycelium could not bind its HTTP API to {options.api_addr} (is the address in use?); "
                    "it would run on without an API we can check. Choose a free API address.",
                    log.tail,
                )
            info = None
            with trio.move_on_after(PROBE_DEADLINE):
                try:
                    info = await probe_rest(options.api_addr)
                except LookupError as exc:
                    last_problem = str(exc)
            if info is not None:
                _check_it_is_ours(info, options, log, our_pubkey, spawned_at)
                return info
            await trio.sleep(delay)
            delay = min(delay * 2, 0.25)
    raise MyceliumStartError(
        f"mycelium did not become ready on {options.api_addr} within {limit:g} s (last probe: {last_problem})",
        log.tail,
    )


def _check_it_is_ours(
    info: NodeInfo, options: MyceliumOptions, log: _DaemonLog, our_pubkey: str, spawned_at: float
) -> None:
    if info.pubkey != our_pubkey:
        raise MyceliumStartError(
            f"another mycelium node answers on {options.api_addr} (public key {info.pubkey}, ours is "
            f"{our_pubkey} from {options.key_path}): the address belongs to another daemon. "
            "Choose a free API address.",
            log.tail,
        )
    if info.start_time is not None and info.start_time < spawned_at - _START_TIME_SLACK:
        raise MyceliumStartError(
            f"a mycelium daemon with our key, started before ours (nodeStartTime {info.start_time}), answers "
            f"on {options.api_addr}: a leftover daemon from an earlier run? Find it with "
            f"`pgrep -af {options.key_path}`, stop it, then start again.",
            log.tail,
        )
