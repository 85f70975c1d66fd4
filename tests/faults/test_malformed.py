"""Malformed request lines, heads, bodies and WebSocket frames get the answer the RFCs give them (400, 431,
a close with 1002, 1007 or 1009) and end that connection only, on every listener."""

from __future__ import annotations

import struct
from collections.abc import Iterator

import pytest
import trio

from ._peers import (
    Faulty,
    exchange,
    fault_server,
    frame,
    read_close_code,
    read_until,
    send_ignoring_hangup,
    status_of,
    still_serving,
    subscribed,
    upgrade,
)

MiB = 1024 * 1024


@pytest.fixture(scope="module")
def faulty() -> Iterator[Faulty]:
    with fault_server() as faulty:
        yield faulty


def _target(listener: str) -> bytes:
    return b"/events" if listener == "events" else b"/rpc"


BAD_HEADS = {
    "garbage_request_line": (b"THIS IS NOT HTTP\r\n\r\n", {400}),
    "binary_garbage": (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\x00\xff\r\n\r\n", {400}),
    "missing_host": (b"GET /health HTTP/1.1\r\naccept: */*\r\n\r\n", {400}),
    "header_without_colon": (b"GET /health HTTP/1.1\r\nhost: x\r\nno colon here\r\n\r\n", {400}),
    "two_content_lengths": (b"POST /rpc HTTP/1.1\r\nhost: x\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\nx", {400}),
    "bad_content_length": (b"POST /rpc HTTP/1.1\r\nhost: x\r\ncontent-length: abc\r\n\r\n", {400}),
    "head_of_100_kib": (b"GET /health HTTP/1.1\r\nhost: x\r\nx-junk: " + b"a" * 100_000 + b"\r\n\r\n", {431}),
    "head_of_1_mib": (b"GET /health HTTP/1.1\r\nhost: x\r\n" + b"x-junk: aaaaaaaaaaaaaaaa\r\n" * 40_000, {431}),
    "head_of_many_small_lines": (b"GET /health HTTP/1.1\r\nhost: x\r\n" + b"x-a: b\r\n" * 9000 + b"\r\n", {431}),
}


@pytest.mark.parametrize("listener", ["events", "rpc", "overlay"])
@pytest.mark.parametrize("case", list(BAD_HEADS))
async def test_a_malformed_head_gets_its_status_and_a_closed_connection(
    faulty: Faulty, listener: str, case: str
) -> None:
    data, statuses = BAD_HEADS[case]
    stream = await faulty.open(listener)
    async with stream:
        answer = await exchange(stream, data)  # read until the server closes: it must close
    assert status_of(answer) in statuses, answer[:300]
    await still_serving(faulty)


@pytest.mark.parametrize("listener", ["events", "rpc", "overlay"])
@pytest.mark.parametrize("case", ["bad_chunk_size", "chunk_longer_than_declared", "missing_chunk_end"])
async def test_bad_chunked_encoding_is_refused_and_closes(faulty: Faulty, listener: str, case: str) -> None:
    body = {
        "bad_chunk_size": b"zz\r\nhello\r\n0\r\n\r\n",
        "chunk_longer_than_declared": b"2\r\nhello world\r\n0\r\n\r\n",
        "missing_chunk_end": b"5\r\nhelloXX0\r\n\r\n",
    }[case]
    head = b"POST " + _target(listener) + b" HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
    stream = await faulty.open(listener)
    async with stream:
        answer = await exchange(stream, head + b"transfer-encoding: chunked\r\n\r\n" + body)
    # events.sock refuses the method first (405); either way the connection ends, and nothing was served
    assert status_of(answer) in ({400, 405} if listener == "events" else {400}), answer[:300]
    await still_serving(faulty)


@pytest.mark.parametrize("listener", ["events", "rpc", "overlay"])
async def test_a_huge_content_length_is_refused_before_any_body(faulty: Faulty, listener: str) -> None:
    head = b"POST " + _target(listener) + b" HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
    stream = await faulty.open(listener)
    async with stream:
        await stream.send_all(head + b"content-length: 99999999999999999999999\r\n\r\n{")
        answer = await read_until(stream, b"\r\n\r\n")
    assert status_of(answer) in ({400, 405, 413} if listener == "events" else {400, 413}), answer[:300]
    await still_serving(faulty)


# -- WebSocket -------------------------------------------------------------------------------------
BAD_FRAMES = {
    "unmasked_frame": (frame(0x1, b"hi", mask=False), 1002),
    "reserved_opcode": (frame(0x3, b""), 1002),
    "reserved_control_opcode": (frame(0xB, b""), 1002),
    "reserved_bits": (frame(0x1, b"hi", rsv=4), 1002),
    "continuation_without_start": (frame(0x0, b"hi"), 1002),
    "oversized_ping": (frame(0x9, b"x" * 126), 1002),
    "oversized_close": (frame(0x8, struct.pack("!H", 1000) + b"x" * 124), 1002),
    "fragmented_ping": (frame(0x9, b"x", fin=False) + frame(0x0, b"y"), 1002),
    "fragmented_close": (frame(0x8, struct.pack("!H", 1000), fin=False), 1002),
    "invalid_utf8_text": (frame(0x1, b"caf\xc3("), 1007),
    "invalid_utf8_across_fragments": (frame(0x1, b"caf\xc3", fin=False) + frame(0x0, b"("), 1007),
    "message_over_1_mib": (frame(0x1, b"a" * (MiB + 1), zero_mask=True), 1009),
    "fragments_over_1_mib": (
        b"".join(frame(0x1 if i == 0 else 0x0, b"a" * 65536, fin=False, zero_mask=True) for i in range(17)),
        1009,
    ),
}


@pytest.mark.parametrize("listener", ["events", "overlay"])
@pytest.mark.parametrize("case", list(BAD_FRAMES))
async def test_a_bad_frame_closes_with_its_code(faulty: Faulty, listener: str, case: str) -> None:
    data, code = BAD_FRAMES[case]
    stream = await faulty.open(listener)
    async with stream:
        await subscribed(stream)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(send_ignoring_hangup, stream, data)
            received = await read_close_code(stream, b"HTTP/1.1 101 \r\n\r\n")
            nursery.cancel_scope.cancel()
    assert received == code
    await still_serving(faulty)


@pytest.mark.parametrize("listener", ["events", "overlay"])
@pytest.mark.parametrize("together", [True, False], ids=["in_the_handshake_packet", "after_101"])
async def test_stray_bytes_after_an_upgrade_close_with_1002(faulty: Faulty, listener: str, together: bool) -> None:
    stream = await faulty.open(listener)
    async with stream:
        if together:
            await stream.send_all(upgrade() + b"x\n")
            received = b""
        else:
            await stream.send_all(upgrade())
            received = await read_until(stream, b"\r\n\r\n")
            await send_ignoring_hangup(stream, b"x\n")
        assert await read_close_code(stream, received) == 1002
    await still_serving(faulty)
