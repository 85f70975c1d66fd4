"""``hero-assistance backup``: a consistent copy of a project while its server keeps running.

The database is copied with SQLite's online backup API (a consistent snapshot, even mid-write, in
WAL mode without stopping the server); attachments are content-addressed, immutable files, so
copying the ones the destination lacks is enough — a file is written once under its hash and never
changed. Files are copied after the database snapshot, so every attachment the snapshot refers to
is already on disk by then.
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import sys
from pathlib import Path

from hero_assistance.core import check_project_name
from hero_assistance.core._project import DATABASE_FILE

from ._cli_common import default_data_dir


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "backup",
        help="copy a project's database and attachments, online",
        description="Copy a project's database (SQLite online backup: consistent, the server keeps running) and "
        "its attachment files into a directory. Restore: stop the server, put the directory's contents in place "
        "of the data directory, start the server (see runbook/README.md).",
    )
    parser.add_argument("--project", required=True, metavar="NAME", help="the project to back up")
    parser.add_argument(
        "--data-dir",
        type=Path,
        metavar="DIR",
        help="the project's data directory (default $XDG_DATA_HOME/hero_assistance/NAME)",
    )
    parser.add_argument("--to", required=True, type=Path, metavar="DIR", help="where the copy goes (created)")
    parser.set_defaults(func=_main)


def backup(data_dir: Path, destination: Path) -> tuple[int, int]:
    """Copy the database and attachments; returns (database bytes, attachment files copied)."""
    source_db = data_dir / DATABASE_FILE
    if not source_db.exists():
        raise FileNotFoundError(f"no database at {source_db}")
    destination.mkdir(parents=True, exist_ok=True)
    target_db = destination / DATABASE_FILE
    partial = target_db.with_suffix(".partial")
    source = sqlite3.connect(f"file:{source_db}?mode=ro", uri=True)
    target = sqlite3.connect(partial)
    try:
        source.backup(target)
        check = target.execute("PRAGMA integrity_check").fetchone()[0]
        if check != "ok":
            raise RuntimeError(f"the copy failed its integrity check: {check}")
    finally:
        target.close()
        source.close()
    partial.replace(target_db)  # the previous backup stays whole until the new one is complete
    copied = 0
    attachments = data_dir / "attachments"
    if attachments.exists():
        for path in attachments.rglob("*"):
            if path.is_file() and not path.name.startswith("."):
                out = destination / "attachments" / path.relative_to(attachments)
                if not out.exists():
                    out.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(path, out)
                    copied += 1
    return target_db.stat().st_size, copied


def _main(args: argparse.Namespace) -> int:
    try:
        check_project_name(args.project)
        size, copied = backup(args.data_dir or default_data_dir(args.project), args.to)
    except (OSError, ValueError, RuntimeError, sqlite3.Error) as exc:
        print(f"hero-assistance backup: {exc}", file=sys.stderr)
        return 1
    print(f"backed up {args.project}: database {size / 1e6:.1f} MB, {copied} new attachment files → {args.to}")
    return 0
