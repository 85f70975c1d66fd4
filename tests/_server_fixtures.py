"""Test helpers for the project server: the server as a subprocess, and small clients for its wire.

Everything here talks to a real ``python -m hero_assistance server`` over real sockets, the way an
operator and a client would. The clients are deliberately minimal (h11 and wsproto over a trio
stream) so a test can also send what a well-behaved client never would.
"""

from __future__ import annotations

import base64
import contextlib
import ctypes
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import attrs
import h11
import pytest
import trio
import wsproto
import wsproto.events as ws

READY = re.compile(r" ready project=")


# -- the server as a subprocess ------------------------------------------------------------------
@attrs.define
class ProjectDirs:
    root: Path
    name: str = "acme"

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def sockets(self) -> Path:
        return self.root / "sock"

    @property
    def rpc(self) -> Path:
        return self.sockets / "rpc.sock"

    @property
    def events(self) -> Path:
        return self.sockets / "events.sock"


@contextlib.contextmanager
def project_dirs(name: str = "acme") -> Iterator[ProjectDirs]:
    """A short temporary root (Unix socket paths are limited to 108 bytes; pytest's tmp_path is long)."""
    root = Path(tempfile.mkdtemp(prefix="ha-", dir="/tmp"))
    try:
        yield ProjectDirs(root, name)
    finally:
        shutil.rmtree(root, ignore_errors=True)


class ServerProcess:
    """``python -m hero_assistance server`` with the given flags; stderr collected line by line."""

    def __init__(
        self,
        dirs: ProjectDirs,
        *args: str,
        netns: str | None = None,
        env: dict[str, str] | None = None,
        explicit_dirs: bool = True,
    ):
        self.dirs = dirs
        self.args = list(args)
        self.netns = netns
        self.env = env
        self.explicit_dirs = explicit_dirs
        self.lines: list[str] = []
        self.proc: subprocess.Popen[bytes] | None = None
        self._reader: threading.Thread | None = None

    @property
    def command(self) -> list[str]:
        cmd = [sys.executable, "-m", "hero_assistance", "server", "--project", self.dirs.name]
        if self.explicit_dirs:
            cmd += ["--data-dir", str(self.dirs.data), "--socket-dir", str(self.dirs.sockets)]
        cmd += self.args
        return ["ip", "netns", "exec", self.netns, *cmd] if self.netns else cmd

    def start(self) -> ServerProcess:
        env = {**os.environ, **(self.env or {})}
        self.lines = []
        self.proc = subprocess.Popen(
            self.command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env
        )
        stream = self.proc.stderr
        assert stream is not None

        def read() -> None:
            with stream:  # closed at the end of the output, not left to the garbage collector
                for raw in stream:
                    self.lines.append(raw.decode("utf-8", "replace").rstrip("\n"))

        self._reader = threading.Thread(target=read, daemon=True)
        self._reader.start()
        return self

    @property
    def log(self) -> str:
        return "\n".join(self.lines)

    def errors(self) -> list[str]:
        """The lines that are not log records (a log record starts with its date)."""
        return [line for line in self.lines if not re.match(r"\d{4}-\d\d-\d\d ", line)]

    def _find(self, pattern: re.Pattern[str], start: int = 0) -> re.Match[str] | None:
        for line in self.lines[start:]:
            found = pattern.search(line)
            if found:
                return found
        return None

    def wait_for_line_sync(self, pattern: str | re.Pattern[str], timeout: float = 20.0) -> re.Match[str]:
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self._find(regex)
            if found:
                return found
            if self.proc is not None and self.proc.poll() is not None:
                self._join_reader()
                found = self._find(regex)
                if found:
                    return found
                raise AssertionError(f"server exited ({self.proc.returncode}) before {regex.pattern!r}:\n{self.log}")
            time.sleep(0.02)
        raise AssertionError(f"no line matching {regex.pattern!r} within {timeout}s:\n{self.log}")

    async def wait_for_line(
        self, pattern: str | re.Pattern[str], timeout: float = 20.0, start: int = 0
    ) -> re.Match[str]:
        regex = re.compile(pattern)
        with trio.fail_after(timeout):
            while True:
                found = self._find(regex, start)
                if found:
                    return found
                if self.proc is not None and self.proc.poll() is not None:
                    self._join_reader()
                    found = self._find(regex, start)
                    if found:
                        return found
                    raise AssertionError(
                        f"server exited ({self.proc.returncode}) before {regex.pattern!r}:\n{self.log}"
                    )
                await trio.sleep(0.02)

    def start_and_wait(self) -> ServerProcess:
        self.start()
        self.wait_for_line_sync(READY)
        return self

    async def astart(self) -> ServerProcess:
        self.start()
        await self.wait_for_line(READY)
        return self

    def _join_reader(self) -> None:
        if self._reader is not None:
            self._reader.join(timeout=5)

    def wait_exit_sync(self, timeout: float = 20.0) -> int:
        assert self.proc is not None
        code = self.proc.wait(timeout=timeout)
        self._join_reader()
        return code

    async def wait_exit(self, timeout: float = 20.0) -> int:
        assert self.proc is not None
        with trio.fail_after(timeout):
            while self.proc.poll() is None:  # polled, so that a cancelled wait ends at once
                await trio.sleep(0.02)
        self._join_reader()
        return self.proc.returncode

    def signal(self, signum: int = signal.SIGTERM) -> None:
        assert self.proc is not None
        self.proc.send_signal(signum)

    def stop_sync(self, timeout: float = 20.0) -> int:
        """SIGTERM and wait; kills it if it overstays (and then fails the wait's caller)."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.wait_exit_sync(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.wait_exit_sync()
            raise

    async def stop(self, timeout: float = 20.0) -> int:
        return await trio.to_thread.run_sync(self.stop_sync, timeout)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait()
        self._join_reader()


@contextlib.contextmanager
def running_server(*args: str, name: str = "acme", env: dict[str, str] | None = None) -> Iterator[ServerProcess]:
    """A started server in fresh directories; stopped (and the directories removed) afterwards."""
    with project_dirs(name) as dirs:
        server = ServerProcess(dirs, *args, env=env).start_and_wait()
        try:
            yield server
        finally:
            server.stop_sync()


# -- HTTP/1.1 over a Unix socket or TCP ----------------------------------------------------------
@attrs.frozen
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class RpcFailure(Exception):
    def __init__(self, error: dict[str, Any]):
        super().__init__(f"{error['code']}: {error['message']}")
        self.code: int = error["code"]
        self.message: str = error["message"]
        self.data: Any = error.get("data")


class Http:
    """One keep-alive HTTP/1.1 connection."""

    def __init__(self, stream: trio.abc.Stream, host: str = "localhost"):
        self.stream = stream
        self.host = host
        self.conn = h11.Connection(h11.CLIENT)
        self._next_id = 0

    async def _receive_event(self) -> Any:
        while True:
            event = self.conn.next_event()
            if event is h11.NEED_DATA:
                self.conn.receive_data(await self.stream.receive_some(65536))
                continue
            return event

    async def send_head(self, method: str, target: str, headers: list[tuple[str, str]]) -> None:
        request = h11.Request(method=method, target=target, headers=[("host", self.host), *headers])
        await self.stream.send_all(self.conn.send(request))

    async def read_head(self) -> h11.Response:
        while True:
            event = await self._receive_event()
            if isinstance(event, h11.Response):
                return event
            if isinstance(event, h11.ConnectionClosed):
                raise ConnectionError("connection closed before a response")

    async def request(
        self,
        method: str,
        target: str,
        *,
        headers: dict[str, str] | None = None,
        body: bytes | None = None,
        json_body: Any = None,
    ) -> Response:
        hdrs = list((headers or {}).items())
        if json_body is not None:
            body = json.dumps(json_body).encode()
            if not any(k.lower() == "content-type" for k, _ in hdrs):
                hdrs.append(("content-type", "application/json"))
        if body is not None:
            hdrs.append(("content-length", str(len(body))))
        await self.send_head(method, target, hdrs)
        if body:
            await self.stream.send_all(self.conn.send(h11.Data(data=body)))
        await self.stream.send_all(self.conn.send(h11.EndOfMessage()))
        head = await self.read_head()
        chunks = []
        while True:
            event = await self._receive_event()
            if isinstance(event, h11.Data):
                chunks.append(bytes(event.data))
            elif isinstance(event, (h11.EndOfMessage, h11.ConnectionClosed)):
                break
        if self.conn.our_state is h11.DONE and self.conn.their_state is h11.DONE:
            self.conn.start_next_cycle()
        response_headers = {k.decode().lower(): v.decode() for k, v in head.headers}
        return Response(head.status_code, response_headers, b"".join(chunks))

    async def rpc_raw(self, method: str, params: dict[str, Any] | None = None, **headers: str) -> dict[str, Any]:
        self._next_id += 1
        request = {"jsonrpc": "2.0", "id": self._next_id, "method": method, "params": params or {}}
        response = await self.request("POST", "/rpc", headers=_identity(headers), json_body=request)
        assert response.status == 200, (response.status, response.body)
        answer: dict[str, Any] = response.json()
        return answer

    async def call(
        self, method: str, *, as_user: str | None = None, as_device: str | None = None, **params: Any
    ) -> Any:
        """Call a method; the result, or ``RpcFailure`` carrying the wire error."""
        headers = {}
        if as_user:
            headers["x_hero_user"] = as_user
        if as_device:
            headers["x_hero_device"] = as_device
        answer = await self.rpc_raw(method, params, **headers)
        if "error" in answer:
            raise RpcFailure(answer["error"])
        return answer["result"]

    async def aclose(self) -> None:
        await self.stream.aclose()


def _identity(headers: dict[str, str]) -> dict[str, str]:
    return {k.replace("_", "-"): v for k, v in headers.items()}


@contextlib.asynccontextmanager
async def http_unix(path: Path) -> AsyncIterator[Http]:
    stream = await trio.open_unix_socket(str(path))
    client = Http(stream)
    try:
        yield client
    finally:
        await client.aclose()


async def call(
    path: Path, method: str, *, as_user: str | None = None, as_device: str | None = None, **params: Any
) -> Any:
    """One call on its own connection over the Unix socket at ``path``."""
    async with http_unix(path) as client:
        return await client.call(method, as_user=as_user, as_device=as_device, **params)


async def setup_people(rpc: Path, *emails_roles: tuple[str, str]) -> dict[str, int]:
    """Enroll users as the local operator; their ids by email."""
    ids = {}
    async with http_unix(rpc) as client:
        for email, role in emails_roles:
            ids[email] = (await client.call("user.enroll", email=email, role=role))["id"]
    return ids


# -- WebSocket (wsproto) ---------------------------------------------------------------------------
class WsRejected(Exception):
    def __init__(self, status: int, body: bytes):
        super().__init__(f"WebSocket refused: {status} {body[:200]!r}")
        self.status = status
        self.body = body


class WsClient:
    """A WebSocket client; ``receive_json`` answers pings and returns ``None`` once closed."""

    def __init__(self, stream: trio.abc.Stream):
        self.stream = stream
        self.ws = wsproto.WSConnection(wsproto.ConnectionType.CLIENT)
        self.pending: list[Any] = []
        self.close_code: int | None = None
        self.close_reason: str | None = None
        self.pings = 0
        self._text: list[str] = []

    @classmethod
    async def connect(cls, stream: trio.abc.Stream, target: str, headers: dict[str, str] | None = None) -> WsClient:
        client = cls(stream)
        extra = [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
        await stream.send_all(client.ws.send(ws.Request(host="localhost", target=target, extra_headers=extra)))
        body = b""
        status = 0
        while True:
            data = await stream.receive_some(65536)
            if not data:
                raise WsRejected(status, body)
            client.ws.receive_data(data)
            events = client.ws.events()
            for event in events:
                if isinstance(event, ws.AcceptConnection):
                    client.pending.extend(events)  # frames that came in the same chunk as the answer
                    return client
                if isinstance(event, ws.RejectConnection):
                    status = event.status_code
                    if not event.has_body:
                        raise WsRejected(status, body)
                elif isinstance(event, ws.RejectData):
                    body += event.data
                    if event.body_finished:
                        raise WsRejected(status, body)
                else:
                    client.pending.append(event)

    async def _events(self) -> list[Any]:
        if self.pending:
            events, self.pending = self.pending, []
            return events
        if buffered := list(self.ws.events()):
            return buffered
        data = await self.stream.receive_some(65536)
        if not data:
            self.ws.receive_data(None)
        else:
            self.ws.receive_data(data)
        return list(self.ws.events())

    async def receive_json(self) -> Any:
        """The next text message as JSON, or ``None`` when the server has closed."""
        while True:
            if self.close_code is not None:
                return None
            try:
                events = await self._events()
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                self.close_code = 1006
                return None
            if not events and self.ws.state is wsproto.connection.ConnectionState.CLOSED:
                self.close_code = self.close_code or 1006
            for position, event in enumerate(events):
                if isinstance(event, ws.TextMessage):
                    self._text.append(event.data)
                    if event.message_finished:
                        text = "".join(self._text)
                        self._text = []
                        self.pending.extend(events[position + 1 :])
                        return json.loads(text)
                elif isinstance(event, ws.Ping):
                    self.pings += 1
                    # events() was drained whole: a close read after this ping has already moved the
                    # state on, and a pong is then no longer ours to send.
                    if self.ws.state is wsproto.connection.ConnectionState.OPEN:
                        with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
                            await self.stream.send_all(self.ws.send(event.response()))
                elif isinstance(event, ws.CloseConnection):
                    self.close_code = event.code
                    self.close_reason = event.reason
                    with contextlib.suppress(Exception):
                        await self.stream.send_all(self.ws.send(event.response()))
                    return None

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.stream.send_all(self.ws.send(ws.CloseConnection(code=1000)))
        await self.stream.aclose()


@contextlib.asynccontextmanager
async def websocket(
    path: Path, target: str = "/events", headers: dict[str, str] | None = None
) -> AsyncIterator[WsClient]:
    stream = await trio.open_unix_socket(str(path))
    try:
        client = await WsClient.connect(stream, target, headers)
        yield client
    finally:
        await stream.aclose()


async def read_events(client: WsClient, count: int, *, timeout: float = 10.0) -> list[dict[str, Any]]:
    """The next ``count`` frames (fewer if the stream closes first)."""
    frames: list[dict[str, Any]] = []
    with trio.fail_after(timeout):
        while len(frames) < count:
            frame = await client.receive_json()
            if frame is None:
                break
            frames.append(frame)
    return frames


# -- Server-Sent Events ------------------------------------------------------------------------------
@attrs.frozen
class SseMessage:
    id: str | None
    data: Any
    comment: str | None = None


class SseClient:
    def __init__(self, http: Http, head: h11.Response):
        self.http = http
        self.head = head
        self.buffer = ""
        self.comments: list[str] = []
        self.closed = False

    @classmethod
    async def open(cls, stream: trio.abc.Stream, target: str, headers: dict[str, str] | None = None) -> SseClient:
        http = Http(stream)
        await http.send_head("GET", target, [("accept", "text/event-stream"), *(headers or {}).items()])
        await stream.send_all(http.conn.send(h11.EndOfMessage()))
        head = await http.read_head()
        return cls(http, head)

    async def next(self) -> SseMessage | None:
        """The next event (``data`` parsed as JSON) or ``None`` at the end; comments are collected."""
        while True:
            if "\n\n" in self.buffer:
                block, self.buffer = self.buffer.split("\n\n", 1)
                fields: dict[str, str] = {}
                comment = None
                for line in block.split("\n"):
                    if line.startswith(":"):
                        comment = line[1:].strip()
                    else:
                        key, _, value = line.partition(":")
                        fields[key] = value.removeprefix(" ")
                if "data" not in fields:
                    if comment is not None:
                        self.comments.append(comment)
                    continue
                return SseMessage(fields.get("id"), json.loads(fields["data"]), comment)
            if self.closed:
                return None
            event = await self.http._receive_event()
            if isinstance(event, h11.Data):
                self.buffer += bytes(event.data).decode()
            elif isinstance(event, (h11.EndOfMessage, h11.ConnectionClosed)):
                self.closed = True


@contextlib.asynccontextmanager
async def sse(path: Path, target: str = "/events", headers: dict[str, str] | None = None) -> AsyncIterator[SseClient]:
    stream = await trio.open_unix_socket(str(path))
    try:
        yield await SseClient.open(stream, target, headers)
    finally:
        await stream.aclose()


# -- an SMTP sink --------------------------------------------------------------------------------
@attrs.define
class Mail:
    sender: str
    recipients: list[str]
    data: str
    auth: str | None


class SmtpSink:
    """Just enough of an SMTP server to receive what ``smtplib`` sends (with AUTH PLAIN)."""

    def __init__(self) -> None:
        self.mails: list[Mail] = []
        self.port = 0
        self.received = trio.Event()

    async def serve(self, *, task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED) -> None:
        listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
        self.port = listeners[0].socket.getsockname()[1]
        task_status.started(self.port)
        await trio.serve_listeners(self._session, listeners)

    async def _session(self, stream: trio.SocketStream) -> None:
        buffer = b""

        async def line() -> str:
            nonlocal buffer
            while b"\r\n" not in buffer:
                data = await stream.receive_some(65536)
                if not data:
                    raise EOFError
                buffer += data
            raw, buffer = buffer.split(b"\r\n", 1)
            return raw.decode()

        async def reply(text: str) -> None:
            await stream.send_all(text.encode() + b"\r\n")

        sender, recipients, auth = "", [], None
        try:
            await reply("220 sink ESMTP")
            while True:
                command = await line()
                verb = command.split(" ", 1)[0].upper()
                if verb == "EHLO":
                    await reply("250-sink\r\n250-AUTH PLAIN\r\n250 8BITMIME")
                elif verb == "AUTH":
                    auth = base64.b64decode(command.split()[2]).decode()
                    await reply("235 ok")
                elif verb == "MAIL":
                    sender = command.split(":", 1)[1].strip().strip("<>").split(">")[0]
                    await reply("250 ok")
                elif verb == "RCPT":
                    recipients.append(command.split(":", 1)[1].strip().strip("<>"))
                    await reply("250 ok")
                elif verb == "DATA":
                    await reply("354 go on")
                    lines = []
                    while (text := await line()) != ".":
                        lines.append(text[1:] if text.startswith("..") else text)
                    self.mails.append(Mail(sender, recipients, "\n".join(lines), auth))
                    self.received.set()
                    await reply("250 queued")
                elif verb == "QUIT":
                    await reply("221 bye")
                    return
                else:
                    await reply("250 ok")
        except (EOFError, trio.BrokenResourceError):
            return


# -- network namespaces (cross-host tests) -----------------------------------------------------
CLONE_NEWNET = 0x40000000
requires_netns = [
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces need root"),
    pytest.mark.skipif(shutil.which("ip") is None, reason="needs iproute2's ip"),
]


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


@attrs.frozen
class NetnsPair:
    """Two namespaces joined by a veth pair: the server's and a client's, each with an overlay
    address (in 400::/7) and a plain one (fd00::/64, outside it)."""

    server_ns: str
    client_ns: str
    server_dev: str
    client_dev: str
    server_overlay: str = "4aa:1::1"
    client_overlay: str = "4aa:1::2"
    server_plain: str = "fd00::1"
    client_plain: str = "fd00::2"

    def add_client_address(self, address: str, *, route: str | None = None) -> None:
        """One more address (``ADDR/64``) on the client's end; ``route``: a prefix outside 4aa:1::/64 that
        the server must route back over the veth to answer it."""
        _ip("-n", self.client_ns, "addr", "add", f"{address}/64", "dev", self.client_dev, "nodad")
        if route is not None:
            _ip("-n", self.server_ns, "-6", "route", "add", route, "dev", self.server_dev)


@contextlib.contextmanager
def netns_pair() -> Iterator[NetnsPair]:
    tag = f"{os.getpid() % 100000}"
    pair = NetnsPair(f"ha-srv-{tag}", f"ha-cli-{tag}", f"has{tag}", f"hac{tag}")
    veth_server, veth_client = pair.server_dev, pair.client_dev
    try:
        _ip("netns", "add", pair.server_ns)
        _ip("netns", "add", pair.client_ns)
        _ip("link", "add", veth_server, "type", "veth", "peer", "name", veth_client)
        _ip("link", "set", veth_server, "netns", pair.server_ns)
        _ip("link", "set", veth_client, "netns", pair.client_ns)
        for ns, dev, addresses in (
            (pair.server_ns, veth_server, (pair.server_overlay, pair.server_plain)),
            (pair.client_ns, veth_client, (pair.client_overlay, pair.client_plain)),
        ):
            _ip("-n", ns, "link", "set", "lo", "up")
            for address in addresses:
                _ip("-n", ns, "addr", "add", f"{address}/64", "dev", dev, "nodad")
            _ip("-n", ns, "link", "set", dev, "up")
        yield pair
    finally:
        for ns in (pair.server_ns, pair.client_ns):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)


def _connect_in_netns(ns: str, source: str | None, host: str, port: int, family: int, out: list[Any]) -> None:
    """Runs in a thread of its own: setns() changes only the calling thread, and the thread then ends."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fd = os.open(f"/run/netns/{ns}", os.O_RDONLY)
        try:
            if libc.setns(fd, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns failed")
        finally:
            os.close(fd)
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            if source:
                sock.bind((source, 0))
            sock.settimeout(5)
            sock.connect((host, port))
            sock.setblocking(False)
        except BaseException:
            sock.close()  # a refused connection leaves no socket behind
            raise
        out.append(sock)
    except BaseException as exc:
        out.append(exc)


async def tcp_in_netns(
    ns: str, host: str, port: int, *, source: str | None = None, family: int = socket.AF_INET6
) -> trio.SocketStream:
    """A TCP connection made from inside network namespace ``ns`` (optionally from a source address)."""
    out: list[Any] = []
    thread = threading.Thread(target=_connect_in_netns, args=(ns, source, host, port, family, out))
    thread.start()
    await trio.to_thread.run_sync(thread.join)
    if isinstance(out[0], BaseException):
        raise out[0]
    return trio.SocketStream(trio.socket.from_stdlib_socket(out[0]))
