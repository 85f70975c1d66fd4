"""The magic-link rate limit counts per mycelium node (/64), seen from a real network: six overlay
addresses of one /64, each connecting from its own address in a client namespace, share one limit;
an address of another /64 has its own."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ._server_fixtures import (
    Http,
    NetnsPair,
    RpcFailure,
    ServerProcess,
    netns_pair,
    project_dirs,
    requires_netns,
    tcp_in_netns,
)

pytestmark = requires_netns

PORT = 18445
OTHER_NODE = "4bb:7::2"


@pytest.fixture
def pair() -> Iterator[NetnsPair]:
    with netns_pair() as pair:
        # Five more addresses of the client's node (4aa:1::/64), and one of another node, routed over the veth.
        for n in range(3, 8):
            pair.add_client_address(f"4aa:1::{n}")
        pair.add_client_address(OTHER_NODE, route="4bb:7::/64")
        yield pair


async def request_link(pair: NetnsPair, source: str, email: str) -> dict[str, object]:
    stream = await tcp_in_netns(pair.client_ns, pair.server_overlay, PORT, source=source)
    client = Http(stream, host=f"[{pair.server_overlay}]:{PORT}")
    try:
        result: dict[str, object] = await client.call("auth.request_magic_link", email=email)
        return result
    finally:
        await client.aclose()


async def test_addresses_of_one_node_share_the_limit_another_node_does_not(pair: NetnsPair) -> None:
    with project_dirs() as dirs:
        server = await ServerProcess(dirs, "--mycelium-bind", f"auto:{PORT}", netns=pair.server_ns).astart()
        try:
            sources = [pair.client_overlay] + [f"4aa:1::{n}" for n in range(3, 7)]
            for i, source in enumerate(sources):  # five requests, each from another address of one node
                assert (await request_link(pair, source, f"person{i}@example.com"))["sent"] is True
            with pytest.raises(RpcFailure) as limited:
                await request_link(pair, "4aa:1::7", "sixth@example.com")
            assert limited.value.code == -32005 and limited.value.data["retry_after"] > 0
            # Another node is not held back by the first one's requests.
            assert (await request_link(pair, OTHER_NODE, "other@example.com"))["sent"] is True
            assert "Traceback" not in server.log
        finally:
            await server.stop()
