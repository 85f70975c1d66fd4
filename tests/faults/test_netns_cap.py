"""The per-/64 cap through a network namespace: two client addresses of one /64 share the cap (a mycelium node
owns a whole /64), while a peer in another /64 is unaffected."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import trio

from .._server_fixtures import (
    Http,
    NetnsPair,
    ServerProcess,
    netns_pair,
    project_dirs,
    requires_netns,
    tcp_in_netns,
)

pytestmark = requires_netns

PORT = 18444
CAP = 2
SAME_NET = "4aa:1::3"  # a second address in the client's /64 (4aa:1::2 is the first)
OTHER_NET = "4aa:2::2"  # another /64


@pytest.fixture
def pair() -> Iterator[NetnsPair]:
    with netns_pair() as pair:
        pair.add_client_address(SAME_NET)
        pair.add_client_address(OTHER_NET, route="4aa:2::/64")
        yield pair


async def _client(pair: NetnsPair, source: str) -> Http:
    stream = await tcp_in_netns(pair.client_ns, pair.server_overlay, PORT, source=source)
    return Http(stream, host=f"[{pair.server_overlay}]:{PORT}")


async def test_two_addresses_of_one_64_share_the_cap_and_another_64_is_unaffected(pair: NetnsPair) -> None:
    with project_dirs() as dirs:
        server = await ServerProcess(
            dirs, "--mycelium-bind", f"auto:{PORT}", "--max-connections-per-peer", str(CAP), netns=pair.server_ns
        ).astart()
        try:
            first = await _client(pair, pair.client_overlay)
            second = await _client(pair, SAME_NET)
            try:
                assert (await first.call("auth.whoami"))["device"] == pair.client_overlay
                assert (await second.call("auth.whoami"))["device"] == SAME_NET
                third = await _client(pair, pair.client_overlay)  # the /64 is at its cap
                try:
                    with pytest.raises((trio.BrokenResourceError, ConnectionError)):
                        await third.request("GET", "/health")
                finally:
                    await third.aclose()
                other = await _client(pair, OTHER_NET)  # another node: its own count
                try:
                    assert (await other.call("auth.whoami"))["device"] == OTHER_NET
                finally:
                    await other.aclose()
                # the two held connections still work
                assert (await first.request("GET", "/health")).status == 200
                assert (await second.request("GET", "/health")).status == 200
            finally:
                await first.aclose()
                await second.aclose()
            assert server.proc is not None and server.proc.poll() is None
        finally:
            assert await server.stop() == 0
        assert "Traceback" not in server.log
