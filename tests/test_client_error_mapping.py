"""Every wire error code to its class, and every way a server can misbehave to a transport error.

A scripted HTTP/1.1 server on a Unix socket answers what each test tells it to, so the cases a real
server never produces on purpose (an internal error, a reply for another id, a body cut short, garbage)
are covered too. The client must raise the documented class, never an h11 / OSError / KeyError.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import h11
import pytest
import trio

from hero_assistance.core import ERRORS_BY_CODE, HeroAssistanceError, RpcError
from hero_assistance.transport._client import Client, connect
from hero_assistance.transport._client_endpoint import parse_url
from hero_assistance.transport._errors import ConnectionLost, ProtocolError, TransportError

# What the scripted server does with one request: given the parsed JSON body and the number of the
# request on its connection, it sends raw bytes (or None to hang up without answering).
Script = Callable[[Any, int], bytes | None]


def http_response(status: int, body: bytes, *, extra: str = "") -> bytes:
    head = f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n{extra}\r\n"
    return head.encode() + body


def rpc_reply(request: Any, **member: Any) -> bytes:
    return http_response(200, json.dumps({"jsonrpc": "2.0", "id": request["id"], **member}).encode())


class ScriptedServer:
    def __init__(self, path: Path, script: Script, *, close_after_answer: bool = False) -> None:
        self.path = path
        self.script = script
        self.close_after_answer = close_after_answer
        self.connections = 0
        self.requests = 0

    async def serve(
        self, *, task_status: trio.TaskStatus[list[trio.SocketListener]] = trio.TASK_STATUS_IGNORED
    ) -> None:
        sock = trio.socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        await sock.bind(str(self.path))
        sock.listen(16)
        await trio.serve_listeners(self._handle, [trio.SocketListener(sock)], task_status=task_status)

    async def _handle(self, stream: trio.SocketStream) -> None:
        self.connections += 1
        conn = h11.Connection(h11.SERVER)
        number = 0
        async with stream:
            while True:
                body = b""
                while True:
                    event = conn.next_event()
                    if event is h11.NEED_DATA:
                        data = await stream.receive_some(65536)
                        if not data:
                            return
                        conn.receive_data(data)
                    elif isinstance(event, h11.Data):
                        body += event.data
                    elif isinstance(event, h11.EndOfMessage):
                        break
                number += 1
                self.requests += 1
                answer = self.script(json.loads(body), number)
                if answer is None:
                    return
                await stream.send_all(answer)
                if self.close_after_answer:
                    return
                # Reset h11's view for the next request: the raw bytes we wrote bypassed it.
                conn = h11.Connection(h11.SERVER)


async def scripted(
    nursery: trio.Nursery, tmp_path: Path, script: Script, *, close_after_answer: bool = False
) -> tuple[ScriptedServer, str]:
    server = ScriptedServer(tmp_path / "rpc.sock", script, close_after_answer=close_after_answer)
    await nursery.start(server.serve)
    return server, f"unix:{server.path}"


@pytest.mark.parametrize("code", sorted(ERRORS_BY_CODE))
async def test_each_wire_code_raises_its_class(tmp_path: Path, code: int) -> None:
    def script(request: Any, _n: int) -> bytes:
        return rpc_reply(request, error={"code": code, "message": "told so", "data": {"why": code}})

    async with trio.open_nursery() as nursery:
        _server, url = await scripted(nursery, tmp_path, script)
        async with connect(url) as client:
            with pytest.raises(ERRORS_BY_CODE[code]) as raised:
                await client.call("anything")
            assert (raised.value.code, raised.value.message, raised.value.data) == (code, "told so", {"why": code})
            # The typed namespaces raise the same classes.
            with pytest.raises(ERRORS_BY_CODE[code]):
                await client.tickets.get(1)
        nursery.cancel_scope.cancel()


async def test_an_unknown_code_is_a_plain_rpc_error(tmp_path: Path) -> None:
    async with trio.open_nursery() as nursery:
        _server, url = await scripted(nursery, tmp_path, lambda r, n: rpc_reply(r, error={"code": -31999}))
        async with connect(url) as client:
            with pytest.raises(RpcError) as raised:
                await client.call("x")
            assert type(raised.value) is RpcError and raised.value.code == -31999
        nursery.cancel_scope.cancel()


BAD_ANSWERS: dict[str, tuple[Script, type[Exception]]] = {
    "http 500": (lambda r, n: http_response(500, b"oops"), ProtocolError),
    "http 204 to a call": (lambda r, n: b"HTTP/1.1 204 No Content\r\n\r\n", ProtocolError),
    "not json": (lambda r, n: http_response(200, b"<html>"), ProtocolError),
    "json but not a response": (lambda r, n: http_response(200, b"[1, 2]"), ProtocolError),
    "another call's id": (lambda r, n: rpc_reply({"id": r["id"] + 1}, result=1), ProtocolError),
    "no result and no error": (lambda r, n: rpc_reply(r), ProtocolError),
    "malformed error object": (lambda r, n: rpc_reply(r, error="bad"), ProtocolError),
    "error without a code": (lambda r, n: rpc_reply(r, error={"message": "?"}), ProtocolError),
    "not http at all": (lambda r, n: b"SSH-2.0-OpenSSH\r\n\r\n", ProtocolError),
    "hang up without answering": (lambda r, n: None, ConnectionLost),
    "body cut short": (lambda r, n: http_response(200, b'{"jsonrpc": "2.0"}')[:-5], ConnectionLost),
}


@pytest.mark.parametrize("case", sorted(BAD_ANSWERS))
async def test_misbehaving_servers_raise_transport_errors(tmp_path: Path, case: str) -> None:
    script, expected = BAD_ANSWERS[case]

    async with trio.open_nursery() as nursery:
        _server, url = await scripted(nursery, tmp_path, script, close_after_answer=True)
        client = Client(url)
        with pytest.raises(expected):
            await client.call("ticket.create", title="x")
        assert client.statistics().open == 0  # whatever broke, that connection is gone
        await client.aclose()
        nursery.cancel_scope.cancel()


async def test_transport_errors_share_one_root() -> None:
    assert issubclass(ConnectionLost, TransportError) and issubclass(ProtocolError, TransportError)
    assert issubclass(TransportError, HeroAssistanceError) and issubclass(RpcError, HeroAssistanceError)


async def test_a_server_closing_an_idle_connection_costs_nothing(tmp_path: Path) -> None:
    # The server hangs up after every answer, without saying "Connection: close". The pooled connection
    # reads as hung up before reuse, so the next call quietly opens a new one.
    async with trio.open_nursery() as nursery:
        _server, url = await scripted(
            nursery, tmp_path, lambda r, n: rpc_reply(r, result="fresh"), close_after_answer=True
        )
        async with connect(url) as client:
            for _ in range(5):
                assert await client.call("ticket.create", title="x") == "fresh"
                await trio.sleep(0.01)  # let the server's FIN arrive
            stats = client.statistics()
            assert stats.poisoned == 0 and stats.opened >= 5
        nursery.cancel_scope.cancel()


async def test_stale_keepalive_race_is_retried_only_for_idempotent_methods(tmp_path: Path) -> None:
    # The server answers the first request on each connection and hangs up on the second without a word:
    # the race where the server closes an idle connection just as a request is sent on it.
    def script(request: Any, number: int) -> bytes | None:
        return rpc_reply(request, result="ok") if number == 1 else None

    async with trio.open_nursery() as nursery:
        server, url = await scripted(nursery, tmp_path, script)
        async with connect(url) as client:
            assert await client.call("auth.whoami") == "ok"
            assert await client.call("auth.whoami") == "ok"  # idempotent: resent on a fresh connection
            assert server.requests == 3
            with pytest.raises(ConnectionLost):
                await client.call("ticket.create", title="x")  # a write: may have happened, not resent
            assert server.requests == 4
        nursery.cancel_scope.cancel()


def test_identity_must_be_one_clean_header() -> None:
    with pytest.raises(ValueError, match="not both"):
        Client("unix:/x/rpc.sock", as_user="ann@example.com", as_device="k")
    for bad in ("", "ann@example.com\r\nX-Hero-User: admin", "a\0b"):
        with pytest.raises(ValueError):
            Client("unix:/x/rpc.sock", as_user=bad)


def test_url_forms() -> None:
    rpc, events = parse_url("unix:/run/x/acme/rpc.sock")
    assert (rpc.endpoint.unix_path, rpc.path) == ("/run/x/acme/rpc.sock", "/rpc")
    assert (events.endpoint.unix_path, events.path) == ("/run/x/acme/events.sock", "/events")
    rpc, events = parse_url("unix:///run/x/acme/rpc.sock", "unix:/elsewhere/ev.sock")
    assert rpc.endpoint.unix_path == "/run/x/acme/rpc.sock" and events.endpoint.unix_path == "/elsewhere/ev.sock"
    rpc, events = parse_url("http://[4ab:1::1]:8443")
    assert (rpc.endpoint.host, rpc.endpoint.port, rpc.path, events.path) == ("4ab:1::1", 8443, "/rpc", "/events")
    assert rpc.endpoint.host_header == "[4ab:1::1]:8443"
    rpc, events = parse_url("http://127.0.0.1:9000/rpc", "ws://127.0.0.1:9001")
    assert (rpc.path, events.endpoint.port, events.path) == ("/rpc", 9001, "/events")
    for bad in ("unix:relative.sock", "https://[::1]:1", "http://[::1]", "ftp://x:1", "http://[::1]:99999"):
        with pytest.raises(ValueError):
            parse_url(bad)
