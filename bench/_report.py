"""Timing helpers, a progress bar, and the result table (printed and written as JSON)."""

from __future__ import annotations

import json
import platform
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


def progress(items: Iterable[T], total: int, label: str) -> Iterator[T]:
    """Yield items while drawing a one-line progress bar on stderr."""
    start = time.perf_counter()
    width = 30
    last = -1.0
    for done, item in enumerate(items, 1):
        yield item
        now = time.perf_counter()
        if now - last > 0.2 or done == total:
            last = now
            filled = int(width * done / total)
            rate = done / max(now - start, 1e-9)
            eta = (total - done) / rate if rate else 0
            sys.stderr.write(
                f"\r{label:<28} [{'#' * filled}{'.' * (width - filled)}] {done:>9,}/{total:,}  eta {eta:5.0f}s"
            )
            sys.stderr.flush()
    sys.stderr.write("\n")


def percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[index]


def time_calls(fn: Callable[[], Any], repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return samples


class Report:
    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    def add(
        self,
        group: str,
        name: str,
        value: float,
        unit: str,
        *,
        baseline: float | None = None,
        baseline_name: str = "",
        target: str = "",
        ok: bool | None = None,
    ) -> None:
        row: dict[str, Any] = {"group": group, "name": name, "value": value, "unit": unit}
        if baseline is not None:
            row["baseline"] = baseline
            row["baseline_name"] = baseline_name
            row["ratio"] = value / baseline if baseline else None
        if target:
            row["target"] = target
            row["met"] = ok
        self.rows.append(row)
        self._print(row)

    def _print(self, row: dict[str, Any]) -> None:
        text = f"{row['group']:<10} {row['name']:<46} {row['value']:>12.3f} {row['unit']:<8}"
        if "baseline" in row:
            text += f" vs {row['baseline_name']} {row['baseline']:.3f} (ratio {row['ratio']:.2f})"
        if "target" in row:
            text += f"  target {row['target']}: {'met' if row['met'] else 'MISSED'}"
        print(text, flush=True)

    def markdown(self) -> str:
        """The rows with a target first (one summary table), then one Markdown table per group."""
        lines = ["### targets", "", "| group | figure | value | baseline | ratio | target |"]
        lines.append("|---|---|---:|---|---:|---|")
        lines += [f"| {row['group']} | {_cells(row)} |" for row in self.rows if "target" in row]
        lines.append("")
        for group in dict.fromkeys(row["group"] for row in self.rows):
            lines += [f"### {group}", "", "| figure | value | baseline | ratio | target |", "|---|---:|---|---:|---|"]
            lines += [f"| {_cells(row)} |" for row in self.rows if row["group"] == group]
            lines.append("")
        return "\n".join(lines)

    def write_markdown(self, path: Path, heading: str) -> None:
        """Put the tables into ``path`` between the results markers, keeping the text around them."""
        begin, end = "<!-- results:begin -->", "<!-- results:end -->"
        block = f"{begin}\n{heading}\n\n{self.markdown()}{end}"
        text = path.read_text() if path.exists() else f"{begin}\n{end}\n"
        if begin in text and end in text:
            text = text[: text.index(begin)] + block + text[text.index(end) + len(end) :]
        else:
            text += "\n" + block + "\n"
        path.write_text(text)
        print(f"wrote {path}")

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": {
                "python": platform.python_version(),
                "platform": platform.platform(),
                "cpus": __import__("os").cpu_count(),
            },
            "results": self.rows,
        }
        path.write_text(json.dumps(payload, indent=2))
        print(f"\nwrote {path}")


def _cells(row: dict[str, Any]) -> str:
    """figure | value | baseline | ratio | target, as Markdown table cells."""
    baseline = ratio = target = ""
    if "baseline" in row:
        baseline = f"{row['baseline_name']}: {_number(row['baseline'])} {row['unit']}"
        ratio = f"{row['ratio']:.2f}" if row["ratio"] is not None else ""
    if "target" in row:
        target = f"{row['target']}: {'met' if row['met'] else '**missed**'}"
    return f"{row['name']} | {_number(row['value'])} {row['unit']} | {baseline} | {ratio} | {target}"


def _number(value: float) -> str:
    """Three significant figures or more, thousands separated: 1,234 / 56.7 / 0.123."""
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}" if abs(value) >= 1 else f"{value:.3f}"


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000
