"""``MultiProjectClient`` merge overhead: 20 project servers replaying events as fast as they can.

Each of 20 real servers (``hero-assistance server`` processes, all on the server core) holds the same
few thousand stored ``comment.created`` events; the consumer (``_load_merge``, on the other core)
reads them all from ``since=0``, once through one ``MultiProjectClient`` and once by reading each
server's stream directly with ``client.events()`` (one after the other, and all at once), alternating
over a few rounds. The overhead per
event is the difference in the consumer's CPU time per event: CPU rather than wall time, because the
servers, sharing one core, may well be slower than the consumer, and their speed is not what the
merge costs.
"""

from __future__ import annotations

import statistics
import tempfile
from pathlib import Path
from typing import Any

import attrs
import trio

from . import _procs, _seed
from ._procs import LOAD_CPUS, SERVER_CPUS, BenchError, Child, ForeignLoad, run_json
from ._report import Report

GROUP = "merge"
PROJECTS = 20
TARGET_US = 50.0


@attrs.frozen
class Plan:
    #: Stored events per project. Below the MultiProjectClient's per-project queue (1,024): with 20
    #: servers replaying faster than one consumer reads, a longer backlog fills that queue and the
    #: client drops and resumes the stream (its backpressure), and we would time reconnects, not merging.
    events: int
    rounds: int

    @classmethod
    def for_run(cls, quick: bool) -> Plan:
        return cls(500, 1) if quick else cls(1000, 5)


async def _start_servers(nursery: trio.Nursery, template: Path, workdir: Path, tmp: Path) -> list[Child]:
    children: list[Child] = []

    async def start(n: int) -> None:
        # Started on any core (20 interpreters starting up on one core would take a while), then pinned.
        child = await _procs.start_project_server(
            nursery,
            project=_seed.PROJECT,
            data_dir=_seed.fresh_copy(template, workdir / "runs" / f"merge-{n}"),
            socket_dir=tmp / f"p{n}",
            log=tmp / f"p{n}.log",
            cpus=None,
        )
        _procs.pin(child.pid, SERVER_CPUS)
        children.append(child)

    async with trio.open_nursery() as starting:
        for n in range(PROJECTS):
            starting.start_soon(start, n)
    return children


async def _measure(workdir: Path, template: Path, tmp: Path, plan: Plan) -> dict[str, Any]:
    async with trio.open_nursery() as nursery:
        await _start_servers(nursery, template, workdir, tmp)
        job = {
            "urls": [f"unix:{tmp / f'p{n}' / 'rpc.sock'}" for n in range(PROJECTS)],
            "user": _seed.AGENT,
            "events": plan.events,
            "runs": ["direct", "concurrent", "merged"] * plan.rounds,
        }
        with ForeignLoad(LOAD_CPUS, None) as foreign:
            result = await run_json("bench._load_merge", [], job, cpus=LOAD_CPUS)
        nursery.cancel_scope.cancel()
    expected = PROJECTS * plan.events
    for run in result["runs"]:
        if run["events"] != expected:
            raise BenchError(f"{run['mode']} read {run['events']} events, not {expected}")
        if run.get("reconnects"):
            raise BenchError(f"a merged run reconnected {run['reconnects']} times: it measured reconnects")
    result["foreign"] = foreign.share(exclude_s=sum(run["cpu_s"] for run in result["runs"]))
    result["events"] = expected
    return result


def _report(report: Report, result: dict[str, Any]) -> None:
    events: int = result["events"]

    def median(mode: str, key: str) -> float:
        seconds: float = statistics.median(r[key] for r in result["runs"] if r["mode"] == mode)
        return seconds / events * 1e6

    merged = median("merged", "cpu_s")
    for mode, label in (("direct", "one stream at a time"), ("concurrent", f"{PROJECTS} streams at once")):
        direct = median(mode, "cpu_s")
        report.add(
            GROUP,
            f"merge overhead per event vs {label}",
            merged - direct,
            "us",
            target=f"< {TARGET_US:.0f} us/event",
            ok=merged - direct < TARGET_US,
        )
    report.add(
        GROUP,
        "consumer CPU per event, merged",
        merged,
        "us",
        baseline=median("direct", "cpu_s"),
        baseline_name="direct",
    )
    report.add(
        GROUP,
        "events/s, merged",
        1e6 / median("merged", "wall_s"),
        "ev/s",
        baseline=1e6 / median("direct", "wall_s"),
        baseline_name="direct",
    )
    report.add(GROUP, "other work on the consumer core", result["foreign"] * 100, "% core")


def run(report: Report, workdir: Path, *, quick: bool) -> None:
    plan = Plan.for_run(quick)
    template = _seed.events_template(workdir, plan.events)
    with tempfile.TemporaryDirectory(prefix="hb-merge-") as tmp:
        result = trio.run(_measure, workdir, template, Path(tmp), plan)
    _report(report, result)
