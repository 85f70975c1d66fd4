"""The SDK's one HTTP/1.1 client as proxies and probes use it: ``Client.forward``/``Client.get`` and ``HttpPool``.

Bytes go through untouched both ways, connections are kept alive, a request cancelled half-way never
poisons the next one, and every failure is a transport error (what the ui and the supervisor rely on).
"""

from __future__ import annotations

import h11
import pytest
import trio

from hero_assistance.transport import Client, ConnectFailed, HttpPool, ProtocolError

from ._ui_fixtures import short_tmp, unix_listener


class ReversingServer:
    """Answers each request with its body reversed and records what arrived; a body of ``slow`` waits for release."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.connections = 0
        self.requests: list[h11.Request] = []
        self.slow_arrived = trio.Event()
        self.release = trio.Event()

    async def handle(self, stream: trio.SocketStream) -> None:
        self.connections += 1
        conn = h11.Connection(h11.SERVER)
        async with stream:
            while True:
                body = b""
                while True:
                    event = conn.next_event()
                    if event is h11.NEED_DATA:
                        try:
                            conn.receive_data(await stream.receive_some(65536))
                        except trio.BrokenResourceError:
                            return
                    elif isinstance(event, h11.Request):
                        self.requests.append(event)
                    elif isinstance(event, h11.Data):
                        body += bytes(event.data)
                    elif isinstance(event, h11.EndOfMessage):
                        break
                    elif isinstance(event, h11.ConnectionClosed):
                        return
                if body == b"slow":
                    self.slow_arrived.set()
                    await self.release.wait()
                answer = body[::-1] or self.requests[-1].target
                head = h11.Response(
                    status_code=self.status, headers=[("Content-Length", str(len(answer))), ("X-Odd", "Kept")]
                )
                try:
                    await stream.send_all(conn.send(head))
                    await stream.send_all(conn.send(h11.Data(data=answer)))
                    await stream.send_all(conn.send(h11.EndOfMessage()))
                except trio.BrokenResourceError:
                    return
                if conn.our_state is not h11.DONE:
                    return
                conn.start_next_cycle()


async def test_forward_reuses_connections_and_a_cancelled_request_poisons_nothing() -> None:
    server = ReversingServer()
    with short_tmp() as root:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(trio.serve_listeners, server.handle, [await unix_listener(root / "rpc.sock")])
            async with Client(f"unix:{root / 'rpc.sock'}") as client:
                for i in range(5):
                    assert (await client.forward(f"call {i}".encode())).body == f"{i} llac".encode()
                assert server.connections == 1  # one kept-alive connection carried all five

                # Cancelled after the request went out and before its answer came back: that connection is
                # closed, so the late answer ("wols") can never be read as the answer to a later call.
                async with trio.open_nursery() as inner:
                    inner.start_soon(client.forward, b"slow")
                    await server.slow_arrived.wait()
                    inner.cancel_scope.cancel()
                server.release.set()
                for i in range(3):
                    assert (await client.forward(f"after {i}".encode())).body == f"{i} retfa".encode()
                assert server.connections == 2
                assert client.statistics().poisoned == 1
            nursery.cancel_scope.cancel()


async def test_forward_sends_the_body_as_given_and_returns_any_status_untouched() -> None:
    server = ReversingServer(status=418)
    with short_tmp() as root:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(trio.serve_listeners, server.handle, [await unix_listener(root / "rpc.sock")])
            async with Client(f"unix:{root / 'rpc.sock'}") as client:
                body = b'[{"jsonrpc":"2.0",  "method":"a.b"}, not json at all'
                answer = await client.forward(body, [("X-Hero-Device", "dev-1")])
                assert (answer.status, answer.body) == (418, body[::-1])
                assert answer.header("x-odd") == "Kept" and answer.header("X-Missing") is None
                got = await client.get("/openrpc.json")
                assert (got.status, got.body) == (418, b"/openrpc.json")
            nursery.cancel_scope.cancel()
    forwarded, fetched = server.requests
    assert (forwarded.method, forwarded.target) == (b"POST", b"/rpc")
    assert (b"x-hero-device", b"dev-1") in forwarded.headers
    assert (b"content-type", b"application/json") in forwarded.headers
    assert (fetched.method, fetched.target) == (b"GET", b"/openrpc.json")
    assert b"content-length" not in dict(fetched.headers)


async def test_an_http_pool_asks_any_daemon_and_honours_its_body_cap() -> None:
    server = ReversingServer()
    with short_tmp() as root:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(trio.serve_listeners, server.handle, [await unix_listener(root / "api.sock")])
            async with HttpPool(f"unix:{root / 'api.sock'}", max_connections=1, max_response_bytes=8) as pool:
                answer = await pool.request("POST", "/api", [("Content-Type", "text/plain")], b"12345678")
                assert (answer.status, answer.body) == (200, b"87654321")
                with pytest.raises(ProtocolError, match="larger than 8 bytes"):
                    await pool.request("POST", "/api", body=b"123456789")
                # The oversized answer poisoned its connection; the next request gets a fresh one.
                assert (await pool.request("POST", "/api", body=b"ok")).body == b"ko"
                assert pool.statistics().poisoned == 1
            nursery.cancel_scope.cancel()
    first = server.requests[0]
    assert (first.method, first.target) == (b"POST", b"/api")
    assert (b"host", b"localhost") in first.headers


async def test_an_absent_project_is_a_connect_failure_not_a_crash() -> None:
    async with Client("unix:/nonexistent/hero/rpc.sock") as client:
        with pytest.raises(ConnectFailed, match=r"cannot connect to unix:/nonexistent/hero/rpc\.sock"):
            await client.forward(b"{}")
    async with HttpPool("unix:/nonexistent/hero/api.sock") as pool:
        with pytest.raises(ConnectFailed, match=r"cannot connect to unix:/nonexistent/hero/api\.sock"):
            await pool.request("GET", "/health")
