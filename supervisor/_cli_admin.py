"""``hero-assistance admin``: the operator's dashboard on a loopback address.

Projects come from ``--project NAME=URL`` and from the ui's config file (the same TOML; by default
the ui's own), so on a host running ``hero-assistance ui`` the dashboard needs no flags at all.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from pathlib import Path
from typing import Any

import trio

from hero_assistance.supervisor._cli_ui import startup_errors
from hero_assistance.ui import ConfigError, UiStartupError, load_config
from hero_assistance.ui._admin import AdminConfig, AdminServer, serve_admin
from hero_assistance.ui._config import (
    ProjectEndpoint,
    default_config_file,
    is_loopback,
    parse_listen,
    parse_project_arg,
)

PROG = "hero-assistance admin"
log = logging.getLogger("hero_assistance.admin")


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "admin",
        help="the operator's dashboard: projects' health and counts, the ui's connections, invitations",
        description="Serve the operator's dashboard on a loopback address: each project's /health and project.info, "
        "a running ui's connection states, and a form to invite people (enroll + one-time sign-in link). "
        "GET /api/status gives the same as JSON.",
    )
    parser.add_argument(
        "--project", action="append", default=[], metavar="NAME=URL", help="a project server (repeatable)"
    )
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="read projects (and the ui's address) from this ui config file (default: the ui's, if it exists)",
    )
    parser.add_argument(
        "--listen", default="127.0.0.1:8090", metavar="HOST:PORT", help="loopback address (default 127.0.0.1:8090)"
    )
    parser.add_argument(
        "--ui",
        metavar="URL",
        help="a running ui to show the connection states of: http://127.0.0.1:8080 or unix:/path/app.sock "
        "(default: the config file's listen address)",
    )
    parser.add_argument(
        "--link-base-url",
        metavar="URL",
        help="where invitation links point (default: the ui's address)",
    )
    parser.set_defaults(func=run)


def config_from_args(args: argparse.Namespace) -> AdminConfig:
    ui_config = load_config(Path(args.config) if args.config else default_config_file())
    projects = dict(ui_config.projects)
    for text in args.project:
        endpoint = parse_project_arg(text)
        projects[endpoint.name] = endpoint.url
    host, _ = parse_listen(args.listen)
    if not is_loopback(host):
        raise ConfigError("the dashboard can invite anyone as admin: it listens on loopback addresses only")
    ui_url = args.ui
    if ui_url is None and ui_config.config_file is not None and ui_config.config_file.exists():
        ui_url = f"http://{ui_config.listen}"
    link_base = args.link_base_url or (ui_url if ui_url and ui_url.startswith("http") else None)
    return AdminConfig(
        projects=[ProjectEndpoint(name, url) for name, url in projects.items()],
        ui_url=ui_url,
        link_base_url=link_base,
    )


def run(args: argparse.Namespace) -> int:
    try:
        config = config_from_args(args)
    except ConfigError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    try:
        trio.run(_serve_until_signalled, config, args.listen)
    except BaseException as exc:
        fatal = startup_errors(exc, (UiStartupError,))
        if not fatal:
            raise
        for error in fatal:
            print(f"{PROG}: error: {error}", file=sys.stderr)
        return 1
    return 0


async def _serve_until_signalled(config: AdminConfig, listen: str) -> None:
    with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        async with trio.open_nursery() as nursery:
            server: AdminServer = await nursery.start(_serve_then_cancel, config, listen, nursery.cancel_scope)
            print(f"Hero Assistance operator dashboard on {server.url}", file=sys.stderr, flush=True)
            async for _ in signals:
                if server.stopping:
                    nursery.cancel_scope.cancel()
                    return
                server.stop()


async def _serve_then_cancel(
    config: AdminConfig,
    listen: str,
    done: trio.CancelScope,
    *,
    task_status: trio.TaskStatus[AdminServer] = trio.TASK_STATUS_IGNORED,
) -> None:
    await serve_admin(config, listen, task_status=task_status)
    done.cancel()
