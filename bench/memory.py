"""Server memory: RSS idle, with 1,000 WebSocket subscribers, and serving the 1M-comment database.

RSS is ``VmRSS`` from ``/proc/PID/status`` of the ``hero-assistance server`` process. Baselines from
the same run: a bare hypercorn app idle, and the bare trio-websocket broadcast server holding the
same 1,000 subscribers. The large database is the storage group's (``WORKDIR/storage``, generated
here with the same generator if that group has not run): the server opens it, answers a handful of
list, search and read queries, and its RSS is read after them.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import trio

from hero_assistance.core import Project, ProjectConfig

from . import _procs, _seed
from ._http import rpc_request, status_of
from ._procs import LOAD_CPUS, SERVER_CPUS, BenchError, Child, python_module, run_json, start_child, wait_http_ready
from ._report import Report
from .fanout import last_event_frame
from .storage import generate

GROUP = "memory"
SUBSCRIBERS = 1000
TARGET_MB = 200.0
SETTLE_S = 1.0  # after start-up, before "idle" is read: imports done, first requests answered


def ensure_storage_database(workdir: Path, tickets: int, comments: int) -> Path:
    """The storage group's database (``WORKDIR/storage``), generated here if that group has not run."""
    data_dir = workdir / "storage"
    config = ProjectConfig(name=_seed.PROJECT, data_dir=data_dir)
    project = Project(config)
    try:
        if project.storage.scalar("SELECT count(*) FROM tickets") != tickets:
            project.close()
            for stale in data_dir.glob(f"{_seed.DATABASE}*"):
                stale.unlink()
            project = Project(config)
            generate(project, tickets, comments)
    finally:
        project.close()
    return data_dir


async def _hold_subscribers(child: Child, socket_dir: Path) -> float:
    """Connect 1,000 subscribers, deliver a few events to all of them; the server's RSS then."""
    job = {
        "events_socket": str(socket_dir / "events.sock"),
        "rpc_socket": str(socket_dir / "rpc.sock"),
        "user": _seed.AGENT,
        "triggers": [
            rpc_request(
                "comment.create", {"ticket_id": 1, "body": "Memory check: is this reaching everyone?"}, user=_seed.AGENT
            ).decode("latin-1")
        ],
        "server_pid": child.pid,
        "steps": [{"subscribers": SUBSCRIBERS, "events": 5}],
    }
    result = await run_json("bench._load_ws", [], job, cpus=LOAD_CPUS)
    return float(result["steps"][0]["server_rss_mb"])


async def _queries(socket: Path) -> None:
    """A handful of the queries a busy project answers: lists, a deep read, searches."""
    calls: list[tuple[str, dict[str, Any]]] = [
        ("ticket.list", {}),
        ("ticket.list", {"status": "pending"}),
        ("ticket.get", {"id": 1}),
        ("comment.list", {"ticket_id": 1}),
        ("search.query", {"q": "printer"}),
        ("search.query", {"q": "toner refund"}),
    ]
    for _ in range(5):
        for method, params in calls:
            response = await _procs.http_exchange(socket, rpc_request(method, params, user=_seed.AGENT))
            if status_of(response) != 200 or b'"result"' not in response:
                raise BenchError(f"{method} on the large database failed: {response[:300]!r}")


async def _measure(workdir: Path, template: Path, storage_dir: Path, tmp: Path) -> dict[str, float]:
    rss: dict[str, float] = {}
    data_dir = _seed.fresh_copy(template, workdir / "runs" / "memory")
    async with trio.open_nursery() as nursery:
        server = await _procs.start_project_server(
            nursery,
            project=_seed.PROJECT,
            data_dir=data_dir,
            socket_dir=tmp / "ours",
            log=tmp / "ours.log",
            cpus=SERVER_CPUS,
        )
        await trio.sleep(SETTLE_S)
        rss["idle"] = server.rss_mb()
        rss["subscribers"] = await _hold_subscribers(server, tmp / "ours")
        nursery.cancel_scope.cancel()

    async with trio.open_nursery() as nursery:
        (tmp / "body.json").write_bytes(await _seed.sample_answer(template, "ticket.get", id=1))
        socket = tmp / "hypercorn.sock"
        child = await start_child(
            nursery,
            python_module("bench._baselines", "hypercorn", "--socket", str(socket), "--body", str(tmp / "body.json")),
            name="bare hypercorn",
            log=tmp / "hypercorn.log",
            cpus=SERVER_CPUS,
        )
        await wait_http_ready(child, socket)
        await trio.sleep(SETTLE_S)
        rss["hypercorn_idle"] = child.rss_mb()
        nursery.cancel_scope.cancel()

    (tmp / "frame.json").write_text(last_event_frame(data_dir))
    sockets = tmp / "broadcast"
    sockets.mkdir()
    async with trio.open_nursery() as nursery:
        child = await start_child(
            nursery,
            python_module(
                "bench._baselines", "broadcast", "--socket-dir", str(sockets), "--frame", str(tmp / "frame.json")
            ),
            name="trio-websocket broadcast",
            log=tmp / "broadcast.log",
            cpus=SERVER_CPUS,
        )
        await wait_http_ready(child, sockets / "rpc.sock")
        rss["broadcast_subscribers"] = await _hold_subscribers(child, sockets)
        nursery.cancel_scope.cancel()

    async with trio.open_nursery() as nursery:
        server = await _procs.start_project_server(
            nursery,
            project=_seed.PROJECT,
            data_dir=storage_dir,
            socket_dir=tmp / "large",
            log=tmp / "large.log",
            cpus=SERVER_CPUS,
        )
        await _queries(tmp / "large" / "rpc.sock")
        rss["large"] = server.rss_mb()
        nursery.cancel_scope.cancel()
    return rss


def run(report: Report, workdir: Path, *, tickets: int, comments: int) -> None:
    template = _seed.seeded_template(workdir)
    storage_dir = ensure_storage_database(workdir, tickets, comments)
    with tempfile.TemporaryDirectory(prefix="hb-memory-") as tmp:
        rss = trio.run(_measure, workdir, template, storage_dir, Path(tmp))
    report.add(
        GROUP, "server RSS idle", rss["idle"], "MB", baseline=rss["hypercorn_idle"], baseline_name="bare hypercorn"
    )
    report.add(
        GROUP,
        f"server RSS with {SUBSCRIBERS:,} subscribers",
        rss["subscribers"],
        "MB",
        baseline=rss["broadcast_subscribers"],
        baseline_name="trio-websocket broadcast",
        target=f"< {TARGET_MB:.0f} MB",
        ok=rss["subscribers"] < TARGET_MB,
    )
    report.add(GROUP, "per subscriber", (rss["subscribers"] - rss["idle"]) * 1024 / SUBSCRIBERS, "KB")
    report.add(
        GROUP,
        f"server RSS after queries on {comments:,} comments",
        rss["large"],
        "MB",
        baseline=rss["idle"],
        baseline_name="idle (seeded project)",
    )
