"""``hero-assistance demo`` as a newcomer meets it: one command prints an address and sign-in links that
work, the app answers, Ctrl-C stops everything with exit code 0; with --data-dir a second start reuses
the data instead of seeding again."""

from __future__ import annotations

import contextlib
import json
import os
import re
import selectors
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

pytestmark = pytest.mark.slow


class Demo:
    def __init__(self, data_dir: Path, *args: str) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "hero_assistance", "demo", *args, "--data-dir", str(data_dir)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        self.stderr = ""
        self.out = self._read_until("Press Ctrl-C", timeout=60)

    def _read_until(self, marker: str, timeout: float) -> str:
        # os.read on the descriptor, not readline: a buffered reader may swallow the rest of the output
        # into its own buffer, where select() no longer sees it.
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        selector = selectors.DefaultSelector()
        selector.register(fd, selectors.EVENT_READ)
        data = b""
        deadline = time.monotonic() + timeout
        while marker.encode() not in data:
            if time.monotonic() > deadline or self.proc.poll() is not None:
                if self.proc.poll() is None:
                    self.proc.kill()
                selector.close()
                _, stderr = self.proc.communicate(timeout=10)
                pytest.fail(f"the demo did not print {marker!r}:\n{data.decode()}\n{stderr.decode()}")
            if selector.select(0.2):
                data += os.read(fd, 65536)
        selector.close()
        return data.decode()

    @property
    def address(self) -> str:
        match = re.search(r"^\s+(http://127\.0\.0\.1:\d+)\s*$", self.out, re.M)
        assert match, self.out
        return match.group(1)

    def links(self) -> dict[str, str]:
        """{"Agent": url, "Customer": url} from the welcome text."""
        found = dict(re.findall(r"^\s+(Agent|Customer)\s.*\n\s+(http://\S+)$", self.out, re.M))
        assert set(found) == {"Agent", "Customer"}, self.out
        return found

    def stop(self) -> int:
        """Ctrl-C; the exit code, with everything it wrote on stderr kept in ``self.stderr`` (pipes closed)."""
        self.proc.send_signal(signal.SIGINT)
        try:
            _, stderr = self.proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, stderr = self.proc.communicate()
        self.stderr = stderr.decode()
        return self.proc.returncode


class Browserish:
    """Just enough of a browser: a session cookie and same-origin JSON-RPC posts."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.cookie = ""

    def call(self, project: str | None, method: str, **params: Any) -> Any:
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).encode()
        request = urllib.request.Request(f"{self.base}/rpc", data=body, method="POST")
        request.add_header("Content-Type", "application/json")
        request.add_header("Origin", self.base)
        if project:
            request.add_header("X-Hero-Project", project)
        if self.cookie:
            request.add_header("Cookie", self.cookie)
        with urllib.request.urlopen(request, timeout=10) as response:
            cookie = response.headers.get("Set-Cookie")
            if cookie:
                self.cookie = cookie.split(";", 1)[0]
            answer = json.loads(response.read())
        assert "result" in answer, answer
        return answer["result"]


@contextlib.contextmanager
def taken_port(port: int) -> Iterator[None]:
    """Hold 127.0.0.1:PORT (listening, so nobody can share it) unless someone else already does."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        with contextlib.suppress(OSError):  # already taken: just as good
            sock.bind(("127.0.0.1", port))
            sock.listen(1)
        yield
    finally:
        sock.close()


def wait_connected(browser: Browserish) -> dict[str, Any]:
    deadline = time.monotonic() + 15
    while True:
        status = browser.call(None, "ui.status")
        if all(p["state"] == "connected" for p in status["projects"]) or time.monotonic() > deadline:
            return status
        time.sleep(0.2)


def test_demo_runs_signs_in_and_stops_cleanly(tmp_path: Path) -> None:
    data = tmp_path / "demo-data"
    demo = Demo(data, "--listen", "127.0.0.1:0")
    try:
        with urllib.request.urlopen(f"{demo.address}/health", timeout=10) as response:
            assert json.loads(response.read())["status"] == "ok"
        with urllib.request.urlopen(f"{demo.address}/tickets/acme/1", timeout=10) as response:
            assert b'src="/static/js/main.js"' in response.read()
        browser = Browserish(demo.address)
        status = wait_connected(browser)
        assert [(p["name"], p["state"]) for p in status["projects"]] == [("acme", "connected"), ("globex", "connected")]

        links = demo.links()
        for role, email, expected_role in (("Agent", "sam@", "support"), ("Customer", "carol@", "customer")):
            pairs = parse_qsl(urlsplit(links[role]).query)
            projects = [v for k, v in pairs if k == "project"]
            tokens = [v for k, v in pairs if k == "token"]
            assert projects == ["acme", "globex"] and len(tokens) == 2  # one click signs into both desks
            person = Browserish(demo.address)
            person.call(None, "ui.status")
            for project, token in zip(projects, tokens, strict=True):
                signed = person.call(project, "auth.consume_magic_link", token=token)
                assert signed["user"]["email"].startswith(email) and signed["user"]["role"] == expected_role
            tickets = person.call("acme", "ticket.list", status="open")["items"]
            assert tickets, "the seeded desk has open tickets"
        for project in ("acme", "globex"):
            assert browser.call(project, "project.info")["name"] == project
        assert (data / ".demo-seeded").exists()
    finally:
        code = demo.stop()
    assert code == 0, demo.stderr

    # Kept data is reused: the second start does not seed again (the same tickets, no duplicates).
    # Without --listen it takes 8080, or a free port when 8080 is taken (as it is now, by us or by someone else).
    with taken_port(8080):
        again = Demo(data)
    try:
        assert not again.address.endswith(":8080")
        carol = Browserish(again.address)
        carol.call(None, "ui.status")
        wait_connected(carol)
        pairs = parse_qsl(urlsplit(again.links()["Customer"]).query)
        carol.call("acme", "auth.consume_magic_link", token=next(v for k, v in pairs if k == "token"))
        titles = [t["title"] for t in carol.call("acme", "ticket.list", status="open")["items"]]
        assert len(titles) == len(set(titles)) == 1  # Carol's one open acme ticket, once
    finally:
        assert again.stop() == 0, again.stderr
    assert "cannot listen on 127.0.0.1:8080" in again.stderr and "using a free port instead" in again.stderr
