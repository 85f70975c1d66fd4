"""Test helpers for the ui: a fake project server that records raw requests, a whole stack in a thread
for browser tests, and Chromium.

The fake project speaks just enough HTTP/1.1 (h11) to show what the ui forwards: every request's
method, target, headers and body bytes exactly as they arrived, answered with bytes the test chose.
The browser stack runs real project servers and the real ui in one trio loop in a background thread,
so Playwright's synchronous API can drive Chromium from the test's own thread.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import attrs
import h11
import pytest
import trio

from hero_assistance.core import Caller
from hero_assistance.transport import ProjectServer, ServerConfig, serve_project
from hero_assistance.ui import UiConfig, UiServer, serve_ui

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


# -- a fake project server -----------------------------------------------------------------------
@attrs.define
class Recorded:
    method: str
    target: str
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k.lower() == name.lower()]


Responder = Callable[[Recorded], tuple[int, list[tuple[str, str]], bytes]]


def echo_rpc(request: Recorded) -> tuple[int, list[tuple[str, str]], bytes]:
    """Answer every request with fixed bytes naming the target (and odd spacing a re-encoder would lose)."""
    body = b'{"jsonrpc": "2.0",  "id": 1, "result": {"echo": "%s"}}' % request.target.encode()
    return 200, [("Content-Type", "application/json")], body


class FakeProject:
    """Records every request; answers with ``responder``. Serve with ``await nursery.start(fake.serve, listener)``."""

    def __init__(self, responder: Responder = echo_rpc) -> None:
        self.requests: list[Recorded] = []
        self.responder = responder

    async def serve(
        self, listeners: list[trio.SocketListener], *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        async with trio.open_nursery() as nursery:
            for listener in listeners:
                nursery.start_soon(trio.serve_listeners, self._handle, [listener])
            task_status.started()

    async def _handle(self, stream: trio.SocketStream) -> None:
        conn = h11.Connection(h11.SERVER)
        with contextlib.suppress(trio.BrokenResourceError, h11.ProtocolError):
            async with stream:
                while True:
                    request: h11.Request | None = None
                    body = b""
                    while True:
                        event = conn.next_event()
                        if event is h11.NEED_DATA:
                            data = await stream.receive_some(65536)
                            conn.receive_data(data)
                            if not data and conn.their_state is not h11.DONE:
                                return
                            continue
                        if isinstance(event, h11.Request):
                            request = event
                        elif isinstance(event, h11.Data):
                            body += bytes(event.data)
                        elif isinstance(event, h11.EndOfMessage):
                            break
                        elif isinstance(event, h11.ConnectionClosed):
                            return
                    assert request is not None
                    recorded = Recorded(
                        request.method.decode(),
                        request.target.decode(),
                        [(k.decode(), v.decode()) for k, v in request.headers],
                        body,
                    )
                    self.requests.append(recorded)
                    status, headers, answer = self.responder(recorded)
                    headers = [*headers, ("Content-Length", str(len(answer)))]
                    await stream.send_all(conn.send(h11.Response(status_code=status, headers=headers)) or b"")
                    await stream.send_all(conn.send(h11.Data(data=answer)) or b"")
                    await stream.send_all(conn.send(h11.EndOfMessage()) or b"")
                    if conn.our_state is h11.MUST_CLOSE:
                        return
                    conn.start_next_cycle()


async def unix_listener(path: Path) -> trio.SocketListener:
    sock = trio.socket.socket(trio.socket.AF_UNIX, trio.socket.SOCK_STREAM)
    await sock.bind(str(path))
    sock.listen(64)
    return trio.SocketListener(sock)


@contextlib.contextmanager
def short_tmp() -> Iterator[Path]:
    """A short temporary directory: Unix socket paths must fit in 108 bytes, pytest's tmp_path may not."""
    root = Path(tempfile.mkdtemp(prefix="hu-", dir="/tmp"))
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


# -- magic links out of the operator's log ---------------------------------------------------------
class MagicLinks(logging.Handler):
    """Collects the ``MAGIC-LINK`` lines project servers log when no mail is configured."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[dict[str, str]] = []
        self.arrived = threading.Condition()

    def emit(self, record: logging.LogRecord) -> None:
        args = record.args if isinstance(record.args, tuple) else ()
        if len(args) >= 5:
            with self.arrived:
                self.links.append(
                    {"project": str(args[0]), "email": str(args[1]), "token": str(args[3]), "link": str(args[4])}
                )
                self.arrived.notify_all()

    def wait_for(self, email: str, project: str, timeout: float = 10.0) -> dict[str, str]:
        def found() -> dict[str, str] | None:
            return next((x for x in self.links if x["email"] == email and x["project"] == project), None)

        with self.arrived:
            self.arrived.wait_for(lambda: found() is not None, timeout)
            link = found()
        assert link is not None, f"no magic link for {email} in {project}"
        return link


@contextlib.contextmanager
def capture_magic_links() -> Iterator[MagicLinks]:
    handler = MagicLinks()
    logger = logging.getLogger("hero_assistance.magic_link")
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)


# -- the whole stack, in a thread ------------------------------------------------------------------
class StackThread:
    """Project servers and the ui in one trio loop in a background thread, for synchronous browser tests."""

    def __init__(self, root: Path, projects: tuple[str, ...] = ("acme", "globex")) -> None:
        self.root = root
        self.project_names = projects
        self.ui: UiServer | None = None
        self.servers: dict[str, ProjectServer] = {}
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._token: trio.lowlevel.TrioToken | None = None
        self._stop: trio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="ui-stack", daemon=True)

    @property
    def url(self) -> str:
        assert self.ui is not None
        return self.ui.url

    def rpc_url(self, project: str) -> str:
        return f"unix:{self.root / 'sock' / project / 'rpc.sock'}"

    def start(self) -> StackThread:
        self._thread.start()
        if not self._ready.wait(30) or self._error is not None:
            raise RuntimeError(f"the stack did not start: {self._error!r}")
        return self

    def _run(self) -> None:
        try:
            trio.run(self._main)
        except BaseException as exc:
            self._error = exc
            self._ready.set()

    async def _main(self) -> None:
        self._token = trio.lowlevel.current_trio_token()
        self._stop = trio.Event()
        async with trio.open_nursery() as nursery:
            config = UiConfig(
                projects={name: self.rpc_url(name) for name in self.project_names},
                listen="127.0.0.1:0",
                config_file=self.root / "ui.toml",
            )
            self.ui = await nursery.start(serve_ui, config)
            for name in self.project_names:
                server_config = ServerConfig(
                    project=name,
                    data_dir=self.root / "data" / name,
                    socket_dir=self.root / "sock" / name,
                    link_base_url=f"{self.ui.url}/?project={name}",
                    grace_period_s=1.0,
                )
                self.servers[name] = await nursery.start(serve_project, server_config)
            self._ready.set()
            await self._stop.wait()
            self.ui.stop()
            for server in self.servers.values():
                server.stop()

    def call(self, project: str, method: str, caller: Caller | None = None, **params: Any) -> Any:
        """A method of a project, in-process (as the local operator unless ``caller`` says otherwise)."""
        assert self._token is not None
        project_obj = self.servers[project].project
        return trio.from_thread.run(partial(project_obj.call, method, caller, **params), trio_token=self._token)

    def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        assert self._token is not None
        return trio.from_thread.run(fn, *args, trio_token=self._token)

    def stop(self) -> None:
        if self._token is not None and self._stop is not None:
            with contextlib.suppress(trio.RunFinishedError):
                trio.from_thread.run_sync(self._stop.set, trio_token=self._token)
        self._thread.join(20)

    def sign_in_link(self, email: str, *projects: str) -> str:
        """A one-click link signing a browser into ``projects`` (issued by the operator)."""
        parts = [f"project={p}&token={self.call(p, 'auth.issue_magic_link', email=email)['token']}" for p in projects]
        return f"{self.url}/?{'&'.join(parts)}"


# -- Chromium ------------------------------------------------------------------------------------
class ChromiumUnavailable(RuntimeError):
    """Chromium is not installed and apt-get could not install it."""


def install_chromium() -> str:
    """Debian's chromium, installed with apt-get (through ``sudo -n`` when not root) if missing."""
    if os.path.exists(CHROMIUM):
        return CHROMIUM
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    sudo = ["sudo", "-n"] if os.geteuid() != 0 and shutil.which("sudo") else []
    for step in (["apt-get", "update"], ["apt-get", "install", "-y", "--no-install-recommends", "chromium"]):
        try:
            subprocess.run([*sudo, *step], check=True, capture_output=True, text=True, timeout=900, env=env)
        except subprocess.CalledProcessError as exc:
            raise ChromiumUnavailable(f"{' '.join(step)} failed: {exc.stderr.strip()[-2000:]}") from exc
        except (OSError, subprocess.SubprocessError) as exc:
            raise ChromiumUnavailable(f"{' '.join(step)} failed: {exc}") from exc
    if not os.path.exists(CHROMIUM):
        raise ChromiumUnavailable(f"apt-get installed chromium, yet there is no {CHROMIUM}")
    return CHROMIUM


def ensure_chromium() -> str:
    """Chromium for a browser test. Where it cannot be had, the test fails in CI (``CI`` set in the environment,
    as ``.ci/run`` and CI services do: a green run must have driven the browser) and is skipped elsewhere."""
    try:
        return install_chromium()
    except ChromiumUnavailable as exc:
        if os.environ.get("CI", "").lower() not in ("", "0", "false"):
            pytest.fail(f"CI needs the browser tests: {exc}")
        pytest.skip(str(exc))


def artifact(name: str) -> str:
    ARTIFACTS.mkdir(exist_ok=True)
    return str(ARTIFACTS / name)


# -- a deliberately plain HTTP client (it must be able to send what a browser would not) --------------
@attrs.define
class Reply:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        found = [v for k, v in self.headers if k.lower() == name.lower()]
        return found[0] if found else None

    def all(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k.lower() == name.lower()]

    def json(self) -> Any:
        import json

        return json.loads(self.body)


async def http(
    base: str,
    method: str,
    target: str,
    headers: list[tuple[str, str]] | None = None,
    body: bytes = b"",
    *,
    host: str | None = None,
) -> Reply:
    """One request on a fresh connection to ``http://HOST:PORT`` or ``unix:/path``."""
    if base.startswith("unix:"):
        stream: trio.abc.Stream = await trio.open_unix_socket(base[5:])
        netloc = "localhost"
    else:
        netloc = base.split("://", 1)[1]
        hostname, _, port = netloc.rpartition(":")
        stream = await trio.open_tcp_stream(hostname.strip("[]"), int(port))
    conn = h11.Connection(h11.CLIENT)
    all_headers = [("Host", host or netloc), *(headers or []), ("Content-Length", str(len(body)))]
    async with stream:
        await stream.send_all(conn.send(h11.Request(method=method, target=target, headers=all_headers)) or b"")
        await stream.send_all(conn.send(h11.Data(data=body)) or b"")
        await stream.send_all(conn.send(h11.EndOfMessage()) or b"")
        status, response_headers, chunks = 0, [], []
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                conn.receive_data(await stream.receive_some(65536))
            elif isinstance(event, h11.Response):
                status = event.status_code
                response_headers = [(k.decode(), v.decode()) for k, v in event.headers]
            elif isinstance(event, h11.Data):
                chunks.append(bytes(event.data))
            elif isinstance(event, (h11.EndOfMessage, h11.ConnectionClosed)):
                break
    return Reply(status, response_headers, b"".join(chunks))


def rpc_body(method: str, ident: int = 1, **params: Any) -> bytes:
    import json

    return json.dumps({"jsonrpc": "2.0", "id": ident, "method": method, "params": params}).encode()
