"""``hero-assistance run``: everything one host declares, in one nursery, each restarted if it dies.

Each project server, the ui and the admin run as child processes of ours (so one crash, one leak or
one ``kill -9`` takes down only that child); each child is forked with the death signal armed, so
none outlives us even if we are killed. The mycelium daemon, when asked for, is ensured in-process
by :func:`~hero_assistance.supervisor.mycelium.ensure`, which already restarts its own daemon.
A child that exits on its own is restarted after a full-jitter exponential backoff; leaving the
nursery (SIGTERM, SIGINT) stops every child with SIGTERM, then SIGKILL after a grace period.
"""

from __future__ import annotations

import logging
import random
import sys
from collections.abc import Callable
from contextlib import AsyncExitStack
from functools import partial

import attrs
import trio

from ._child_process import ChildProcess
from ._run_config import RunConfig
from .mycelium import ensure

log = logging.getLogger("hero_assistance.supervisor.run")


@attrs.frozen
class Component:
    """One supervised child: its name in the logs and its command line."""

    name: str
    argv: list[str]


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "hero_assistance", *args]


def components(config: RunConfig) -> list[Component]:
    """The children ``config`` declares, as command lines of our own CLI."""
    declared: list[Component] = []
    for server in config.servers:
        argv = _cli(
            "server",
            "--project", server.project,
            "--data-dir", str(config.data_dir(server)),
            "--socket-dir", str(config.socket_dir(server)),
            "--auth-mode", server.auth_mode or config.defaults.auth_mode,
        )  # fmt: skip
        for flag, value in (
            ("--title", server.title),
            ("--mycelium-bind", server.mycelium_bind),
            ("--socket-group", server.socket_group),
            ("--smtp-url", server.smtp_url),
            ("--smtp-from", server.smtp_from),
            ("--link-base-url", server.link_base_url),
        ):
            if value:
                argv += [flag, value]
        declared.append(Component(f"server:{server.project}", argv))
    projects = [f"{name}={url}" for name, url in config.ui_projects().items()]
    if config.ui is not None:
        argv = _cli("ui", "--listen", config.ui.listen)
        for project in projects:
            argv += ["--project", project]
        if config.ui.gateway:
            argv.append("--gateway")
        if config.ui.config:
            argv += ["--config", str(config.ui.config)]
        declared.append(Component("ui", argv))
    if config.admin is not None:
        argv = _cli("admin", "--listen", config.admin.listen)
        for project in projects:
            argv += ["--project", project]
        declared.append(Component("admin", argv))
    return declared


def _relay(name: str, line: str) -> None:
    # The child already stamps its lines; pass them through, labelled, rather than log them twice.
    print(f"[{name}] {line}", file=sys.stderr, flush=True)


@attrs.define
class Backoff:
    """Full-jitter exponential backoff: a random delay in [0, min(max, initial * 2**attempt)]."""

    initial: float
    maximum: float
    rng: Callable[[float, float], float] = random.uniform
    attempt: int = 0

    def next_delay(self) -> float:
        ceiling = min(self.maximum, self.initial * 2**self.attempt)
        self.attempt += 1
        return self.rng(0, ceiling)

    def reset(self) -> None:
        self.attempt = 0


async def supervise(
    component: Component, config: RunConfig, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
) -> None:
    """Run ``component`` until cancelled, restarting it whenever it exits."""
    policy = config.restart
    backoff = Backoff(policy.initial_s, policy.max_s)
    task_status.started()
    while True:
        started = trio.current_time()
        child = ChildProcess.spawn(component.argv, name=component.name)
        log.info("started %s (pid %d)", component.name, child.pid)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(child.pump_output, partial(_relay, component.name))
            nursery.start_soon(child.watch, lambda: None)
            try:
                await child.exited.wait()
            finally:
                # Inside the nursery: watch() (shielded) only returns once the child is gone, so the
                # child must be told to stop before the nursery waits for watch().
                await child.stop(policy.stop_grace_s)
        if trio.current_time() - started >= policy.stable_after_s:
            backoff.reset()
        delay = backoff.next_delay()
        log.warning("%s exited with code %s; restarting in %.1f s", component.name, child.returncode, delay)
        await trio.sleep(delay)


async def run_all(config: RunConfig, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
    """Ensure mycelium if declared, then supervise every child until cancelled."""
    async with AsyncExitStack() as stack:
        if config.mycelium.mode == "ensure":
            node = await stack.enter_async_context(ensure(config.mycelium.options()))
            log.info("mycelium ready: node %s (subnet %s)", node.address, node.subnet)
        async with trio.open_nursery() as nursery:
            for component in components(config):
                await nursery.start(supervise, component, config)
            log.info("running %d components", len(components(config)))
            task_status.started()
