"""``hero-assistance demo``: two seeded help desks and the app, on this machine, in seconds.

Everything runs in one nursery in this process: two project servers (``acme``, ``globex``) on Unix
sockets, seeded on first start with customers, agents, and tickets in every state; the ui on
``--listen``; then one-click sign-in links (fresh magic links issued by the local operator) for an
agent and a customer who are members of both desks, so one click signs a browser into both.
Ctrl-C (or SIGTERM) stops everything gracefully and exits 0.

Data lives in a temporary directory deleted on exit, unless ``--data-dir`` is given: then it is
kept, and reused without seeding again. Sockets always go to a short temporary directory (a Unix
socket path must fit in 108 bytes).
"""

from __future__ import annotations

import argparse
import logging
import shutil
import signal
import sys
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import attrs
import trio

from hero_assistance.core import DatabaseTooNew
from hero_assistance.supervisor._cli_ui import startup_errors
from hero_assistance.transport import Client, ProjectServer, ServerConfig, ServerStartupError, serve_project
from hero_assistance.ui import UiConfig, UiServer, UiStartupError, serve_ui
from hero_assistance.ui._demo import DEMO_AGENT, DEMO_CUSTOMER, DESKS, Desk, seed

PROG = "hero-assistance demo"
SEEDED_MARK = ".demo-seeded"
DEFAULT_LISTEN = "127.0.0.1:8080"
log = logging.getLogger("hero_assistance.demo")


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="two seeded help desks (acme, globex) and the app on http://127.0.0.1:8080 (or a free port)",
        description="Start two project servers with a realistic seeded dataset and the ui, print the address and "
        "one-click sign-in links, and run until Ctrl-C. Nothing else is needed (no mycelium, no mail server).",
    )
    parser.add_argument(
        "--listen",
        metavar="HOST:PORT",
        help=f"the ui's address (default: {DEFAULT_LISTEN}, or a free port on 127.0.0.1 when that one is taken)",
    )
    parser.add_argument(
        "--data-dir",
        metavar="DIR",
        help="keep the demo's data here and reuse it next time (default: a temporary directory, deleted on exit)",
    )
    parser.set_defaults(func=run)


class _MagicLinkPrinter(logging.Handler):
    """Self-requested sign-in links (there is no mail server in the demo) as one friendly line each."""

    def emit(self, record: logging.LogRecord) -> None:
        args = record.args if isinstance(record.args, tuple) else ()
        if len(args) >= 5:
            project, email, _expires, _token, link = args[:5]
            print(f"  sign-in link for {email} ({project}): {link}", flush=True)


def _quiet_logging(level: str) -> None:
    if level != "INFO":
        return  # the operator asked for something specific: leave it
    for name in ("hero_assistance", "hypercorn"):
        logging.getLogger(name).setLevel(logging.WARNING)
    links = logging.getLogger("hero_assistance.magic_link")
    links.addHandler(_MagicLinkPrinter())
    links.propagate = False


def run(args: argparse.Namespace) -> int:
    _quiet_logging(getattr(args, "log_level", "INFO"))
    keep = args.data_dir is not None
    data_root = Path(args.data_dir).resolve() if keep else Path(tempfile.mkdtemp(prefix="hero-demo-"))
    socket_root = Path(tempfile.mkdtemp(prefix="hd-", dir="/tmp"))
    try:
        trio.run(_demo, args.listen, data_root, socket_root, keep)
    except BaseException as exc:
        fatal = startup_errors(exc, (UiStartupError, ServerStartupError, DatabaseTooNew))
        if not fatal:
            raise
        for error in fatal:
            print(f"{PROG}: error: {error}", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(socket_root, ignore_errors=True)
        if not keep:
            shutil.rmtree(data_root, ignore_errors=True)
    return 0


def _rpc_url(socket_root: Path, desk: Desk) -> str:
    return f"unix:{socket_root / desk.name / 'rpc.sock'}"


async def _demo(listen: str | None, data_root: Path, socket_root: Path, keep: bool) -> None:
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with trio.open_nursery() as outer:
            running: list[UiServer | ProjectServer] = []
            outer.start_soon(_stop_on_signals, signals, running, outer.cancel_scope)
            async with trio.open_nursery() as services:
                ui = await _start_ui(services, listen, socket_root, data_root)
                running.append(ui)
                for desk in DESKS:
                    config = ServerConfig(
                        project=desk.name,
                        title=desk.title,
                        data_dir=data_root / desk.name,
                        socket_dir=socket_root / desk.name,
                        link_base_url=f"{ui.url}/?project={desk.name}",
                        grace_period_s=2.0,
                    )
                    running.append(await services.start(serve_project, config))
                marker = data_root / SEEDED_MARK
                if not marker.exists():
                    for desk in DESKS:
                        await seed(_rpc_url(socket_root, desk), desk)
                    marker.write_text("seeded\n")
                await _print_welcome(ui, socket_root, data_root, keep)
            outer.cancel_scope.cancel()  # everything has stopped: stop listening for signals


async def _start_ui(services: trio.Nursery, listen: str | None, socket_root: Path, data_root: Path) -> UiServer:
    """The ui on ``listen``; without one, on 8080 or, if that is taken, on a free port (the welcome says which)."""
    projects = {desk.name: _rpc_url(socket_root, desk) for desk in DESKS}
    config = UiConfig(projects=projects, listen=listen or DEFAULT_LISTEN, config_file=data_root / "ui.toml")
    try:
        ui: UiServer = await services.start(serve_ui, config)
    except UiStartupError as exc:
        if listen is not None:
            raise
        print(f"{exc}: using a free port instead", file=sys.stderr, flush=True)
        ui = await services.start(serve_ui, attrs.evolve(config, listen="127.0.0.1:0"))
    return ui


async def _stop_on_signals(
    signals: AsyncIterator[int], running: list[UiServer | ProjectServer], everything: trio.CancelScope
) -> None:
    """The first signal stops every service gracefully; a second one stops everything at once."""
    stopping = False
    async for signum in signals:
        if stopping:
            everything.cancel()
            return
        stopping = True
        print(f"\n{signal.Signals(signum).name}: stopping…", file=sys.stderr, flush=True)
        for service in running:
            service.stop()


async def _sign_in_link(base: str, socket_root: Path, email: str) -> str:
    params = []
    for desk in DESKS:
        async with Client(_rpc_url(socket_root, desk)) as operator:
            issued = await operator.call("auth.issue_magic_link", email=email)
        params.append(f"project={quote(desk.name)}&token={quote(issued['token'])}")
    return f"{base}/?{'&'.join(params)}"


async def _print_welcome(ui: UiServer, socket_root: Path, data_root: Path, keep: bool) -> None:
    agent = await _sign_in_link(ui.url, socket_root, DEMO_AGENT.email)
    customer = await _sign_in_link(ui.url, socket_root, DEMO_CUSTOMER.email)
    projects = " + ".join(desk.name for desk in DESKS)
    print(
        f"""
Hero Assistance demo: two help desks ({", ".join(f"{d.name} = {d.title}" for d in DESKS)}) and the app.

  {ui.url}

One-click sign-in (each link works once, for 15 minutes):

  Agent     {DEMO_AGENT.name} <{DEMO_AGENT.email}>  ({projects})
            {agent}

  Customer  {DEMO_CUSTOMER.name} <{DEMO_CUSTOMER.email}>  ({projects})
            {customer}

Open the customer's link in a private window to watch both sides live.
Links people ask for on the sign-in page appear below (there is no mail server).
Data: {data_root}{"" if keep else " (deleted on exit; --data-dir DIR keeps it)"}
Press Ctrl-C to stop.
""",
        flush=True,
    )
