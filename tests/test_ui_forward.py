"""The ui's raw forwarder: keep-alive reuse, and a request cancelled half-way never poisons the next."""

from __future__ import annotations

import h11
import trio

from hero_assistance.ui._forward import Upstream, UpstreamUnavailable

from ._ui_fixtures import short_tmp, unix_listener


class ReversingServer:
    """Answers each request with its body reversed; a body of ``slow`` is answered only once released."""

    def __init__(self) -> None:
        self.connections = 0
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
                    elif isinstance(event, h11.Data):
                        body += bytes(event.data)
                    elif isinstance(event, h11.EndOfMessage):
                        break
                    elif isinstance(event, h11.ConnectionClosed):
                        return
                if body == b"slow":
                    self.slow_arrived.set()
                    await self.release.wait()
                answer = body[::-1]
                try:
                    await stream.send_all(
                        conn.send(h11.Response(status_code=200, headers=[("Content-Length", str(len(answer)))]))
                    )
                    await stream.send_all(conn.send(h11.Data(data=answer)))
                    await stream.send_all(conn.send(h11.EndOfMessage()))
                except trio.BrokenResourceError:
                    return
                conn.start_next_cycle()


async def test_connections_are_reused_and_a_cancelled_request_poisons_nothing() -> None:
    server = ReversingServer()
    with short_tmp() as root:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(trio.serve_listeners, server.handle, [await unix_listener(root / "rpc.sock")])
            upstream = Upstream(f"unix:{root / 'rpc.sock'}")
            for i in range(5):
                assert (await upstream.request("POST", "/rpc", [], f"call {i}".encode())).body == f"{i} llac".encode()
            assert server.connections == 1  # one kept-alive connection carried all five

            # Cancelled after the request went out and before its answer came back: that connection is
            # closed, so the late answer ("wols") can never be read as the answer to a later call.
            async with trio.open_nursery() as inner:

                async def slow_call() -> None:
                    await upstream.request("POST", "/rpc", [], b"slow")

                inner.start_soon(slow_call)
                await server.slow_arrived.wait()
                inner.cancel_scope.cancel()
            server.release.set()
            for i in range(3):
                assert (await upstream.request("POST", "/rpc", [], f"after {i}".encode())).body == f"{i} retfa".encode()
            assert server.connections == 2
            await upstream.aclose()
            nursery.cancel_scope.cancel()


async def test_an_absent_project_is_unavailable_not_a_crash() -> None:
    upstream = Upstream("unix:/nonexistent/hero/rpc.sock")
    try:
        await upstream.request("GET", "/health")
    except UpstreamUnavailable as exc:
        assert "cannot connect to unix:/nonexistent/hero/rpc.sock" in str(exc)
    else:
        raise AssertionError("expected UpstreamUnavailable")
