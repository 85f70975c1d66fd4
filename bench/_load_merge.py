"""Consumer process: the same stored events read through ``MultiProjectClient`` and read directly.

``python -m bench._load_merge`` reads its job as JSON on stdin::

    {"urls": ["unix:.../rpc.sock", ...], "user": EMAIL, "events": N, "runs": ["direct", "merged", ...]}

Every server holds ``N`` stored events and replays them from ``since=0`` as fast as it can.

- ``direct``: for each server in turn, ``client.events(since=0)`` read until its ``N`` events are in.
- ``concurrent``: the same, all servers at once, one task per stream (no merged channel): events
  arrive as they do in ``merged``, so the consumer batches its work alike and only the merge differs.
- ``merged``: one ``MultiProjectClient`` with every server registered at ``since=0``, its merged
  channel read until all ``len(urls) x N`` events are in.

Both read the same events from the same servers. Per run: wall time and this process's CPU time (the
consumer's cost, whatever the servers' speed), and the MultiProjectClient's reconnect and too-slow
counts (they must be zero, or the run measured reconnects).
"""

from __future__ import annotations

import time
from typing import Any

import trio

from hero_assistance.transport import MultiProjectClient, connect

from ._procs import load_generator_main


async def _read_stream(url: str, user: str, events: int) -> int:
    count = 0
    async with connect(url, as_user=user) as client, client.events(since=0) as stream:
        async for event in stream:
            if "seq" in event and event.get("type") != "subscribed":
                count += 1
                if count == events:
                    break
    return count


async def _direct(urls: list[str], user: str, events: int) -> dict[str, Any]:
    received = 0
    for url in urls:
        received += await _read_stream(url, user, events)
    return {"events": received}


async def _direct_concurrent(urls: list[str], user: str, events: int) -> dict[str, Any]:
    counts: list[int] = []

    async def read(url: str) -> None:
        counts.append(await _read_stream(url, user, events))

    async with trio.open_nursery() as nursery:
        for url in urls:
            nursery.start_soon(read, url)
    return {"events": sum(counts)}


async def _merged(urls: list[str], user: str, events: int) -> dict[str, Any]:
    total = len(urls) * events
    received = 0
    async with MultiProjectClient() as mpc:
        for n, url in enumerate(urls):
            await mpc.register(f"p{n}", url, as_user=user, since=0)
        async with mpc.events() as merged:
            async for _project, event in merged:
                if event.get("type") != "connection" and "seq" in event:
                    received += 1
                    if received == total:
                        break
        stats = mpc.statistics().values()
        return {
            "events": received,
            "reconnects": sum(s.reconnects for s in stats),
            "consumer_too_slow": sum(s.consumer_too_slow for s in stats),
        }


async def run(job: dict[str, Any]) -> dict[str, Any]:
    runs = []
    for mode in job["runs"]:
        reader = {"direct": _direct, "concurrent": _direct_concurrent, "merged": _merged}[mode]
        cpu, wall = time.process_time(), time.perf_counter()
        result = await reader(job["urls"], job["user"], job["events"])
        result.update(mode=mode, cpu_s=time.process_time() - cpu, wall_s=time.perf_counter() - wall)
        runs.append(result)
    return {"runs": runs}


def main() -> None:
    load_generator_main(lambda job: trio.run(run, job))


if __name__ == "__main__":
    main()
