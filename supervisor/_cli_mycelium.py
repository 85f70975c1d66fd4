"""``hero-assistance mycelium status|run``: look for the daemon, or keep one running."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
from pathlib import Path
from typing import Any

import attrs
import trio

from .mycelium import (
    DEFAULT_API_ADDR,
    DEFAULT_JSONRPC_ADDR,
    MyceliumError,
    MyceliumOptions,
    NodeInfo,
    default_data_dir,
    default_hero_socket,
    detect,
    ensure,
)

logger = logging.getLogger("hero_assistance.supervisor.mycelium")

_OWN = {field.name: field.default for field in attrs.fields(MyceliumOptions)}


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "mycelium",
        help="find the mycelium daemon, or run one of our own",
        description="Find a running mycelium daemon, or run one of our own beside it (see runbook/mycelium.md).",
    )
    actions = parser.add_subparsers(dest="mycelium_action", metavar="ACTION", required=True)
    _add_status(actions)
    _add_run(actions)


def _add_status(actions: Any) -> None:
    status = actions.add_parser(
        "status",
        help="show the running daemon (exit 1 if none)",
        description="Look for a running mycelium daemon (REST API, JSON-RPC API, Hero socket, then the API "
        "of the daemon `mycelium run` starts) and print its node; exit 1 if none answers.",
    )
    status.add_argument(
        "--api-addr", default=DEFAULT_API_ADDR, help=f"REST API to try first (default {DEFAULT_API_ADDR})"
    )
    status.add_argument(
        "--jsonrpc-addr",
        default=DEFAULT_JSONRPC_ADDR,
        help=f"JSON-RPC API to try next (default {DEFAULT_JSONRPC_ADDR})",
    )
    status.add_argument(
        "--hero-socket",
        type=Path,
        default=None,
        help="Hero Unix socket to try next (default $HERO_SOCKET_DIR/mycelium/rpc.sock)",
    )
    status.add_argument(
        "--own-api-addr",
        default=_OWN["api_addr"],
        help=f"REST API of our own daemon, tried last; empty to skip (default {_OWN['api_addr']})",
    )
    status.add_argument("--json", action="store_true", help="print the node as one JSON object")
    status.set_defaults(func=_status)


def _add_run(actions: Any) -> None:
    run = actions.add_parser(
        "run",
        help="use the running daemon, or run our own until SIGINT/SIGTERM",
        description="Use the running mycelium daemon if there is one; otherwise run our own (restarted with "
        "backoff if it crashes) until SIGINT or SIGTERM, then stop it and exit 0. Our own daemon uses its own "
        "key, ports and TUN name, so it can run beside a system daemon.",
    )
    run.add_argument(
        "--binary", default=_OWN["binary"], help="mycelium executable, on PATH or a path (default %(default)s)"
    )
    run.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help=f"our daemon's state: key file and config (default {default_data_dir()})",
    )
    run.add_argument("--key-file", type=Path, default=None, help="node key file (default DATA_DIR/priv_key.bin)")
    run.add_argument(
        "--peer",
        dest="peers",
        action="append",
        default=[],
        metavar="ENDPOINT",
        help="static peer such as tcp://188.40.132.242:9651; repeat for more",
    )
    run.add_argument("--tcp-port", type=int, default=_OWN["tcp_port"], help="TCP peering port (default %(default)s)")
    quic = run.add_mutually_exclusive_group()
    quic.add_argument("--quic-port", type=int, default=_OWN["quic_port"], help="QUIC (UDP) port (default %(default)s)")
    quic.add_argument("--disable-quic", action="store_true", help="no QUIC peering")
    run.add_argument(
        "--peer-discovery-port",
        type=int,
        default=None,
        help="enable link-local discovery on this UDP port (default: discovery disabled)",
    )
    run.add_argument("--api-addr", default=_OWN["api_addr"], help="our daemon's REST API (default %(default)s)")
    run.add_argument(
        "--jsonrpc-addr", default=_OWN["jsonrpc_addr"], help="our daemon's JSON-RPC API (default %(default)s)"
    )
    tun = run.add_mutually_exclusive_group()
    tun.add_argument(
        "--tun-name", default=_OWN["tun_name"], help="TUN interface name, needs CAP_NET_ADMIN (default %(default)s)"
    )
    tun.add_argument("--no-tun", action="store_true", help="no TUN: the overlay address is not usable from this host")
    run.add_argument(
        "--grace-period",
        type=float,
        default=_OWN["grace_period"],
        help="seconds between SIGTERM and SIGKILL when stopping (default %(default)s)",
    )
    run.add_argument(
        "--startup-limit",
        type=float,
        default=_OWN["startup_limit"],
        help="seconds our daemon may take to become ready; 0 for no limit (default %(default)s)",
    )
    run.add_argument("--no-detect", action="store_true", help="do not look for a running daemon; always run our own")
    run.add_argument(
        "--detect-api-addr",
        default=DEFAULT_API_ADDR,
        help=f"REST API of a running daemon to look for (default {DEFAULT_API_ADDR})",
    )
    run.add_argument(
        "--detect-jsonrpc-addr",
        default=DEFAULT_JSONRPC_ADDR,
        help=f"JSON-RPC API of a running daemon to look for (default {DEFAULT_JSONRPC_ADDR})",
    )
    run.add_argument(
        "--detect-hero-socket",
        type=Path,
        default=None,
        help="Hero socket of a running daemon to look for (default $HERO_SOCKET_DIR/mycelium/rpc.sock)",
    )
    run.set_defaults(func=_run)


def _describe(info: NodeInfo, as_json: bool) -> str:
    if as_json:
        return json.dumps(
            {
                "address": str(info.address),
                "subnet": str(info.subnet),
                "pubkey": info.pubkey,
                "api": info.api,
                "api_kind": info.api_kind,
                "start_time": info.start_time,
            }
        )
    return (
        f"mycelium node {info.address}\n"
        f"  subnet  {info.subnet}\n"
        f"  pubkey  {info.pubkey}\n"
        f"  api     {info.api} ({info.api_kind})"
    )


def _status(args: argparse.Namespace) -> int:
    async def find() -> NodeInfo | None:
        hero_socket = args.hero_socket or default_hero_socket()
        info = await detect(api_addr=args.api_addr, jsonrpc_addr=args.jsonrpc_addr, hero_socket=hero_socket)
        if info is None and args.own_api_addr:
            info = await detect(api_addr=args.own_api_addr, jsonrpc_addr=None, hero_socket=None)
        return info

    info = trio.run(find)
    if info is None:
        print(
            f"no mycelium daemon answers at {args.api_addr}, {args.jsonrpc_addr}, "
            f"{args.hero_socket or default_hero_socket()} or {args.own_api_addr}",
            file=sys.stderr,
        )
        return 1
    print(_describe(info, args.json))
    return 0


def _options(args: argparse.Namespace) -> MyceliumOptions:
    options = MyceliumOptions(
        binary=args.binary,
        data_dir=args.data_dir or default_data_dir(),
        key_file=args.key_file,
        peers=args.peers,
        tcp_port=args.tcp_port,
        quic_port=None if args.disable_quic else args.quic_port,
        peer_discovery_port=args.peer_discovery_port,
        api_addr=args.api_addr,
        jsonrpc_addr=args.jsonrpc_addr,
        tun_name=None if args.no_tun else args.tun_name,
        grace_period=args.grace_period,
        startup_limit=args.startup_limit or None,
        system_api_addr=args.detect_api_addr,
        system_jsonrpc_addr=args.detect_jsonrpc_addr,
        system_hero_socket=args.detect_hero_socket or default_hero_socket(),
    )
    return options.without_detection() if args.no_detect else options


async def _run_until_signalled(options: MyceliumOptions) -> None:
    # The receiver exists before the daemon does, so a SIGTERM during start-up also stops us cleanly.
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with trio.open_nursery() as nursery:

            async def stop_on_signal() -> None:
                async for signum in signals:
                    logger.info("%s received: stopping", signal.Signals(signum).name)
                    nursery.cancel_scope.cancel()
                    return

            nursery.start_soon(stop_on_signal)
            async with ensure(options) as info:
                print(f"mycelium ready: {info.address} ({info.api})", flush=True)
                await trio.sleep_forever()


def _run(args: argparse.Namespace) -> int:
    try:
        options = _options(args)
    except ValueError as exc:
        print(f"hero-assistance mycelium run: {exc}", file=sys.stderr)
        return 2
    failure: BaseException | None = None
    try:
        trio.run(_run_until_signalled, options)
    except* MyceliumError as group:
        # Nursery layers nest the error in groups; the operator needs the error itself.
        failure = group
        while isinstance(failure, BaseExceptionGroup):
            failure = failure.exceptions[0]
    if failure is not None:
        print(f"hero-assistance mycelium run: {failure}", file=sys.stderr)
        return 1
    return 0
