"""``hero-assistance server``: run one project server until SIGTERM / SIGINT.

Exit codes, for hero_proc and systemd: 0 after a signal-initiated stop; 1 for a fatal start-up
problem (socket held by a live server, port taken, database newer than this program, …) with one
line on stderr and no traceback; 2 for a bad command line (bad project name, bad bind spec, …).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from functools import partial
from typing import Any

import trio

from hero_assistance.core import DatabaseTooNew
from hero_assistance.transport._http_server import ConnectionLimits
from hero_assistance.transport._listen import ServerStartupError
from hero_assistance.transport._server import ProjectServer, serve_project
from hero_assistance.transport._server_config import ServerConfig, parse_mycelium_bind
from hero_assistance.transport._smtp import parse_smtp_url

log = logging.getLogger("hero_assistance.server")

MYCELIUM_BIND_ENV = "HERO_ASSISTANCE_MYCELIUM_BIND"
PROG = "hero-assistance server"

DEV_BANNER = """\
################################################################################
#  DEV MODE: permission checks are OFF. Anyone who can connect can do anything. #
#  Never run --auth-mode dev with real data or on a reachable address.          #
################################################################################"""


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "server",
        help="run one project server (rpc.sock, events.sock, optional overlay listener)",
        description="Run one project's server: JSON-RPC on rpc.sock, event streams on events.sock, "
        "and with --mycelium-bind the same over TCP on the mycelium overlay. Stops cleanly on SIGTERM or SIGINT.",
    )
    parser.add_argument("--project", required=True, metavar="NAME", help="project name: lowercase letters, digits, - _")
    parser.add_argument(
        "--data-dir",
        metavar="DIR",
        help="where the SQLite file and attachments live (default $XDG_DATA_HOME/hero_assistance/NAME)",
    )
    parser.add_argument(
        "--socket-dir",
        metavar="DIR",
        help="where rpc.sock and events.sock are created (default $HERO_SOCKET_DIR/hero_assistance/NAME, "
        "HERO_SOCKET_DIR defaulting to ~/hero/var/sockets)",
    )
    parser.add_argument(
        "--mycelium-bind",
        metavar="SPEC",
        help=f"TCP overlay listener: auto:PORT ([::]:PORT, peers outside 400::/7 anonymous) or [IPV6]:PORT "
        f"(that address only, every peer a device); default ${MYCELIUM_BIND_ENV}, else no TCP listener",
    )
    parser.add_argument(
        "--auth-mode",
        choices=["proxy", "dev"],
        default="proxy",
        help="proxy: identities enforced (default); dev: every permission check passes — never with real data",
    )
    parser.add_argument(
        "--signup",
        choices=["invite", "open"],
        default="invite",
        help="invite: only enrolled people can sign in (default); open: a sign-in link for an unknown email "
        "creates that customer when used",
    )
    parser.add_argument(
        "--socket-group",
        metavar="GROUP",
        help="make the sockets mode 0660 owned by GROUP (default: 0600, the server's user only)",
    )
    parser.add_argument("--title", help="the project's display title (default: its name)")
    mail = parser.add_argument_group("magic links (without --smtp-url they are written to the log)")
    mail.add_argument(
        "--smtp-url",
        metavar="URL",
        help="send magic links by mail: smtp://[user:pass@]host[:port], smtp+starttls://… or smtps://…",
    )
    mail.add_argument("--smtp-from", metavar="ADDR", help="sender address of the mails (needed with --smtp-url)")
    mail.add_argument(
        "--link-base-url",
        metavar="URL",
        help="sign-in page the link points at; the token is appended as ?token=… (default: the bare token)",
    )
    advanced = parser.add_argument_group("advanced")
    advanced.add_argument(
        "--event-retention",
        type=int,
        default=100_000,
        metavar="N",
        help="stored events kept for replay; older 'since' values get resync_required (default 100000)",
    )
    advanced.add_argument(
        "--event-buffer",
        type=int,
        default=1024,
        metavar="N",
        help="events queued per subscriber before a slow one is disconnected (default 1024)",
    )
    advanced.add_argument(
        "--heartbeat",
        type=float,
        default=15.0,
        metavar="SECONDS",
        help="interval of WebSocket pings and SSE ': ping' lines (default 15)",
    )
    advanced.add_argument(
        "--grace-period",
        type=float,
        default=5.0,
        metavar="SECONDS",
        help="how long requests in flight may take to finish after SIGTERM (default 5)",
    )
    limits = ConnectionLimits()
    advanced.add_argument(
        "--max-connections-per-peer",
        type=int,
        default=limits.per_peer,
        metavar="N",
        help=f"open connections one overlay peer /64 may hold (default {limits.per_peer})",
    )
    advanced.add_argument(
        "--max-connections",
        type=int,
        default=limits.per_listener,
        metavar="N",
        help=f"open connections per listener; more are closed at once (default {limits.per_listener})",
    )
    advanced.add_argument(
        "--head-timeout",
        type=float,
        default=limits.head_deadline_s,
        metavar="SECONDS",
        help=f"a request head must arrive whole within this long (default {limits.head_deadline_s:g})",
    )
    advanced.add_argument(
        "--keep-alive",
        type=float,
        default=limits.keep_alive_s,
        metavar="SECONDS",
        help=f"an idle keep-alive connection is closed after this long (default {limits.keep_alive_s:g})",
    )
    parser.set_defaults(func=run)


def config_from_args(args: argparse.Namespace) -> ServerConfig:
    """The ``ServerConfig`` the flags describe; ``ValueError`` with an operator-facing message if bad."""
    bind = args.mycelium_bind if args.mycelium_bind is not None else os.environ.get(MYCELIUM_BIND_ENV) or None
    if args.smtp_from and not args.smtp_url:
        raise ValueError("--smtp-from needs --smtp-url")
    if args.heartbeat <= 0 or args.grace_period < 0:
        raise ValueError("--heartbeat must be positive and --grace-period not negative")
    paths = {name: getattr(args, name) for name in ("data_dir", "socket_dir") if getattr(args, name)}
    return ServerConfig(
        project=args.project,
        **paths,
        overlay=parse_mycelium_bind(bind) if bind else None,
        auth_mode=args.auth_mode,
        signup=args.signup,
        title=args.title,
        socket_group=args.socket_group,
        smtp=parse_smtp_url(args.smtp_url, args.smtp_from or "") if args.smtp_url else None,
        link_base_url=args.link_base_url,
        event_retention=args.event_retention,
        event_buffer=args.event_buffer,
        heartbeat_s=args.heartbeat,
        grace_period_s=args.grace_period,
        connection_limits=ConnectionLimits(
            per_peer=args.max_connections_per_peer,
            per_listener=args.max_connections,
            head_deadline_s=args.head_timeout,
            keep_alive_s=args.keep_alive,
        ),
    )


def run(args: argparse.Namespace) -> int:
    try:
        config = config_from_args(args)
    except ValueError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    if config.auth_mode == "dev":
        print(DEV_BANNER, file=sys.stderr, flush=True)
    try:
        trio.run(serve_until_signalled, config)
    except BaseException as exc:
        fatal = _startup_errors(exc)
        if not fatal:
            raise
        for error in fatal:
            print(f"{PROG}: error: {error}", file=sys.stderr)
        return 1
    return 0


def _startup_errors(exc: BaseException) -> list[BaseException]:
    """The start-up errors ``exc`` consists of (it may be grouped), or [] if it holds anything else."""
    if isinstance(exc, BaseExceptionGroup):
        found = [_startup_errors(inner) for inner in exc.exceptions]
        return [e for errors in found for e in errors] if all(found) else []
    return [exc] if isinstance(exc, (ServerStartupError, DatabaseTooNew)) else []


async def serve_until_signalled(config: ServerConfig) -> None:
    """Serve until SIGTERM or SIGINT (graceful stop); a second signal stops at once."""
    with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        async with trio.open_nursery() as nursery:
            server: ProjectServer = await nursery.start(partial(_serve_then_cancel, config, nursery.cancel_scope))
            async for signum in signals:
                if server.stopping:
                    log.warning("second %s: stopping at once", signal.Signals(signum).name)
                    nursery.cancel_scope.cancel()
                    return
                log.info("%s received", signal.Signals(signum).name)
                server.stop()


async def _serve_then_cancel(
    config: ServerConfig,
    done: trio.CancelScope,
    *,
    task_status: trio.TaskStatus[ProjectServer] = trio.TASK_STATUS_IGNORED,
) -> None:
    await serve_project(config, task_status=task_status)
    done.cancel()  # the server has stopped: stop waiting for signals
