"""The measuring window shared by the request/response load generators.

All workers connect first; then a warm-up (connections, caches and the server's code paths settle),
then the window in which completions are counted and their latencies kept. A request is counted by
its completion time, so throughput is exactly "answers received per second inside the window".

Over the same window the CPU time of both sides is read: the generator's own (well under one core
means it had time to spare, so it was not the bottleneck) and the server's (near one core means the
server was the bottleneck; its CPU per request says what a request costs it, whatever the load side
did).
"""

from __future__ import annotations

import time
from typing import Any

from ._procs import process_cpu_s
from ._report import percentile


class MeasureWindow:
    def __init__(self, warmup_s: float, duration_s: float, server_pid: int | None = None) -> None:
        self.warmup_s = warmup_s
        self.duration_s = duration_s
        self.server_pid = server_pid
        self.start = self.end = float("inf")
        self.samples: list[float] = []
        self.errors = 0
        self._marks: list[tuple[float, float, float]] = []  # (wall, our CPU, server CPU) at start and end

    def open(self) -> None:
        """Start the clock: call once every worker is connected."""
        now = time.perf_counter()
        self.start = now + self.warmup_s
        self.end = self.start + self.duration_s

    @property
    def running(self) -> bool:
        return time.perf_counter() < self.end

    def _mark(self) -> None:
        server = process_cpu_s(self.server_pid) if self.server_pid else 0.0
        self._marks.append((time.perf_counter(), time.process_time(), server))

    def record(self, started: float, finished: float) -> None:
        if self.start <= finished <= self.end:
            if not self._marks:
                self._mark()
            self.samples.append(finished - started)
        elif finished > self.end and len(self._marks) == 1:
            self._mark()

    def result(self) -> dict[str, Any]:
        if len(self._marks) == 1:
            self._mark()
        (wall0, ours0, server0), (wall1, ours1, server1) = self._marks or [(0.0, 0.0, 0.0)] * 2
        wall = max(wall1 - wall0, 1e-9)
        requests = len(self.samples)
        result = {
            "requests": requests,
            "seconds": self.duration_s,
            "rps": requests / self.duration_s,
            "p50_ms": percentile(self.samples, 50) * 1000,
            "p99_ms": percentile(self.samples, 99) * 1000,
            "errors": self.errors,
            "client_cpu": (ours1 - ours0) / wall,
        }
        if self.server_pid:
            result["server_cpu"] = (server1 - server0) / wall
            result["server_us_per_request"] = (server1 - server0) / max(requests, 1) * 1e6
        return result
