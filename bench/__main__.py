"""``python -m bench [--only GROUP ...] [--quick]``: run the benchmarks, print a table, write JSON."""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import subprocess
import sys
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from . import browser, fanout, memory, merge, rpc, storage
from ._procs import raise_fd_limit
from ._report import Report


def _storage(report: Report, workdir: Path, quick: bool) -> None:
    scale = 10 if quick else 1
    storage.run(report, workdir, tickets=100_000 // scale, comments=1_000_000 // scale, repeat=50)


def _memory(report: Report, workdir: Path, quick: bool) -> None:
    scale = 10 if quick else 1
    memory.run(report, workdir, tickets=100_000 // scale, comments=1_000_000 // scale)


#: Run in this order: memory reads the database the storage group generates (same workdir layout).
GROUPS: dict[str, Callable[[Report, Path, bool], None]] = {
    "storage": _storage,
    "rpc": lambda report, workdir, quick: rpc.run(report, workdir, quick=quick),
    "fanout": lambda report, workdir, quick: fanout.run(report, workdir, quick=quick),
    "merge": lambda report, workdir, quick: merge.run(report, workdir, quick=quick),
    "memory": _memory,
    "browser": lambda report, workdir, quick: browser.run(report, workdir, quick=quick),
}


def _commit() -> str:
    """The checked-out commit, marked when files in the tree differ from it."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True)
    except (OSError, subprocess.CalledProcessError):
        return "(unknown)"
    return head.stdout.strip() + (" (with uncommitted changes)" if dirty.stdout.strip() else "")


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--only", nargs="*", choices=list(GROUPS), help="run only these groups")
    parser.add_argument("--quick", action="store_true", help="a tenth of the data and shorter runs, for a fast look")
    parser.add_argument("--workdir", type=Path, help="keep generated data here and reuse it next time")
    parser.add_argument("--out", type=Path, default=Path("bench/results/latest.json"), help="where to write JSON")
    parser.add_argument(
        "--markdown", type=Path, metavar="FILE", help="also write the tables into FILE (e.g. bench/RESULTS.md)"
    )
    args = parser.parse_args()
    started = datetime.now(UTC)
    raise_fd_limit()  # 1,000 subscribers, 20 servers: the defaults of some systems are 1,024
    report = Report()
    interrupted = False
    try:
        with tempfile.TemporaryDirectory(prefix="hero-bench-") as tmp:
            workdir = args.workdir or Path(tmp)
            for name in [g for g in GROUPS if not args.only or g in args.only]:
                GROUPS[name](report, workdir, args.quick)
    except* KeyboardInterrupt:
        interrupted = True  # every nursery has stopped and reaped its child processes by now
    if interrupted:
        print("\ninterrupted: the results so far are not written", file=sys.stderr)
        return 130
    report.write(args.out)
    if args.markdown:
        command = shlex.join(["python", "-m", "bench", *sys.argv[1:]])
        load = "/".join(f"{x:.1f}" for x in os.getloadavg())
        heading = (
            f"Measured {started:%Y-%m-%d %H:%M} UTC at commit {_commit()} with `{command}` on {os.cpu_count()} "
            f"CPUs, Python {platform.python_version()}, {platform.platform()} (load average at the end: {load})."
        )
        report.write_markdown(args.markdown, heading)
    return 0


raise SystemExit(main())
