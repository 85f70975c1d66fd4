"""The measuring window shared by the request/response load generators.

All workers connect first; then a warm-up (connections, caches and the server's code paths settle),
then the window in which completions are counted and their latencies kept. A request is counted by
its completion time, so throughput is exactly "answers received per second inside the window".
The generator's own CPU time over the window is reported too: it shows how far the load side is
from being the bottleneck (well under 1.0 means it had time to spare).
"""

from __future__ import annotations

import time
from typing import Any

from ._report import percentile


class MeasureWindow:
    def __init__(self, warmup_s: float, duration_s: float) -> None:
        self.warmup_s = warmup_s
        self.duration_s = duration_s
        self.start = self.end = float("inf")
        self.samples: list[float] = []
        self.errors = 0
        self._cpu_start = 0.0
        self._cpu_end: float | None = None

    def open(self) -> None:
        """Start the clock: call once every worker is connected."""
        now = time.perf_counter()
        self.start = now + self.warmup_s
        self.end = self.start + self.duration_s

    @property
    def running(self) -> bool:
        return time.perf_counter() < self.end

    def record(self, started: float, finished: float) -> None:
        if self.start <= finished <= self.end:
            if not self._cpu_start:
                self._cpu_start = time.process_time()
            self.samples.append(finished - started)
        elif finished > self.end and self._cpu_end is None:
            self._cpu_end = time.process_time()

    def result(self) -> dict[str, Any]:
        cpu = (self._cpu_end or time.process_time()) - self._cpu_start
        return {
            "requests": len(self.samples),
            "seconds": self.duration_s,
            "rps": len(self.samples) / self.duration_s,
            "p50_ms": percentile(self.samples, 50) * 1000,
            "p99_ms": percentile(self.samples, 99) * 1000,
            "errors": self.errors,
            "client_cpu": cpu / self.duration_s,
        }
