"""Subscriber process: N WebSocket subscribers on ``events.sock`` and the trigger that makes the events.

``python -m bench._load_ws`` reads its job as JSON on stdin::

    {"events_socket": PATH, "rpc_socket": PATH, "user": EMAIL, "triggers": [REQUEST, ...],
     "server_pid": PID, "window": 16,
     "steps": [{"subscribers": 10, "events": 100, "throughput_s": 3.0}, ...]}

Each step first grows the subscriber count to ``subscribers``, then measures:

- latency: ``events`` times, one ``POST`` from ``triggers`` (``comment.create`` for our server) is written
  to ``rpc_socket`` and the clock starts just before that write; each subscriber's receipt of the event
  is one sample. The next event is triggered once every subscriber has the previous one and the server
  has gone idle (one event to N subscribers, not an event queued behind the last one's work). The
  server's CPU time per delivery over these events is reported too.
- throughput: for ``throughput_s`` seconds, triggers follow each other as fast as the server answers
  them, with at most ``window`` events not yet received by every subscriber; deliveries (frames received,
  all subscribers together) per second.
- the server's RSS with this many subscribers.

One process, one thread, one ``epoll``, hand-written WebSocket framing: a delivery costs a ``recv`` and
a few slices, so 1,000 subscribers cost the load side a few milliseconds per event. The receipt time of
every frame is the moment ``epoll`` reported its socket readable, taken once per wake-up: the bytes were
in the kernel by then, so the time this process then spends on other sockets is not counted as latency
(at worst the previous wake-up's processing delays the next one, which only overstates latency).
Trigger and receipt are timed on this process's ``perf_counter``.
"""

from __future__ import annotations

import base64
import os
import select
import socket
import time
from typing import Any

from ._http import message_end
from ._procs import load_generator_main, process_cpu_s, rss_mb
from ._report import percentile

CONNECT_BATCH = 100  # handshakes in flight at once: well inside the server's listen backlog
TIMEOUT_S = 60.0
IDLE_S = 0.01
RECV_SIZE = 65536
MARKER = b'"comment.created"'


class ServerError(Exception):
    pass


class Subscriber:
    __slots__ = ("base", "buf", "received", "sock", "subscribed", "upgraded")

    def __init__(self, sock: socket.socket, base: int) -> None:
        self.sock = sock
        self.buf = bytearray()
        self.upgraded = False
        self.subscribed = False
        self.base = base  # events triggered before it subscribed: it will never see those
        self.received = 0


def _handshake(user: str) -> bytes:
    key = base64.b64encode(os.urandom(16)).decode()
    return (
        "GET /events HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nX-Hero-User: {user}\r\n\r\n"
    ).encode()


def _pong(payload: bytes) -> bytes:
    # Client frames must be masked (RFC 6455 5.3); a zero mask leaves the payload as it is.
    return bytes([0x8A, 0x80 | len(payload)]) + b"\0\0\0\0" + payload


class Fanout:
    def __init__(self, job: dict[str, Any]) -> None:
        self.job = job
        self.epoll = select.epoll()
        self.subs: dict[int, Subscriber] = {}
        self.trigger_times: list[float] = []
        self.delivered: list[int] = []  # per event: how many subscribers have it
        self.samples: list[float] = []
        self.frames = 0
        self.rpc = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.rpc.connect(job["rpc_socket"])
        self.rpc.setblocking(False)
        self.rpc_buf = bytearray()
        self.rpc_pending = False
        self.epoll.register(self.rpc.fileno(), select.EPOLLIN)

    # -- the event loop ---------------------------------------------------------------------------
    def poll(self, timeout: float) -> None:
        ready = self.epoll.poll(timeout)
        now = time.perf_counter()
        rpc_fd = self.rpc.fileno()
        for fd, _ in ready:
            if fd == rpc_fd:
                self._on_rpc()
            else:
                self._on_subscriber(self.subs[fd], now)

    def _on_rpc(self) -> None:
        chunk = self.rpc.recv(RECV_SIZE)
        if not chunk:
            raise ServerError("the server closed the trigger connection")
        self.rpc_buf += chunk
        end = message_end(self.rpc_buf)
        if end is not None:
            if self.rpc_buf[9:12] != b"200":
                raise ServerError(f"trigger answered {bytes(self.rpc_buf[:200])!r}")
            del self.rpc_buf[:end]
            self.rpc_pending = False

    def _on_subscriber(self, sub: Subscriber, now: float) -> None:
        chunk = sub.sock.recv(RECV_SIZE)
        if not chunk:
            raise ServerError("the server closed a subscriber's connection")
        buf = sub.buf
        buf += chunk
        if not sub.upgraded:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            if buf[9:12] != b"101":
                raise ServerError(f"WebSocket handshake refused: {bytes(buf[:200])!r}")
            del buf[: end + 4]
            sub.upgraded = True
        pos = 0
        size = len(buf)
        while size - pos >= 2:
            opcode = buf[pos] & 0x0F
            length = buf[pos + 1] & 0x7F
            head = 2
            if length == 126:
                if size - pos < 4:
                    break
                length = int.from_bytes(buf[pos + 2 : pos + 4], "big")
                head = 4
            elif length == 127:
                if size - pos < 10:
                    break
                length = int.from_bytes(buf[pos + 2 : pos + 10], "big")
                head = 10
            if size - pos < head + length:
                break
            start = pos + head
            pos = start + length
            if opcode == 1:
                if buf.find(MARKER, start, pos) >= 0:
                    index = sub.base + sub.received
                    sub.received += 1
                    self.frames += 1
                    self.delivered[index] += 1
                    self.samples.append(now - self.trigger_times[index])
                elif not sub.subscribed:
                    sub.subscribed = True  # the first frame: {"type":"subscribed",...}
            elif opcode == 9:
                sub.sock.send(_pong(bytes(buf[start:pos])))
            elif opcode == 8:
                raise ServerError(f"the server closed a subscription: {bytes(buf[start:pos])!r}")
        del buf[:pos]

    def wait_until(self, done: Any, what: str) -> None:
        deadline = time.perf_counter() + TIMEOUT_S
        while not done():
            if time.perf_counter() > deadline:
                raise ServerError(f"timed out waiting for {what}")
            self.poll(1.0)

    # -- steps ------------------------------------------------------------------------------------
    def grow(self, count: int) -> float:
        started = time.perf_counter()
        handshake = _handshake(self.job["user"])
        while len(self.subs) < count:
            batch = []
            for _ in range(min(CONNECT_BATCH, count - len(self.subs))):
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                sock.connect(self.job["events_socket"])
                sock.sendall(handshake)
                sock.setblocking(False)
                sub = Subscriber(sock, len(self.trigger_times))
                self.subs[sock.fileno()] = sub
                self.epoll.register(sock.fileno(), select.EPOLLIN)
                batch.append(sub)
            self.wait_until(lambda batch=batch: all(s.subscribed for s in batch), "subscriptions")
        return time.perf_counter() - started

    def trigger(self) -> int:
        triggers = self.job["triggers"]
        index = len(self.trigger_times)
        request = triggers[index % len(triggers)]
        self.delivered.append(0)
        self.trigger_times.append(time.perf_counter())
        self.rpc_pending = True
        if self.rpc.send(request) != len(request):
            raise ServerError("a trigger request did not fit in the socket buffer")
        return index

    def server_cpu_s(self) -> float:
        return process_cpu_s(self.job["server_pid"])

    def wait_server_idle(self) -> None:
        """Wait until the server has used (almost) no CPU for ``IDLE_S``: done with all the last event caused.

        After its last send the server still unwinds every subscriber's task; an event triggered then
        would queue behind that work, and we would measure the previous event's tail, not this one.
        """
        deadline = time.perf_counter() + TIMEOUT_S
        before = self.server_cpu_s()
        while time.perf_counter() < deadline:
            self.poll(IDLE_S)
            now = self.server_cpu_s()
            if now - before < IDLE_S * 0.05:
                return
            before = now
        raise ServerError("the server never went idle")

    def latency(self, events: int) -> tuple[list[float], list[float]]:
        """Every receipt's latency, and each event's last receipt (when the slowest subscriber had it)."""
        self.samples = []
        lasts = []
        subscribers = len(self.subs)
        for _ in range(events):
            self.wait_server_idle()
            index = self.trigger()
            self.wait_until(
                lambda index=index: self.delivered[index] == subscribers and not self.rpc_pending, "an event"
            )
            lasts.append(max(self.samples[-subscribers:]))
        return self.samples, lasts

    def throughput(self, seconds: float, window: int) -> tuple[float, float]:
        subscribers = len(self.subs)
        complete = len(self.trigger_times)  # every earlier event has been delivered
        frames_before = self.frames
        started = time.perf_counter()
        end = started + seconds
        while time.perf_counter() < end:
            while complete < len(self.trigger_times) and self.delivered[complete] == subscribers:
                complete += 1
            if not self.rpc_pending and len(self.trigger_times) - complete < window:
                self.trigger()
            self.poll(0.05)
        frames = self.frames - frames_before
        elapsed = time.perf_counter() - started
        triggered = len(self.trigger_times)
        self.wait_until(lambda: self.delivered[triggered - 1] == subscribers and not self.rpc_pending, "the drain")
        return frames / elapsed, frames / subscribers / elapsed

    def run(self) -> dict[str, Any]:
        steps = []
        for step in self.job["steps"]:
            connect_s = self.grow(step["subscribers"])
            cpu, server_cpu, started = time.process_time(), self.server_cpu_s(), time.perf_counter()
            samples, lasts = self.latency(step["events"])
            result: dict[str, Any] = {
                "client_cpu": (time.process_time() - cpu) / (time.perf_counter() - started),
                "server_cpu_per_delivery_us": (self.server_cpu_s() - server_cpu) / len(samples) * 1e6,
                "last_p50_ms": percentile(lasts, 50) * 1000,
                "subscribers": len(self.subs),
                "connect_s": connect_s,
                "p50_ms": percentile(samples, 50) * 1000,
                "p99_ms": percentile(samples, 99) * 1000,
                "max_ms": max(samples) * 1000,
                "samples": len(samples),
                "server_rss_mb": rss_mb(self.job["server_pid"]),
            }
            if step.get("throughput_s"):
                deliveries, events = self.throughput(step["throughput_s"], self.job.get("window", 16))
                result["deliveries_per_s"] = deliveries
                result["events_per_s"] = events
            steps.append(result)
        return {"steps": steps}


def _run(job: dict[str, Any]) -> dict[str, Any]:
    job["triggers"] = [t.encode("latin-1") for t in job["triggers"]]
    return Fanout(job).run()


def main() -> None:
    load_generator_main(_run)


if __name__ == "__main__":
    main()
