"""The ``hero-assistance`` command line.

Each subcommand lives in its own module (``_cli_<name>.py``) exposing ``add_parser(subparsers)``;
the parser it adds sets ``func`` to a callable taking the parsed namespace and returning an exit code.
This module only assembles them, so adding a command never means editing another command's code.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from hero_assistance import __version__

# Modules that contribute subcommands, in the order --help lists them.
_COMMAND_MODULES = (
    "hero_assistance.supervisor._cli_server",
    "hero_assistance.supervisor._cli_ui",
    "hero_assistance.supervisor._cli_admin",
    "hero_assistance.supervisor._cli_demo",
    "hero_assistance.supervisor._cli_run",
    "hero_assistance.supervisor._cli_status",
    "hero_assistance.supervisor._cli_user",
    "hero_assistance.supervisor._cli_backup",
    "hero_assistance.supervisor._cli_mycelium",
    "hero_assistance.supervisor._cli_service",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hero-assistance",
        description="Peer-to-peer support and ticketing over the mycelium overlay.",
    )
    parser.add_argument("--version", action="version", version=f"hero-assistance {__version__}")
    parser.add_argument(
        "--log-level",
        default="INFO",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="log verbosity on stderr (default INFO)",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue  # a command whose module is not written yet
        module.add_parser(subparsers)
    _accept_everywhere(
        parser,
        "--log-level",
        dest="log_level",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="log verbosity on stderr (default INFO)",
    )
    return parser


def _accept_everywhere(parser: argparse.ArgumentParser, flag: str, **kwargs: object) -> None:
    """Let ``flag`` also follow a subcommand (``hero-assistance server --log-level DEBUG``).

    SUPPRESS as the sub-level default keeps the top-level value unless the flag is given there.
    """
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                if flag not in sub._option_string_actions:
                    sub.add_argument(flag, default=argparse.SUPPRESS, **kwargs)
                _accept_everywhere(sub, flag, **kwargs)


def configure_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    configure_logging(args.log_level)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130
