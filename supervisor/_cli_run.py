"""``hero-assistance run --config FILE``: run a whole declared host in one nursery."""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

import trio

from ._run import run_all
from ._run_config import ConfigError, load_run_config
from .mycelium import MyceliumStartError, UnsupportedPlatform


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "run",
        help="run the servers, ui, admin and mycelium a TOML file declares",
        description="Run everything a TOML file declares — mycelium (ensure or off), project servers, the ui "
        "and the admin — in one process tree: each child restarted with backoff if it dies, all stopped "
        "cleanly on SIGTERM or SIGINT (exit 0). See runbook/run.md for the file's keys.",
    )
    parser.add_argument("--config", required=True, type=Path, metavar="FILE", help="the TOML file to run")
    parser.add_argument("--check", action="store_true", help="validate the file, print what would run, exit")
    parser.set_defaults(func=_main)


async def _run_until_signalled(config_path: Path) -> None:
    config = load_run_config(config_path)
    with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        async with trio.open_nursery() as nursery:
            await nursery.start(run_all, config)
            async for _ in signals:
                nursery.cancel_scope.cancel()
                break


def _main(args: argparse.Namespace) -> int:
    try:
        config = load_run_config(args.config)
        if args.check:
            from ._run import components

            for component in components(config):
                print(f"{component.name}: {' '.join(component.argv[1:])}")
            return 0
        trio.run(_run_until_signalled, args.config)
    except ConfigError as exc:
        print(f"hero-assistance run: {exc}", file=sys.stderr)
        return 2
    except (MyceliumStartError, UnsupportedPlatform) as exc:
        print(f"hero-assistance run: mycelium: {exc}", file=sys.stderr)
        return 1
    return 0
