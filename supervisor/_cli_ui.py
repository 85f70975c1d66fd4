"""``hero-assistance ui``: the browser app and its gateway to one or more project servers.

Exit codes: 0 after SIGTERM / SIGINT; 1 when the ui cannot start (port taken, app socket held by a
running ui); 2 for a bad command line or config file.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from pathlib import Path
from typing import Any

import trio

from hero_assistance.ui import ConfigError, UiConfig, UiServer, UiStartupError, load_config, serve_ui
from hero_assistance.ui._config import (
    default_config_file,
    default_socket_path,
    is_loopback,
    parse_listen,
    parse_project_arg,
)

PROG = "hero-assistance ui"
log = logging.getLogger("hero_assistance.ui")


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "ui",
        help="the browser app: one inbox over many project servers",
        description="Serve the browser app on a loopback address (and the Unix socket app.sock), merging the "
        "projects given here and in the config file into one inbox. Projects added or removed in the app are "
        "written back to the config file.",
    )
    parser.add_argument(
        "--project",
        action="append",
        default=[],
        metavar="NAME=URL",
        help="a project server: unix:/path/rpc.sock or http://[OVERLAY-ADDRESS]:PORT (repeatable; "
        "adds to the config file's [projects] for this run)",
    )
    parser.add_argument("--listen", metavar="HOST:PORT", help="the browser address (default 127.0.0.1:8080)")
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="TOML config file (default $XDG_CONFIG_HOME/hero_assistance/ui.toml); created on the first change",
    )
    parser.add_argument(
        "--socket",
        metavar="PATH",
        help="the app's Unix socket (default $HERO_SOCKET_DIR/hero_assistance/ui/app.sock)",
    )
    parser.add_argument("--no-socket", action="store_true", help="do not create the Unix socket")
    parser.add_argument(
        "--gateway",
        action="store_true",
        help="hosted gateway mode: browsers may not change the project list, overlay (TCP) projects are refused "
        "(every browser would act as this machine); needed to listen on a non-loopback address",
    )
    parser.add_argument(
        "--origin",
        action="append",
        default=[],
        metavar="URL",
        help="an extra origin browsers reach the ui by, e.g. https://help.example.com behind a reverse proxy "
        "(repeatable)",
    )
    parser.set_defaults(func=run)


def config_from_args(args: argparse.Namespace) -> UiConfig:
    """The ``UiConfig`` of the flags and the config file; ``ConfigError`` with an operator-facing message."""
    config = load_config(Path(args.config) if args.config else default_config_file())
    for text in args.project:
        endpoint = parse_project_arg(text)
        config.projects[endpoint.name] = endpoint.url
    if args.listen:
        parse_listen(args.listen)
        config.listen = args.listen
    if args.no_socket:
        config.socket_path = None
    elif args.socket:
        config.socket_path = Path(args.socket)
    elif config.socket_path is None:
        config.socket_path = default_socket_path()
    config.origins += [o.rstrip("/") for o in args.origin]
    config.gateway = config.gateway or args.gateway
    host, _ = parse_listen(config.listen)
    if not is_loopback(host) and not config.gateway:
        raise ConfigError(
            f"listening on {config.listen} would let anyone who reaches it act as this machine's overlay identity; "
            "use a loopback address, or --gateway for a shared gateway"
        )
    if config.gateway:
        overlay = [name for name, url in config.projects.items() if not url.startswith("unix:")]
        if overlay:
            raise ConfigError(f"--gateway serves Unix-socket projects only; refusing {', '.join(overlay)}")
    return config


def run(args: argparse.Namespace) -> int:
    try:
        config = config_from_args(args)
    except ConfigError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    try:
        trio.run(serve_until_signalled, config)
    except BaseException as exc:
        fatal = startup_errors(exc, (UiStartupError,))
        if not fatal:
            raise
        for error in fatal:
            print(f"{PROG}: error: {error}", file=sys.stderr)
        return 1
    return 0


def startup_errors(exc: BaseException, kinds: tuple[type[BaseException], ...]) -> list[BaseException]:
    """The start-up errors ``exc`` consists of (nurseries group them), or [] if it holds anything else."""
    if isinstance(exc, BaseExceptionGroup):
        found = [startup_errors(inner, kinds) for inner in exc.exceptions]
        return [e for errors in found for e in errors] if all(found) else []
    return [exc] if isinstance(exc, kinds) else []


async def serve_until_signalled(config: UiConfig) -> None:
    """Serve until SIGTERM or SIGINT (graceful stop); a second signal stops at once."""
    with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        async with trio.open_nursery() as nursery:
            ui: UiServer = await nursery.start(_serve_then_cancel, config, nursery.cancel_scope)
            print(f"Hero Assistance on {ui.url}", file=sys.stderr, flush=True)
            async for signum in signals:
                if ui.stopping:
                    nursery.cancel_scope.cancel()
                    return
                log.info("%s received: stopping", signal.Signals(signum).name)
                ui.stop()


async def _serve_then_cancel(
    config: UiConfig, done: trio.CancelScope, *, task_status: trio.TaskStatus[UiServer] = trio.TASK_STATUS_IGNORED
) -> None:
    await serve_ui(config, task_status=task_status)
    done.cancel()  # the ui has stopped: stop waiting for signals
