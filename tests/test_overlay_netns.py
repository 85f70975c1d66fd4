"""Cross-host identity over the TCP overlay listener, with the server and a client in two network
namespaces joined by a veth pair: the client's overlay address (in 400::/7) is its device, its
plain address (fd00::/64) is nobody, and headers claiming identity count for nothing."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ._server_fixtures import (
    Http,
    NetnsPair,
    ServerProcess,
    WsClient,
    http_unix,
    netns_pair,
    project_dirs,
    requires_netns,
    setup_people,
    tcp_in_netns,
)

pytestmark = requires_netns

PORT = 18443
ANN, SAM = "ann@example.com", "sam@example.com"


@pytest.fixture
def pair() -> Iterator[NetnsPair]:
    with netns_pair() as pair:
        yield pair


async def client_from(pair: NetnsPair, source: str, server: str, port: int = PORT) -> Http:
    stream = await tcp_in_netns(pair.client_ns, server, port, source=source)
    return Http(stream, host=f"[{server}]:{port}")


async def test_a_device_on_the_overlay_enrolls_by_magic_link_and_is_then_known_by_its_address(pair: NetnsPair) -> None:
    with project_dirs() as dirs:
        server = await ServerProcess(dirs, "--mycelium-bind", f"auto:{PORT}", netns=pair.server_ns).astart()
        try:
            ids = await setup_people(dirs.rpc, (ANN, "customer"), (SAM, "support"))
            client = await client_from(pair, pair.client_overlay, pair.server_overlay)
            try:
                before = await client.call("auth.whoami")
                assert before["device"] == pair.client_overlay and before["user"] is None
                assert (await client.call("auth.request_magic_link", email=ANN))["sent"] is True
                line = await server.wait_for_line(r"MAGIC-LINK project=acme email=ann@example\.com .* token=(\S+) ")
                signed_in = await client.call("auth.consume_magic_link", token=line[1], device_label="ann's laptop")
                assert signed_in["device"]["key"] == pair.client_overlay
            finally:
                await client.aclose()

            # a new connection from the same address: recognised by the address alone
            again = await client_from(pair, pair.client_overlay, pair.server_overlay)
            try:
                me = await again.call("auth.whoami")
                assert me["user"]["id"] == ids[ANN] and me["role"] == "customer"
                forged = await again.call("auth.whoami", as_user=SAM)  # claims to be the agent
                assert forged["user"]["id"] == ids[ANN] and forged["role"] == "customer"
                ticket = await again.call("ticket.create", title="Over the overlay", body="hello")
                assert ticket["created_by"] == ids[ANN]
            finally:
                await again.aclose()

            # and its event stream over TCP is Ann's
            stream = await tcp_in_netns(pair.client_ns, pair.server_overlay, PORT, source=pair.client_overlay)
            try:
                events = await WsClient.connect(stream, "/events?since=0", {"x-hero-user": SAM})
                frames = [await events.receive_json() for _ in range(2)]
                assert frames[0]["type"] == "subscribed"
                assert frames[1]["type"] == "ticket.created" and frames[1]["ticket_id"] == ticket["id"]
            finally:
                await stream.aclose()
        finally:
            assert await server.stop() == 0


async def test_a_peer_outside_400_7_stays_anonymous_whatever_it_claims(pair: NetnsPair) -> None:
    with project_dirs() as dirs:
        server = await ServerProcess(dirs, "--mycelium-bind", f"auto:{PORT}", netns=pair.server_ns).astart()
        try:
            await setup_people(dirs.rpc, (ANN, "customer"))
            for target in (pair.server_plain, pair.server_overlay):  # [::] is reachable on both
                client = await client_from(pair, pair.client_plain, target)
                try:
                    me = await client.call("auth.whoami")
                    assert me["user"] is None and me["device"] is None
                    forged = await client.call("auth.whoami", as_user="operator@localhost")
                    assert forged["user"] is None and forged["role"] is None
                    forged = await client.call("auth.whoami", as_device=pair.client_overlay)
                    assert forged["device"] is None
                finally:
                    await client.aclose()
            async with http_unix(dirs.rpc) as rpc:  # the operator, meanwhile, is still the operator
                assert (await rpc.call("auth.whoami"))["role"] == "admin"
        finally:
            assert await server.stop() == 0


async def test_a_literal_bind_listens_on_that_address_only_and_trusts_every_peer(pair: NetnsPair) -> None:
    with project_dirs() as dirs:
        bind = f"[{pair.server_overlay}]:{PORT}"
        server = await ServerProcess(dirs, "--mycelium-bind", bind, netns=pair.server_ns).astart()
        try:
            client = await client_from(pair, pair.client_plain, pair.server_overlay)
            try:
                me = await client.call("auth.whoami")
                assert me["device"] == pair.client_plain  # no prefix filter on a literal bind
                info = await client.call("project.info")
                assert info["overlay_address"] == f"http://[{pair.server_overlay}]:{PORT}"
            finally:
                await client.aclose()
            with pytest.raises(ConnectionRefusedError):
                await tcp_in_netns(pair.client_ns, pair.server_plain, PORT, source=pair.client_plain)
        finally:
            assert await server.stop() == 0


async def test_an_overlay_address_not_on_the_host_is_a_one_line_start_up_error(pair: NetnsPair) -> None:
    with project_dirs() as dirs:  # the client's address: on the other side of the veth
        server = ServerProcess(dirs, "--mycelium-bind", f"[{pair.client_overlay}]:{PORT}", netns=pair.server_ns)
        server.start()
        assert await server.wait_exit() == 1
        assert server.errors() == [
            f"hero-assistance server: error: overlay address {pair.client_overlay} is not configured on this host"
        ]
