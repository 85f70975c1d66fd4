"""RPC over ``rpc.sock``: ``ticket.get``, ``ticket.list``, ``comment.create`` at 1 and 16 keep-alive clients.

Each figure sits beside the same load against two baselines started in the same run:
(a) a bare hypercorn app answering a constant (a real ``ticket.get`` answer, so the bytes are alike) on
a Unix socket set up exactly like ours, and (b) a raw Trio socket server answering with the very bytes
(a) sends: the limit of this machine and of the load generator. The load generator is a separate
process on the other core (``_load_rpc``); its CPU use is reported to show it is not the bottleneck.

Then the SDK: 16 concurrent ``client.call("ticket.get")`` over one ``Client`` against the 16 raw
connections of the same run.
"""

from __future__ import annotations

import random
import statistics
import sys
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

import attrs
import trio

from . import _procs, _seed
from ._http import body_of, rpc_request
from ._procs import (
    LOAD_CPUS,
    SERVER_CPUS,
    BenchError,
    Child,
    ForeignLoad,
    python_module,
    run_json,
    start_child,
    wait_http_ready,
)
from ._report import Report

GROUP = "rpc"
CONCURRENCY = (1, 16)
VARIANTS = 256  # distinct pre-built requests per method, cycled by every connection


@attrs.frozen
class Timing:
    warmup_s: float
    duration_s: float
    #: Every load runs this many times, interleaved with the baselines; the median run is reported, so a
    #: burst of background work on the machine cannot favour one side.
    rounds: int

    @classmethod
    def for_run(cls, quick: bool) -> Timing:
        return cls(0.3, 1.0, 1) if quick else cls(0.5, 2.0, 3)


def _workload(rng: random.Random) -> dict[str, list[dict[str, Any]]]:
    """Params per method: random tickets, so the server cannot answer every request from one hot page."""
    tickets = [rng.randint(1, _seed.TICKETS) for _ in range(VARIANTS)]
    return {
        "ticket.get": [{"id": t} for t in tickets],
        # The first page, as every client opening its inbox asks for it (50 tickets, ~25 KB).
        "ticket.list": [{}],
        "comment.create": [
            {"ticket_id": t, "body": f"Thanks, I restarted the printer ({n})."} for n, t in enumerate(tickets)
        ],
    }


def _requests(method: str, params: list[dict[str, Any]]) -> list[str]:
    return [rpc_request(method, p, user=_seed.AGENT, ident=n + 1).decode("latin-1") for n, p in enumerate(params)]


@attrs.frozen
class Target:
    """A server under load: where to send requests and which process's CPU is its own."""

    socket: Path
    child: Child


async def _run_load(target: Target, module: str, job: dict[str, Any]) -> dict[str, Any]:
    with ForeignLoad(SERVER_CPUS, target.child.pid) as foreign:
        result = await run_json(module, [], job, cpus=LOAD_CPUS)
    result["foreign_cpu"] = foreign.share()
    if result["errors"]:
        raise BenchError(f"{result['errors']} bad answers from {target.child.name} (see the first one above)")
    return result


async def _load(target: Target, requests: list[str], connections: int, timing: Timing) -> dict[str, Any]:
    job = {
        "socket": str(target.socket),
        "connections": connections,
        "warmup_s": timing.warmup_s,
        "duration_s": timing.duration_s,
        "requests": requests,
        "server_pid": target.child.pid,
    }
    return await _run_load(target, "bench._load_rpc", job)


async def _sdk_load(target: Target, params: list[dict[str, Any]], concurrency: int, timing: Timing) -> dict[str, Any]:
    job = {
        "url": f"unix:{target.socket}",
        "user": _seed.AGENT,
        "method": "ticket.get",
        "params": params,
        "concurrency": concurrency,
        "warmup_s": timing.warmup_s,
        "duration_s": timing.duration_s,
        "server_pid": target.child.pid,
    }
    return await _run_load(target, "bench._load_sdk", job)


def _sdk_available() -> bool:
    try:
        from hero_assistance.transport import connect  # noqa: F401
    except ImportError:
        return False
    return True


async def _start_servers(nursery: trio.Nursery, workdir: Path, template: Path, tmp: Path) -> dict[str, Target]:
    """Ours and both baselines, all on the server CPU (an idle one costs the others nothing)."""
    # Ours: the real server command, on a private copy of the seeded project.
    data_dir = _seed.fresh_copy(template, workdir / "runs" / "rpc")
    ours = await _procs.start_project_server(
        nursery,
        project=_seed.PROJECT,
        data_dir=data_dir,
        socket_dir=tmp / "ours",
        log=tmp / "ours.log",
        cpus=SERVER_CPUS,
    )
    # (a) bare hypercorn, answering a real ticket.get answer as its constant.
    body = await _seed.sample_answer(template, "ticket.get", id=_seed.TICKETS // 2)
    (tmp / "body.json").write_bytes(body)
    hypercorn = tmp / "hypercorn.sock"
    hyper_child = await start_child(
        nursery,
        python_module("bench._baselines", "hypercorn", "--socket", str(hypercorn), "--body", str(tmp / "body.json")),
        name="bare hypercorn",
        log=tmp / "hypercorn.log",
        cpus=SERVER_CPUS,
    )
    await wait_http_ready(hyper_child, hypercorn)
    # (b) raw Trio sockets, answering with exactly the bytes hypercorn sends.
    response = await _procs.http_exchange(hypercorn, rpc_request("ticket.get", {"id": 1}, user=_seed.AGENT))
    if body_of(response) != body:
        raise BenchError("the bare hypercorn app did not answer its constant")
    (tmp / "response.http").write_bytes(response)
    raw = tmp / "raw.sock"
    raw_child = await start_child(
        nursery,
        python_module("bench._baselines", "raw", "--socket", str(raw), "--response", str(tmp / "response.http")),
        name="raw trio server",
        log=tmp / "raw.log",
        cpus=SERVER_CPUS,
    )
    await wait_http_ready(raw_child, raw)
    return {
        "ours": Target(tmp / "ours" / "rpc.sock", ours),
        "hypercorn": Target(hypercorn, hyper_child),
        "raw": Target(raw, raw_child),
    }


def _median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Per figure, the median over the rounds; for the other work on the server core, the worst round."""
    result = {key: statistics.median(run[key] for run in runs) for key in runs[0] if key != "pool"}
    result["foreign_cpu"] = max(run["foreign_cpu"] for run in runs)
    return result


async def _measure(workdir: Path, template: Path, tmp: Path, timing: Timing) -> dict[Any, dict[str, Any]]:
    workload = _workload(random.Random(7))
    requests = {method: _requests(method, params) for method, params in workload.items()}
    runs: dict[Any, list[dict[str, Any]]] = defaultdict(list)
    sdk = _sdk_available()
    async with trio.open_nursery() as nursery:
        targets = await _start_servers(nursery, workdir, template, tmp)
        for n in range(timing.rounds):
            for connections in CONCURRENCY:
                plan: list[tuple[Any, Target, list[str]]] = [
                    (("ours", "ticket.get", connections), targets["ours"], requests["ticket.get"]),
                    (("hypercorn", connections), targets["hypercorn"], requests["ticket.get"]),
                    (("raw", connections), targets["raw"], requests["ticket.get"]),
                    (("ours", "ticket.list", connections), targets["ours"], requests["ticket.list"]),
                    (("ours", "comment.create", connections), targets["ours"], requests["comment.create"]),
                ]
                for key, target, reqs in plan:
                    result = await _load(target, reqs, connections, timing)
                    runs[key].append(result)
                    _progress(n, key, result)
                if connections == 16 and sdk:
                    result = await _sdk_load(targets["ours"], workload["ticket.get"], connections, timing)
                    runs["sdk"].append(result)
                    _progress(n, "sdk", result)
        nursery.cancel_scope.cancel()
    return {key: _median_run(results) for key, results in runs.items()}


def _progress(round_: int, key: Any, result: dict[str, Any]) -> None:
    label = " ".join(map(str, key)) if isinstance(key, tuple) else key
    print(
        f"  rpc round {round_ + 1}: {label:<32} {result['rps']:9.0f} req/s"
        f"  (other work on the server core: {result['foreign_cpu']:.0%})",
        file=sys.stderr,
        flush=True,
    )


def _rows(
    report: Report,
    name: str,
    result: dict[str, Any],
    base: dict[str, Any] | None,
    base_name: str,
    min_ratio: float | None = None,
) -> None:
    """req/s, p50, p99 and the server's CPU per request of one load, each beside the baseline's figure.

    ``min_ratio`` sets a target on the req/s ratio. CPU per request is the figure least moved by other
    work on the machine: a server sharing its core loses req/s, not CPU per request.
    """
    for key, label, unit in (
        ("rps", "", "req/s"),
        ("p50_ms", ", p50", "ms"),
        ("p99_ms", ", p99", "ms"),
        ("server_us_per_request", ", server CPU/request", "us"),
    ):
        baseline = base[key] if base is not None else None
        target, ok = "", None
        if key == "rps" and min_ratio is not None and baseline:
            target, ok = f">= {min_ratio} x {base_name}", result[key] / baseline >= min_ratio
        report.add(
            GROUP, name + label, result[key], unit, baseline=baseline, baseline_name=base_name, target=target, ok=ok
        )


def _report(report: Report, results: dict[Any, dict[str, Any]]) -> None:
    for connections in CONCURRENCY:
        hyper, raw = results[("hypercorn", connections)], results[("raw", connections)]
        clients = f"{connections} client{'s' if connections > 1 else ''}"
        for method in ("ticket.get", "ticket.list", "comment.create"):
            ours = results[("ours", method, connections)]
            target = 0.5 if method == "ticket.get" and connections == 16 else None
            _rows(report, f"{method}, {clients}", ours, hyper, "bare hypercorn", target)
        _rows(report, f"bare hypercorn, {clients}", hyper, raw, "raw trio")
        _rows(report, f"raw trio server (machine limit), {clients}", raw, None, "")
        # The load side is never the bottleneck: it has time to spare against the fastest server there is,
        # and our server's core is the busy one while the load generator idles.
        ours = results[("ours", "ticket.get", connections)]
        report.add(GROUP, f"load generator CPU against raw trio, {clients}", raw["client_cpu"] * 100, "% core")
        report.add(
            GROUP, f"load generator CPU against ours (ticket.get), {clients}", ours["client_cpu"] * 100, "% core"
        )
        report.add(GROUP, f"our server's CPU (ticket.get), {clients}", ours["server_cpu"] * 100, "% core")
    raw16 = results[("ours", "ticket.get", 16)]
    sdk = results.get("sdk")
    if sdk is None:
        print("rpc: the client SDK is not importable; skipped its measurement")
    else:
        report.add(
            GROUP,
            "SDK: 16 client.call over one Client (ticket.get)",
            sdk["rps"],
            "req/s",
            baseline=raw16["rps"],
            baseline_name="16 raw connections",
            target=">= 0.8 x 16 raw connections",
            ok=sdk["rps"] / raw16["rps"] >= 0.8,
        )
        report.add(GROUP, "SDK: p99", sdk["p99_ms"], "ms", baseline=raw16["p99_ms"], baseline_name="16 raw connections")
        report.add(GROUP, "SDK: client CPU", sdk["client_cpu"] * 100, "% core")
    foreign = [r["foreign_cpu"] for r in results.values()]
    report.add(GROUP, "other work on the server core (worst run)", max(foreign) * 100, "% core")


def run(report: Report, workdir: Path, *, quick: bool) -> None:
    template = _seed.seeded_template(workdir)
    # Unix socket paths are limited to ~108 bytes: sockets live in a short temporary directory.
    with tempfile.TemporaryDirectory(prefix="hb-rpc-") as tmp:
        results = trio.run(_measure, workdir, template, Path(tmp), Timing.for_run(quick))
    _report(report, results)
