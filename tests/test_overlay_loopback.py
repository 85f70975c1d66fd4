"""The TCP overlay listener on loopback (no root needed): the peer address is the identity, headers are not.

Loopback's ``::1`` lies outside ``400::/7``, so an ``auto`` listener treats it as anonymous and a
literal bind treats it as a device; the namespace tests cover real overlay addresses.
"""

from __future__ import annotations

import socket

import pytest
import trio

from ._server_fixtures import Http, RpcFailure, ServerProcess, WsClient, running_server, setup_people


def overlay_port(server: ServerProcess) -> int:
    return int(server.wait_for_line_sync(r"overlay=\w+:http://\[[0-9a-f:]+\]:(\d+) ")[1])


async def tcp(port: int) -> Http:
    return Http(await trio.open_tcp_stream("::1", port), host=f"[::1]:{port}")


async def test_auto_mode_treats_a_peer_outside_400_7_as_anonymous_whatever_it_claims() -> None:
    with running_server("--mycelium-bind", "auto:0") as server:
        await setup_people(server.dirs.rpc, ("sam@example.com", "support"))
        port = overlay_port(server)
        client = await tcp(port)
        try:
            me = await client.call("auth.whoami")
            assert me["user"] is None and me["device"] is None
            forged = await client.call("auth.whoami", as_user="operator@localhost")
            assert forged["user"] is None and forged["role"] is None
            forged = await client.call("auth.whoami", as_device="400::1")
            assert forged["device"] is None
            with pytest.raises(RpcFailure) as no_device:
                await client.call("auth.request_magic_link", email="sam@example.com")
            assert no_device.value.code == -32001
            assert (await client.request("GET", "/health")).json()["project"] == "acme"
            assert (await client.request("GET", "/openrpc.json")).status == 200
        finally:
            await client.aclose()


def test_auto_mode_listens_on_ipv6_only() -> None:
    with running_server("--mycelium-bind", "auto:0") as server:
        port = overlay_port(server)
        with pytest.raises(ConnectionRefusedError):  # IPV6_V6ONLY: no IPv4-mapped peers
            socket.create_connection(("127.0.0.1", port), timeout=2)


async def test_a_literal_bind_makes_every_peer_address_a_device() -> None:
    with running_server("--mycelium-bind", "[::1]:0") as server:
        port = overlay_port(server)
        client = await tcp(port)
        try:
            me = await client.call("auth.whoami")
            assert me["device"] == "::1"
            forged = await client.call("auth.whoami", as_user="operator@localhost", as_device="elsewhere")
            assert forged["device"] == "::1" and forged["user"] is None
            info = await client.call("project.info")
            assert info["overlay_address"] == f"http://[::1]:{port}"
        finally:
            await client.aclose()


async def test_the_overlay_listener_serves_event_streams_too() -> None:
    with running_server("--mycelium-bind", "[::1]:0") as server:
        port = overlay_port(server)
        stream = await trio.open_tcp_stream("::1", port)
        try:
            events = await WsClient.connect(stream, "/events?since=0")
            subscribed = await events.receive_json()
            assert subscribed["type"] == "subscribed" and subscribed["project"] == "acme"
        finally:
            await stream.aclose()
        await server.wait_for_line("http listener=overlay method=GET path=/events status=101")
