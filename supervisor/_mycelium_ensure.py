"""A mycelium daemon for as long as we need one: the running system daemon, or our own, kept alive."""

from __future__ import annotations

import logging
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import trio

from ._mycelium_detect import NodeInfo, detect
from ._mycelium_errors import MyceliumExited, MyceliumStartError
from ._mycelium_options import MyceliumOptions
from ._mycelium_spawn import spawn_own

logger = logging.getLogger("hero_assistance.supervisor.mycelium")


def restart_delay(failures: int, initial: float, maximum: float) -> float:
    """Full-jitter exponential backoff: uniform in ``[0, min(maximum, initial * 2**failures)]``.

    The jitter keeps several supervisors on one host (or one supervisor's many restarts) from
    hammering in lockstep; the cap keeps a crash loop from waiting hours once the cause is fixed.
    """
    return random.uniform(0, min(maximum, initial * 2 ** min(failures, 62)))


@asynccontextmanager
async def ensure(options: MyceliumOptions | None = None) -> AsyncIterator[NodeInfo]:
    """A ready mycelium daemon for the duration of the block: the running one, else our own.

    First :func:`detect` looks at ``options.system_api_addr``, ``system_jsonrpc_addr`` and
    ``system_hero_socket``; a daemon found there is used as is — it is the system's to run, and this
    block neither stops nor restarts it. Otherwise our own daemon is started with :func:`spawn_own`.
    If that first start fails, its :class:`MyceliumStartError` (or ``UnsupportedPlatform``) is raised
    here. Once it has been ready, a crash never reaches the block: it is logged, and the daemon is
    restarted after a full-jitter exponential backoff (``restart_backoff_initial`` doubling up to
    ``restart_backoff_max``, reset after it has stayed up that long), for as long as the block runs.
    The node keeps its key, hence its address, so the yielded :class:`NodeInfo` stays true; the overlay
    is simply unreachable while the daemon restarts. Leaving the block stops our daemon.
    """
    if options is None:
        options = MyceliumOptions()
    found = await detect(
        api_addr=options.system_api_addr,
        jsonrpc_addr=options.system_jsonrpc_addr,
        hero_socket=options.system_hero_socket,
    )
    if found is not None:
        logger.info("using the running mycelium daemon at %s: %s", found.api, found.address)
        yield found
        return
    logger.info("no running mycelium daemon found; starting our own")
    outcome: BaseException | None = None
    async with trio.open_nursery() as nursery:
        try:
            info: NodeInfo = await nursery.start(_keep_own_daemon, options)
            yield info
        except GeneratorExit:
            raise
        except BaseException as exc:
            # Re-raised after the nursery so the caller sees it unwrapped (no ExceptionGroup).
            outcome = exc
        finally:
            nursery.cancel_scope.cancel()
    if outcome is not None:
        raise outcome


async def _keep_own_daemon(
    options: MyceliumOptions, *, task_status: trio.TaskStatus[NodeInfo] = trio.TASK_STATUS_IGNORED
) -> None:
    started = False
    failures = 0
    while True:
        up_since: float | None = None
        try:
            async with spawn_own(options) as info:
                up_since = trio.current_time()
                if started:
                    logger.warning("our mycelium daemon is back: %s at %s", info.address, info.api)
                else:
                    started = True
                    task_status.started(info)
                await trio.sleep_forever()
        except MyceliumExited as exc:
            logger.error("our mycelium daemon crashed: %s", exc)
        except MyceliumStartError as exc:
            if not started:
                raise
            logger.error("our mycelium daemon failed to restart: %s", exc)
        if up_since is not None and trio.current_time() - up_since >= options.restart_backoff_max:
            failures = 0  # it ran long enough: this crash does not continue a crash loop
        delay = restart_delay(failures, options.restart_backoff_initial, options.restart_backoff_max)
        failures += 1
        logger.warning("restarting our mycelium daemon in %.2f s (consecutive failure %d)", delay, failures)
        await trio.sleep(delay)
