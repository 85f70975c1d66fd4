"""Load generator process: N concurrent ``client.call`` over ONE SDK ``Client`` (its own connection pool).

``python -m bench._load_sdk`` reads its job as JSON on stdin::

    {"url": "unix:PATH", "user": EMAIL, "method": "ticket.get", "params": [{...}, ...],
     "concurrency": 16, "warmup_s": 1.0, "duration_s": 3.0, "server_pid": PID}

and prints a ``MeasureWindow`` result. This is what an application (the ui serving many browsers)
gets from the SDK, to compare with the same number of raw keep-alive connections.
"""

from __future__ import annotations

import time
from typing import Any

import trio

from hero_assistance.transport import Client, RpcError, connect

from ._load_window import MeasureWindow
from ._procs import load_generator_main


async def _caller(
    client: Client, method: str, params: list[dict[str, Any]], offset: int, window: MeasureWindow
) -> None:
    index = offset
    while window.running:
        started = time.perf_counter()
        try:
            await client.call(method, **params[index % len(params)])
        except RpcError:
            window.errors += 1
        window.record(started, time.perf_counter())
        index += 1


async def run(job: dict[str, Any]) -> dict[str, Any]:
    window = MeasureWindow(job["warmup_s"], job["duration_s"], job.get("server_pid"))
    async with connect(job["url"], as_user=job["user"], max_connections=job["concurrency"]) as client:
        window.open()
        async with trio.open_nursery() as nursery:
            for i in range(job["concurrency"]):
                nursery.start_soon(_caller, client, job["method"], job["params"], i, window)
        result = window.result()
        result["pool"] = repr(client.statistics())
    return result


def main() -> None:
    load_generator_main(lambda job: trio.run(run, job))


if __name__ == "__main__":
    main()
