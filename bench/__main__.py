"""``python -m bench [--only GROUP ...] [--quick]``: run the benchmarks, print a table, write JSON."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from . import storage
from ._report import Report

GROUPS = {"storage": storage.run}


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--only", nargs="*", choices=sorted(GROUPS), help="run only these groups")
    parser.add_argument("--quick", action="store_true", help="a tenth of the data, for a fast look")
    parser.add_argument("--workdir", type=Path, help="keep generated data here and reuse it next time")
    parser.add_argument("--out", type=Path, default=Path("bench/results/latest.json"), help="where to write JSON")
    args = parser.parse_args()
    scale = 10 if args.quick else 1
    report = Report()
    with tempfile.TemporaryDirectory(prefix="hero-bench-") as tmp:
        workdir = args.workdir or Path(tmp)
        for name in args.only or sorted(GROUPS):
            if name == "storage":
                storage.run(report, workdir, tickets=100_000 // scale, comments=1_000_000 // scale, repeat=50)
    report.write(args.out)
    return 0


raise SystemExit(main())
