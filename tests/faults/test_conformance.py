"""HTTP/1.1 (RFC 9110/9112) and the RFC 6455 handshake on every listener of a project server."""

from __future__ import annotations

from collections.abc import Iterator

import h11
import pytest
import trio

from .._server_fixtures import Http
from ._peers import RPC_BODY, Faulty, exchange, fault_server, read_until, status_of, still_serving, upgrade


@pytest.fixture(scope="module")
def faulty() -> Iterator[Faulty]:
    with fault_server() as faulty:
        yield faulty


# a path each listener serves with GET, and one it serves with another method only
GET_PATH = {"events": "/events", "rpc": "/health", "overlay": "/health"}
LISTENERS = ["events", "rpc", "overlay"]


async def _client(faulty: Faulty, listener: str) -> Http:
    return Http(await faulty.open(listener))


async def _get(client: Http, listener: str) -> int:
    headers = {"accept": "text/event-stream"} if listener == "events" else {}
    if listener == "events":  # an SSE stream never ends: a refused one (bad since) is a whole answer
        response = await client.request("GET", "/events?since=bad", headers=headers)
        assert response.status == 400
        return response.status
    response = await client.request("GET", GET_PATH[listener], headers=headers)
    assert response.status == 200
    return response.status


@pytest.mark.parametrize("listener", LISTENERS)
async def test_keep_alive_serves_two_requests_on_one_connection(faulty: Faulty, listener: str) -> None:
    client = await _client(faulty, listener)
    try:
        await _get(client, listener)
        await _get(client, listener)
        if listener != "events":
            assert "role" in await client.call("auth.whoami")  # a JSON-RPC call, third on the connection
    finally:
        await client.aclose()
    await still_serving(faulty)


@pytest.mark.parametrize("listener", ["rpc", "overlay"])
async def test_pipelined_requests_are_answered_in_order(faulty: Faulty, listener: str) -> None:
    first = b"GET /health HTTP/1.1\r\nhost: x\r\n\r\n"
    second = (
        b"POST /rpc HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: "
        + str(len(RPC_BODY)).encode()
        + b"\r\n\r\n"
        + RPC_BODY
    )
    third = b"GET /.well-known/heroservice.json HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n"
    stream = await faulty.open(listener)
    async with stream:
        answer = await exchange(stream, first + second + third)  # all at once; the last asks for the close
    parser = h11.Connection(h11.CLIENT)
    parser.receive_data(answer)
    parser.receive_data(b"")
    bodies = []
    for request in (
        h11.Request(method="GET", target="/health", headers=[("host", "x")]),
        h11.Request(method="POST", target="/rpc", headers=[("host", "x"), ("content-length", str(len(RPC_BODY)))]),
        h11.Request(method="GET", target="/x", headers=[("host", "x"), ("connection", "close")]),
    ):
        parser.send(request)
        if request.method == b"POST":
            parser.send(h11.Data(data=RPC_BODY))
        parser.send(h11.EndOfMessage())
        body = b""
        while not isinstance(event := parser.next_event(), h11.EndOfMessage):
            if isinstance(event, h11.Response):
                assert event.status_code == 200
            elif isinstance(event, h11.Data):
                body += bytes(event.data)
        bodies.append(body)
        if parser.our_state is h11.DONE and parser.their_state is h11.DONE:
            parser.start_next_cycle()
    assert b'"status":"ok"' in bodies[0]
    assert b'"jsonrpc":"2.0"' in bodies[1] and b'"id":1' in bodies[1]
    assert b'"protocol":"openrpc"' in bodies[2]
    await still_serving(faulty)


@pytest.mark.parametrize("listener", ["events", "overlay"])
async def test_pipelined_requests_on_the_event_listeners(faulty: Faulty, listener: str) -> None:
    bad = b"GET /events?since=bad HTTP/1.1\r\nhost: x\r\naccept: text/event-stream\r\n\r\n"
    missing = b"GET /nowhere HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n"
    stream = await faulty.open(listener)
    async with stream:
        answer = await exchange(stream, bad + missing)
    assert answer.startswith(b"HTTP/1.1 400")
    assert answer.count(b"HTTP/1.1 ") == 2 and b"HTTP/1.1 404" in answer
    await still_serving(faulty)


@pytest.mark.parametrize("listener", ["rpc", "overlay"])
async def test_head_has_the_headers_and_no_body(faulty: Faulty, listener: str) -> None:
    client = await _client(faulty, listener)
    try:
        head = await client.request("HEAD", "/health")
        assert head.status == 200 and head.body == b""
        assert int(head.headers["content-length"]) > 0
        # no body followed: the next answer on the connection parses from its first byte
        assert (await client.request("GET", "/health")).json()["status"] == "ok"
    finally:
        await client.aclose()
    await still_serving(faulty)


@pytest.mark.parametrize("listener", LISTENERS)
async def test_every_answer_has_a_date_and_errors_are_404_and_405_with_allow(faulty: Faulty, listener: str) -> None:
    client = await _client(faulty, listener)
    try:
        missing = await client.request("GET", "/no/such/thing")
        assert missing.status == 404 and "date" in missing.headers
        wrong = await client.request("DELETE", GET_PATH[listener] if listener != "events" else "/events")
        assert wrong.status == 405 and "date" in wrong.headers
        assert "GET" in wrong.headers["allow"]
        if listener != "events":
            rpc = await client.request("GET", "/rpc")
            assert rpc.status == 405 and rpc.headers["allow"] == "POST"
            assert "date" in (await client.request("GET", "/health")).headers
    finally:
        await client.aclose()
    await still_serving(faulty)


HANDSHAKES = {
    "version_8": (upgrade(version=b"8"), 426),
    "no_version": (upgrade(version=None), 426),
    "no_key": (upgrade(key=None), 400),
    "key_not_base64": (upgrade(key=b"not base64 at all!"), 400),
    "key_of_8_bytes": (upgrade(key=b"AAAAAAAAAAA="), 400),
    "over_http_1_0": (upgrade(http=b"1.0"), 400),
}


@pytest.mark.parametrize("listener", ["events", "overlay"])
@pytest.mark.parametrize("case", list(HANDSHAKES))
async def test_a_bad_handshake_is_refused(faulty: Faulty, listener: str, case: str) -> None:
    data, status = HANDSHAKES[case]
    stream = await faulty.open(listener)
    async with stream:
        answer = await exchange(stream, data)
    assert status_of(answer) == status, answer[:300]
    if status == 426:
        assert b"sec-websocket-version: 13\r\n" in answer.lower()
    await still_serving(faulty)


@pytest.mark.parametrize("listener", ["rpc", "overlay"])
async def test_100_continue(faulty: Faulty, listener: str) -> None:
    stream = await faulty.open(listener)
    async with stream:
        head = (
            b"POST /rpc HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\nexpect: 100-continue\r\n"
            b"content-length: " + str(len(RPC_BODY)).encode() + b"\r\n\r\n"
        )
        await stream.send_all(head)
        with trio.fail_after(30):
            interim = await read_until(stream, b"\r\n\r\n")
        assert interim.startswith(b"HTTP/1.1 100 "), interim[:200]
        await stream.send_all(RPC_BODY)
        answer = await read_until(stream, b'"id":1')
    final = answer[answer.index(b"HTTP/1.1 ", 1) :] if answer.count(b"HTTP/1.1 ") > 1 else answer
    assert final.startswith(b"HTTP/1.1 200"), answer[:300]
    await still_serving(faulty)
