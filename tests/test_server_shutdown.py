"""SIGTERM: every subscriber is closed with 1001 at once, requests in flight finish, the process exits 0 —
and it does not sit out its grace period when nothing needs it (WIRE.md section 1)."""

from __future__ import annotations

import signal

import trio

from ._server_fixtures import Http, ServerProcess, WsClient, project_dirs, setup_people

SUBSCRIBERS = 100


async def test_sigterm_closes_a_hundred_subscribers_with_1001_and_exits_0() -> None:
    with project_dirs() as dirs:
        # A grace period and a heartbeat far longer than the hang guards below: exiting in time proves
        # neither was waited out (a server that keeps a closed WebSocket until its next ping would).
        server = await ServerProcess(dirs, "--grace-period", "120", "--heartbeat", "120").astart()
        try:
            await setup_people(dirs.rpc, ("sam@example.com", "support"))
            codes: list[int | None] = []
            subscribed = trio.Semaphore(0)

            async def subscriber() -> None:
                stream = await trio.open_unix_socket(str(dirs.events))
                async with stream:
                    client = await WsClient.connect(stream, "/events", {"x-hero-user": "sam@example.com"})
                    assert (await client.receive_json())["type"] == "subscribed"
                    subscribed.release()
                    while await client.receive_json() is not None:
                        pass
                    codes.append(client.close_code)

            idle = Http(await trio.open_unix_socket(str(dirs.rpc)))  # an idle keep-alive connection
            try:
                assert (await idle.request("GET", "/health")).status == 200
                with trio.fail_after(60):  # hang guards, not speed checks
                    async with trio.open_nursery() as nursery:
                        for _ in range(SUBSCRIBERS):
                            nursery.start_soon(subscriber)
                        for _ in range(SUBSCRIBERS):
                            await subscribed.acquire()
                        server.signal(signal.SIGTERM)
                    assert await server.wait_exit(timeout=60) == 0
            finally:
                await idle.aclose()
            assert codes == [1001] * SUBSCRIBERS
            assert "Traceback" not in server.log
        finally:
            if server.proc is not None and server.proc.poll() is None:
                server.kill()


async def test_a_request_in_flight_at_sigterm_is_answered_then_the_connection_closes() -> None:
    with project_dirs() as dirs:
        server = await ServerProcess(dirs).astart()
        try:
            params = b'{"email":"late@example.com","role":"customer"}'
            body = b'{"jsonrpc":"2.0","id":1,"method":"user.enroll","params":%s}' % params
            head = b"POST /rpc HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n"
            stream = await trio.open_unix_socket(str(dirs.rpc))
            async with stream:
                await stream.send_all(head % len(body) + body[:10])  # in flight: the head is in, the body is not
                await trio.sleep(0.3)
                server.signal(signal.SIGTERM)
                await server.wait_for_line(r"stopping project=")
                await stream.send_all(body[10:])
                answer = b""
                with trio.fail_after(60):
                    while chunk := await stream.receive_some(65536):
                        answer += chunk
            status, _, rest = answer.partition(b"\r\n")
            assert status == b"HTTP/1.1 200 ", answer
            assert b"connection: close" in rest.lower() and b'"email":"late@example.com"' in rest
            assert await server.wait_exit(timeout=60) == 0
        finally:
            if server.proc is not None and server.proc.poll() is None:
                server.kill()


async def test_a_half_sent_request_head_does_not_hold_the_stop() -> None:
    with project_dirs() as dirs:
        server = await ServerProcess(dirs, "--grace-period", "120").astart()
        try:
            stream = await trio.open_unix_socket(str(dirs.rpc))
            async with stream:
                await stream.send_all(b"GET /hea")  # a head never finished: no request is in flight
                await trio.sleep(0.3)
                server.signal(signal.SIGTERM)
                answer = b""
                with trio.fail_after(60):  # a hang guard: the grace period is twice as long
                    while chunk := await stream.receive_some(65536):
                        answer += chunk
                    assert await server.wait_exit(timeout=60) == 0
            assert answer == b"" or answer.startswith(b"HTTP/1.1 503"), answer
        finally:
            if server.proc is not None and server.proc.poll() is None:
                server.kill()
