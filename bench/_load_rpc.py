"""Load generator process: N keep-alive HTTP/1.1 connections over raw Trio sockets, one request in flight each.

``python -m bench._load_rpc`` reads its job as JSON on stdin::

    {"socket": PATH, "connections": 16, "warmup_s": 1.0, "duration_s": 3.0,
     "requests": [REQUEST, ...], "expect": "\\"result\\"", "server_pid": PID}

``requests`` are complete pre-built HTTP requests (latin-1 strings); connection ``i`` starts at request
``i`` and cycles through them, so 16 connections ask for 16 different tickets at any moment. Answers
are framed by Content-Length and checked only for status 200 and ``expect`` near the start of the
body (a JSON-RPC error would otherwise be measured as a success). The result, as JSON on stdout: see
``MeasureWindow.result``.

Raw ``trio.socket`` calls rather than streams or an HTTP library: per request it costs one ``send``,
usually one ``recv`` and a ``find``, which is what keeps the generator far ahead of the servers.
"""

from __future__ import annotations

import sys
import time
from typing import Any

import trio

from ._http import HEADER_END, message_end
from ._load_window import MeasureWindow
from ._procs import load_generator_main

RECV_SIZE = 256 * 1024


async def _connection(
    path: str,
    requests: list[bytes],
    offset: int,
    expect: bytes,
    window: MeasureWindow,
    connected: trio.Event,
    go: trio.Event,
    pending: list[int],
) -> None:
    sock = trio.socket.socket(trio.socket.AF_UNIX, trio.socket.SOCK_STREAM)
    with sock:
        await sock.connect(path)
        pending[0] -= 1
        if not pending[0]:
            connected.set()
        await go.wait()
        buf = bytearray()
        index = offset
        count = len(requests)
        while window.running:
            request = requests[index % count]
            index += 1
            started = time.perf_counter()
            sent = 0
            while sent < len(request):
                sent += await sock.send(request[sent:])
            while (end := message_end(buf)) is None:
                chunk = await sock.recv(RECV_SIZE)
                if not chunk:
                    raise ConnectionError("the server closed a keep-alive connection")
                buf += chunk
            finished = time.perf_counter()
            body = buf.find(HEADER_END) + 4
            if buf[9:12] != b"200" or buf.find(expect, body, body + 64) < 0:
                window.errors += 1
                if window.errors == 1:
                    print(f"first bad answer: {bytes(buf[:end])[:300]!r}", file=sys.stderr, flush=True)
            del buf[:end]
            window.record(started, finished)


async def run(job: dict[str, Any]) -> dict[str, Any]:
    requests = [r.encode("latin-1") for r in job["requests"]]
    expect = job.get("expect", '"result"').encode()
    window = MeasureWindow(job["warmup_s"], job["duration_s"], job.get("server_pid"))
    connected, go = trio.Event(), trio.Event()
    pending = [job["connections"]]
    async with trio.open_nursery() as nursery:
        for i in range(job["connections"]):
            nursery.start_soon(_connection, job["socket"], requests, i, expect, window, connected, go, pending)
        await connected.wait()
        window.open()
        go.set()
    return window.result()


def main() -> None:
    load_generator_main(lambda job: trio.run(run, job))


if __name__ == "__main__":
    main()
