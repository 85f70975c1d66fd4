"""Pieces several subcommands share: where a project's sockets are."""

from __future__ import annotations

import argparse
import os
from pathlib import Path


def socket_root() -> Path:
    """``$HERO_SOCKET_DIR/hero_assistance`` (``HERO_SOCKET_DIR`` defaulting to ``~/hero/var/sockets``)."""
    return Path(os.environ.get("HERO_SOCKET_DIR") or Path.home() / "hero" / "var" / "sockets") / "hero_assistance"


def default_data_dir(project: str) -> Path:
    """``$XDG_DATA_HOME/hero_assistance/NAME`` (``XDG_DATA_HOME`` defaulting to ``~/.local/share``)."""
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "hero_assistance" / project


def add_socket_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--project", required=True, metavar="NAME", help="the project whose server to talk to")
    parser.add_argument(
        "--socket-dir",
        type=Path,
        metavar="DIR",
        help="the server's socket directory (default $HERO_SOCKET_DIR/hero_assistance/NAME)",
    )


def rpc_socket(args: argparse.Namespace) -> Path:
    return Path(args.socket_dir or socket_root() / args.project) / "rpc.sock"
