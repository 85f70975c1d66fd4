"""``hero-assistance status``: is every configured socket answering? Non-zero exit if one is not."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import attrs
import trio

from ._cli_common import socket_root
from ._http import HttpUnavailable, request
from ._run_config import ConfigError, load_run_config
from .mycelium import detect

PROBE_LIMIT_S = 3.0  # a socket that takes longer than this to answer /health counts as down


@attrs.frozen
class Target:
    name: str
    endpoint: str  # "unix:PATH" or "HOST:PORT"
    path: str = "/health"


@attrs.frozen
class Result:
    target: Target
    up: bool
    detail: str


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "status",
        help="check the health of every configured socket",
        description="Ask every configured socket for /health and print one line each. Without --config, every "
        "project under the socket directory is checked. Exit 0 when all answer, 1 when any is down, 2 when "
        "there is nothing to check.",
    )
    parser.add_argument("--config", type=Path, metavar="FILE", help="the run --config file to check")
    parser.add_argument(
        "--socket-dir",
        type=Path,
        metavar="DIR",
        help="where project socket folders live (default $HERO_SOCKET_DIR/hero_assistance)",
    )
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.set_defaults(func=_main)


def targets_from(args: argparse.Namespace) -> tuple[list[Target], bool]:
    """The sockets to check, and whether mycelium must be checked too."""
    if args.config:
        config = load_run_config(args.config)
        found = []
        for server in config.servers:
            folder = config.socket_dir(server)
            found += [
                Target(f"{server.project} rpc", f"unix:{folder / 'rpc.sock'}"),
                Target(f"{server.project} events", f"unix:{folder / 'events.sock'}"),
            ]
        if config.ui is not None:
            found.append(Target("ui", config.ui.listen, "/"))
        if config.admin is not None:
            found.append(Target("admin", config.admin.listen, "/"))
        return found, config.mycelium.mode == "ensure"
    root = args.socket_dir or socket_root()
    found = []
    for folder in sorted(p for p in root.glob("*") if p.is_dir()):
        for kind in ("rpc", "events"):
            if (folder / f"{kind}.sock").exists():
                found.append(Target(f"{folder.name} {kind}", f"unix:{folder / f'{kind}.sock'}"))
    return found, False


async def probe(target: Target) -> Result:
    with trio.move_on_after(PROBE_LIMIT_S):
        try:
            response = await request(target.endpoint, "GET", target.path)
        except HttpUnavailable as exc:
            return Result(target, False, str(exc))
        if response.status != 200:
            return Result(target, False, f"HTTP {response.status}")
        if target.path == "/health":
            try:
                body: Any = response.json()
            except ValueError:
                return Result(target, False, "not a health answer")
            if body.get("status") != "ok":
                return Result(target, False, f"status {body.get('status')!r}")
            return Result(target, True, f"{body.get('project', '')} {body.get('version', '')}".strip())
        return Result(target, True, "HTTP 200")
    return Result(target, False, f"no answer within {PROBE_LIMIT_S:g} s")


async def check(targets: list[Target], with_mycelium: bool) -> list[Result]:
    results: list[Result | None] = [None] * len(targets)

    async def one(i: int) -> None:
        results[i] = await probe(targets[i])

    async with trio.open_nursery() as nursery:
        for i in range(len(targets)):
            nursery.start_soon(one, i)
    done = [r for r in results if r is not None]
    if with_mycelium:
        node = await detect()
        target = Target("mycelium", "api")
        done.append(Result(target, node is not None, str(node.address) if node else "no daemon answers"))
    return done


def _main(args: argparse.Namespace) -> int:
    try:
        targets, with_mycelium = targets_from(args)
    except ConfigError as exc:
        print(f"hero-assistance status: {exc}", file=sys.stderr)
        return 2
    if not targets and not with_mycelium:
        print("hero-assistance status: nothing to check (no sockets found)", file=sys.stderr)
        return 2
    results = trio.run(check, targets, with_mycelium)
    if args.json:
        print(
            json.dumps(
                [
                    {"name": r.target.name, "endpoint": r.target.endpoint, "up": r.up, "detail": r.detail}
                    for r in results
                ],
                indent=2,
            )
        )
    else:
        for r in results:
            print(f"{'up  ' if r.up else 'DOWN'}  {r.target.name:<24} {r.target.endpoint:<60} {r.detail}")
    return 0 if all(r.up for r in results) else 1
