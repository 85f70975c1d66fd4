"""Bad input over HTTP gets a clear error, and the server keeps serving everyone else."""

from __future__ import annotations

from collections.abc import Iterator

import h11
import pytest
import trio

from ._server_fixtures import Http, ServerProcess, WsClient, WsRejected, http_unix, running_server, sse, websocket

LIMIT = 16 * 1024 * 1024


@pytest.fixture(scope="module")
def server() -> Iterator[ServerProcess]:
    with running_server() as server:
        yield server


async def still_serving(server: ServerProcess) -> None:
    async with http_unix(server.dirs.rpc) as client:
        assert (await client.request("GET", "/health")).status == 200
        assert (await client.call("auth.whoami"))["role"] == "admin"


async def raw_exchange(server: ServerProcess, data: bytes, *, half_close: bool = False) -> bytes:
    """Send raw bytes, read until the server closes (or 5 s)."""
    stream = await trio.open_unix_socket(str(server.dirs.rpc))
    received = b""
    async with stream:
        try:
            await stream.send_all(data)
            if half_close:
                await stream.send_eof()
            with trio.move_on_after(5):
                while chunk := await stream.receive_some(65536):
                    received += chunk
        except trio.BrokenResourceError:
            pass  # the server closed on us with our bytes unread: a reset, which is fine here
    return received


async def test_wrong_content_type_is_415_and_the_connection_stays_usable(server: ServerProcess) -> None:
    async with http_unix(server.dirs.rpc) as client:
        response = await client.request(
            "POST",
            "/rpc",
            headers={"content-type": "text/plain"},
            body=b'{"jsonrpc":"2.0","id":1,"method":"auth.whoami"}',
        )
        assert response.status == 415
        assert "application/json" in response.json()["error"]["message"]
        no_type = await client.request("POST", "/rpc", body=b"{}")
        assert no_type.status == 415
        # the refused bodies were consumed: the same keep-alive connection serves the next request
        assert (await client.request("GET", "/health")).status == 200


async def test_a_refused_request_whose_body_comes_late_leaves_the_connection_usable() -> None:
    with running_server() as server:
        stream = await trio.open_unix_socket(str(server.dirs.rpc))
        async with stream:
            client = Http(stream)
            body = b'{"jsonrpc":"2.0","id":1,"method":"auth.whoami"}'
            await client.send_head("POST", "/rpc", [("content-type", "text/plain"), ("content-length", str(len(body)))])
            await trio.sleep(0.3)  # the server has decided on 415 long before the body arrives
            await stream.send_all(client.conn.send(h11.Data(data=body)) + client.conn.send(h11.EndOfMessage()))
            head = await client.read_head()
            assert head.status_code == 415
            while not isinstance(await client._receive_event(), h11.EndOfMessage):
                pass
            client.conn.start_next_cycle()
            assert (await client.request("GET", "/health")).status == 200


async def test_content_type_parameters_are_accepted(server: ServerProcess) -> None:
    async with http_unix(server.dirs.rpc) as client:
        response = await client.request(
            "POST",
            "/rpc",
            headers={"content-type": "application/json; charset=utf-8"},
            body=b'{"jsonrpc":"2.0","id":1,"method":"auth.whoami","params":{}}',
        )
    assert response.status == 200
    assert response.json()["result"]["role"] == "admin"


async def test_unknown_paths_and_wrong_methods_get_json_errors(server: ServerProcess) -> None:
    async with http_unix(server.dirs.rpc) as client:
        missing = await client.request("GET", "/nope/../etc/passwd")
        assert missing.status == 404
        assert missing.json()["error"]["status"] == 404
        wrong = await client.request("GET", "/rpc")
        assert wrong.status == 405
        assert wrong.headers["allow"] == "POST"
        assert "POST" in wrong.json()["error"]["message"]
        put = await client.request("PUT", "/health", body=b"x")
        assert put.status == 405
    await still_serving(server)


async def test_a_declared_oversized_body_is_refused_before_it_is_sent(server: ServerProcess) -> None:
    stream = await trio.open_unix_socket(str(server.dirs.rpc))
    async with stream:
        client = Http(stream)
        await client.send_head(
            "POST", "/rpc", [("content-type", "application/json"), ("content-length", str(LIMIT + 1))]
        )
        with trio.fail_after(5):  # not one byte of the body was sent, and the answer comes anyway
            head = await client.read_head()
        assert head.status_code == 413
        assert (b"connection", b"close") in list(head.headers)
    await still_serving(server)


async def test_a_streamed_body_over_the_limit_is_cut_off_with_413(server: ServerProcess) -> None:
    stream = await trio.open_unix_socket(str(server.dirs.rpc))
    async with stream:
        # chunked: no length announced, so the server has to count while reading
        await stream.send_all(
            b"POST /rpc HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n"
        )
        chunk = b"%x\r\n%s\r\n" % (1024 * 1024, b" " * (1024 * 1024))
        received = b""

        async def send_too_much() -> None:
            try:
                for _ in range(40):  # 40 MiB, far beyond the limit
                    await stream.send_all(chunk)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                pass  # the server stopped reading, as it should

        async with trio.open_nursery() as nursery:
            nursery.start_soon(send_too_much)
            with trio.fail_after(20):
                while b"\r\n\r\n" not in received:
                    data = await stream.receive_some(65536)
                    if not data:
                        break
                    received += data
            nursery.cancel_scope.cancel()
    assert received.startswith(b"HTTP/1.1 413")
    await still_serving(server)


async def test_a_body_cut_short_by_a_closed_connection_changes_nothing(server: ServerProcess) -> None:
    body = b'{"jsonrpc":"2.0","id":1,"method":"user.enroll","params":{"email":"half@example.com","role":"customer"}}'
    stream = await trio.open_unix_socket(str(server.dirs.rpc))
    async with stream:
        await stream.send_all(
            b"POST /rpc HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s"
            % (len(body), body[: len(body) // 2])
        )
        await trio.sleep(0.1)
    await server.wait_for_line(r"method=POST path=/rpc status=499")
    async with http_unix(server.dirs.rpc) as client:
        users = await client.call("user.list", query="half@example.com")
    assert users["items"] == []  # the half request was never executed
    await still_serving(server)


async def test_a_body_cut_short_by_end_of_stream_gets_400(server: ServerProcess) -> None:
    answer = await raw_exchange(
        server,
        b'POST /rpc HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{"jsonrpc"',
        half_close=True,
    )
    assert answer == b"" or answer.startswith(b"HTTP/1.1 400")
    await still_serving(server)


async def test_truncated_json_is_a_json_rpc_parse_error(server: ServerProcess) -> None:
    async with http_unix(server.dirs.rpc) as client:
        response = await client.request(
            "POST", "/rpc", headers={"content-type": "application/json"}, body=b'{"jsonrpc":"2.0","id":1,"meth'
        )
    assert response.status == 200
    assert response.json()["error"]["code"] == -32700


async def test_malformed_http_gets_400_and_a_closed_connection(server: ServerProcess) -> None:
    answer = await raw_exchange(server, b"THIS IS NOT HTTP\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 400")
    huge_header = b"GET /health HTTP/1.1\r\nhost: x\r\nx-junk: " + b"a" * 100_000 + b"\r\n\r\n"
    answer = await raw_exchange(server, huge_header)
    assert answer == b"" or answer.split(b" ")[1] in (b"400", b"431")
    await still_serving(server)


async def test_event_stream_requests_are_checked(server: ServerProcess) -> None:
    async with http_unix(server.dirs.events) as client:
        plain = await client.request("GET", "/events")
        assert plain.status == 406
        assert "text/event-stream" in plain.json()["error"]["message"]
        bad = await client.request("GET", "/events?since=abc", headers={"accept": "text/event-stream"})
        assert bad.status == 400
        assert "since" in bad.json()["error"]["message"]
    with pytest.raises(WsRejected) as refused:
        async with websocket(server.dirs.events, "/events?since=-1"):
            pass
    assert refused.value.status == 400
    with pytest.raises(WsRejected) as refused:
        async with websocket(server.dirs.events, "/elsewhere"):
            pass
    assert refused.value.status == 404


async def test_a_websocket_closed_mid_frame_leaves_the_server_serving(server: ServerProcess) -> None:
    stream = await trio.open_unix_socket(str(server.dirs.events))
    client = await WsClient.connect(stream, "/events")
    assert (await client.receive_json())["type"] == "subscribed"
    # the first bytes of a masked 64 KiB text frame, then the connection is gone
    await stream.send_all(b"\x81\xfe\xff\xff\x01\x02\x03\x04partial")
    await stream.aclose()
    await server.wait_for_line(r"path=/events status=101 ms=[\d.]+ stream=websocket outcome=client_gone")
    async with websocket(server.dirs.events, "/events") as again:
        assert (await again.receive_json())["type"] == "subscribed"
    await still_serving(server)


async def test_a_websocket_protocol_violation_closes_only_that_stream(server: ServerProcess) -> None:
    async with websocket(server.dirs.events, "/events") as bad, sse(server.dirs.events) as bystander:
        assert (await bad.receive_json())["type"] == "subscribed"
        assert (await bystander.next()).data["type"] == "subscribed"
        await bad.stream.send_all(b"\x83\x80\x00\x00\x00\x00")  # reserved opcode 0x3
        with trio.fail_after(5):
            assert await bad.receive_json() is None
        assert bad.close_code in (1002, 1006)  # hypercorn drops the connection on a protocol error
        async with http_unix(server.dirs.rpc) as client:
            await client.call("presence.update", status="away", status_text="")
        with trio.fail_after(5):
            event = await bystander.next()
        assert event is not None and event.data["type"] == "presence.updated"
