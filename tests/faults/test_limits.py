"""Connection limits: at most N connections per overlay /64 (loopback ::1 is one /64), a deadline for a request
head, and idle keep-alive connections closed; the Unix sockets have no per-peer cap."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest
import trio

from .._server_fixtures import Http
from ._peers import Faulty, fault_server, read_to_end, still_serving

CAP = 4


@pytest.fixture(scope="module")
def capped() -> Iterator[Faulty]:
    with fault_server("--max-connections-per-peer", str(CAP)) as faulty:
        yield faulty


@pytest.fixture(scope="module")
def hasty() -> Iterator[Faulty]:
    with fault_server("--head-timeout", "1", "--keep-alive", "1") as faulty:
        yield faulty


async def _refused(stream: trio.SocketStream) -> bool:
    """Whether the server closed this connection without serving it (it may reset it)."""
    try:
        await stream.send_all(b"GET /health HTTP/1.1\r\nhost: x\r\n\r\n")
        return not await read_to_end(stream)
    except trio.BrokenResourceError:
        return True


async def test_an_overlay_peer_holds_at_most_its_cap_of_connections(capped: Faulty) -> None:
    clients = [Http(await capped.open("overlay")) for _ in range(CAP)]
    try:
        for client in clients:
            assert (await client.request("GET", "/health")).status == 200
        extra = await capped.open("overlay")
        async with extra:
            assert await _refused(extra)  # the 5th is closed at once ...
        for client in clients:  # ... while the first 4 still work
            assert (await client.call("auth.whoami"))["device"] == "::1"
        # the Unix sockets have no per-peer cap
        many = [Http(await capped.open("rpc")) for _ in range(3 * CAP)]
        try:
            for client in many:
                assert (await client.request("GET", "/health")).status == 200
        finally:
            for client in many:
                await client.aclose()
    finally:
        await clients.pop().aclose()
    try:
        # one slot is free again: a new connection is served (once the server has seen the close)
        with trio.fail_after(30):
            while True:
                stream = await capped.open("overlay")
                try:
                    client = Http(stream)
                    with contextlib.suppress(trio.BrokenResourceError, ConnectionError):
                        if (await client.request("GET", "/health")).status == 200:
                            break
                finally:
                    await stream.aclose()
                await trio.sleep(0.05)
    finally:
        for client in clients:
            await client.aclose()
    await still_serving(capped)


@pytest.mark.parametrize("listener", ["overlay", "rpc", "events"])
async def test_a_trickling_head_is_closed_at_the_deadline_while_others_are_served(hasty: Faulty, listener: str) -> None:
    stream = await hasty.open(listener)

    async def trickle() -> None:
        try:
            for byte in b"GET /health HTTP/1.1\r\nhost: x\r\nx-slow: " + b"a" * 10_000:
                await stream.send_all(bytes((byte,)))
                await trio.sleep(0.05)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass  # the server closed on us: what this case waits for

    async with stream:
        with trio.fail_after(60):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(trickle)
                await still_serving(hasty)  # served meanwhile
                answer = await read_to_end(stream)  # the server gives up on the trickler
                nursery.cancel_scope.cancel()
    assert answer == b"" or answer.startswith(b"HTTP/1.1 408"), answer[:200]
    await still_serving(hasty)


@pytest.mark.parametrize("listener", ["overlay", "rpc"])
async def test_an_idle_keep_alive_connection_is_closed(hasty: Faulty, listener: str) -> None:
    stream = await hasty.open(listener)
    async with stream:
        client = Http(stream)
        assert (await client.request("GET", "/health")).status == 200
        assert await read_to_end(stream) == b""  # idle: closed without a word
    await still_serving(hasty)


async def test_a_silent_connection_is_closed_at_the_head_deadline(hasty: Faulty) -> None:
    stream = await hasty.open("overlay")
    async with stream:
        answer = await read_to_end(stream)
    assert answer == b"" or answer.startswith(b"HTTP/1.1 408")
    await still_serving(hasty)
