"""Event fan-out: one event to 10, 100 and 1,000 WebSocket subscribers on ``events.sock``.

Our server is triggered with ``comment.create`` over ``rpc.sock`` and its hub fans the event out; the
baseline is a bare trio-websocket server broadcasting a frame of the same bytes (one of the events our
server has just sent) when its trigger socket gets a request. The subscribers and the trigger live
in one separate process on the other core (``_load_ws``), which times the trigger and every receipt.
"""

from __future__ import annotations

import json
import random
import sqlite3
import tempfile
from pathlib import Path
from typing import Any

import attrs
import trio

from hero_assistance.core import StoredEvent

from . import _procs, _seed
from ._http import rpc_request
from ._procs import LOAD_CPUS, SERVER_CPUS, ForeignLoad, python_module, run_json, start_child, wait_http_ready
from ._report import Report

GROUP = "fanout"
SUBSCRIBERS = (10, 100, 1000)
TARGET_P99_MS = 100.0


@attrs.frozen
class Plan:
    events: int  # latency samples per step: events x subscribers
    throughput_s: float

    @classmethod
    def for_run(cls, quick: bool) -> Plan:
        return cls(20, 1.0) if quick else cls(100, 3.0)

    def steps(self) -> list[dict[str, Any]]:
        return [{"subscribers": n, "events": self.events, "throughput_s": self.throughput_s} for n in SUBSCRIBERS]


def _triggers() -> list[str]:
    rng = random.Random(11)
    return [
        rpc_request(
            "comment.create",
            {"ticket_id": rng.randint(1, _seed.TICKETS), "body": "We shipped a fix for the sync error, please retry."},
            user=_seed.AGENT,
        ).decode("latin-1")
        for _ in range(64)
    ]


async def _subscribe(child: _procs.Child, socket_dir: Path, plan: Plan) -> tuple[dict[str, Any], float]:
    job = {
        "events_socket": str(socket_dir / "events.sock"),
        "rpc_socket": str(socket_dir / "rpc.sock"),
        "user": _seed.AGENT,
        "triggers": _triggers(),
        "server_pid": child.pid,
        "steps": plan.steps(),
    }
    with ForeignLoad(SERVER_CPUS, child.pid) as foreign:
        result = await run_json("bench._load_ws", [], job, cpus=LOAD_CPUS)
    return {step["subscribers"]: step for step in result["steps"]}, foreign.share()


def last_event_frame(data_dir: Path) -> str:
    """The newest event in a project's database, encoded exactly as the hub sends it."""
    conn = sqlite3.connect(data_dir / _seed.DATABASE)
    conn.row_factory = sqlite3.Row
    try:
        row = conn.execute("SELECT * FROM events ORDER BY seq DESC LIMIT 1").fetchone()
    finally:
        conn.close()
    return json.dumps(StoredEvent.from_row(row).wire(_seed.PROJECT), separators=(",", ":"))


async def _measure(workdir: Path, template: Path, tmp: Path, plan: Plan) -> dict[str, Any]:
    results: dict[str, Any] = {}
    data_dir = _seed.fresh_copy(template, workdir / "runs" / "fanout")
    async with trio.open_nursery() as nursery:
        server = await _procs.start_project_server(
            nursery,
            project=_seed.PROJECT,
            data_dir=data_dir,
            socket_dir=tmp / "ours",
            log=tmp / "ours.log",
            cpus=SERVER_CPUS,
        )
        results["ours"] = await _subscribe(server, tmp / "ours", plan)
        nursery.cancel_scope.cancel()

    frame = tmp / "frame.json"
    frame.write_text(last_event_frame(data_dir))
    sockets = tmp / "broadcast"
    sockets.mkdir()
    async with trio.open_nursery() as nursery:
        child = await start_child(
            nursery,
            python_module("bench._baselines", "broadcast", "--socket-dir", str(sockets), "--frame", str(frame)),
            name="trio-websocket broadcast",
            log=tmp / "broadcast.log",
            cpus=SERVER_CPUS,
        )
        await wait_http_ready(child, sockets / "rpc.sock")
        results["baseline"] = await _subscribe(child, sockets, plan)
        nursery.cancel_scope.cancel()
    return results


def _report(report: Report, results: dict[str, Any]) -> None:
    (ours, ours_foreign), (base, base_foreign) = results["ours"], results["baseline"]
    name = "trio-websocket broadcast"
    for n in SUBSCRIBERS:
        mine, theirs = ours[n], base[n]
        report.add(
            GROUP,
            f"1 event to {n:,} subscribers, p50",
            mine["p50_ms"],
            "ms",
            baseline=theirs["p50_ms"],
            baseline_name=name,
        )
        target = n == 1000
        report.add(
            GROUP,
            f"1 event to {n:,} subscribers, p99",
            mine["p99_ms"],
            "ms",
            baseline=theirs["p99_ms"],
            baseline_name=name,
            target=f"< {TARGET_P99_MS:.0f} ms" if target else "",
            ok=mine["p99_ms"] < TARGET_P99_MS if target else None,
        )
        report.add(
            GROUP,
            f"deliveries/s, {n:,} subscribers",
            mine["deliveries_per_s"],
            "msg/s",
            baseline=theirs["deliveries_per_s"],
            baseline_name=name,
        )
        report.add(
            GROUP,
            f"server CPU per delivery, {n:,} subscribers",
            mine["server_cpu_per_delivery_us"],
            "us",
            baseline=theirs["server_cpu_per_delivery_us"],
            baseline_name=name,
        )
    report.add(GROUP, "other work on the server core (worst run)", max(ours_foreign, base_foreign) * 100, "% core")


def run(report: Report, workdir: Path, *, quick: bool) -> None:
    template = _seed.seeded_template(workdir)
    with tempfile.TemporaryDirectory(prefix="hb-fanout-") as tmp:
        results = trio.run(_measure, workdir, template, Path(tmp), Plan.for_run(quick))
    _report(report, results)
