"""Every HTTP endpoint of a project server, over its Unix sockets, with the server run as an operator would."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import hero_assistance

from ._server_fixtures import RpcFailure, ServerProcess, WsRejected, http_unix, running_server, setup_people, websocket
from .conftest import b64, png_bytes


@pytest.fixture(scope="module")
def server() -> Iterator[ServerProcess]:
    with running_server("--title", "Acme Support") as server:
        yield server


async def test_health_names_the_service_project_and_version(server: ServerProcess) -> None:
    async with http_unix(server.dirs.rpc) as client:
        response = await client.request("GET", "/health")
    assert response.status == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {
        "status": "ok",
        "service": "hero_assistance",
        "project": "acme",
        "version": hero_assistance.__version__,
    }


async def test_head_on_a_get_endpoint_has_no_body(server: ServerProcess) -> None:
    async with http_unix(server.dirs.rpc) as client:
        response = await client.request("HEAD", "/health")
    assert response.status == 200
    assert response.body == b""


async def test_service_manifest_follows_the_hero_convention(server: ServerProcess) -> None:
    async with http_unix(server.dirs.rpc) as client:
        manifest = (await client.request("GET", "/.well-known/heroservice.json")).json()
    assert manifest["protocol"] == "openrpc"
    assert manifest["name"] == "hero_assistance"
    assert manifest["socket"] == "rpc"
    assert manifest["version"] == hero_assistance.__version__
    assert "Acme Support" in manifest["title"]
    assert manifest["description"]


async def test_openrpc_document_is_the_same_as_rpc_discover(server: ServerProcess) -> None:
    async with http_unix(server.dirs.rpc) as client:
        document = (await client.request("GET", "/openrpc.json")).json()
        discovered = await client.call("rpc.discover")
    assert document == discovered
    assert document["openrpc"].startswith("1.")
    assert {m["name"] for m in document["methods"]} >= {"ticket.create", "auth.request_magic_link"}


async def test_rpc_answers_single_calls_batches_and_notifications(server: ServerProcess) -> None:
    async with http_unix(server.dirs.rpc) as client:
        single = await client.request(
            "POST", "/rpc", json_body={"jsonrpc": "2.0", "id": 7, "method": "project.info", "params": {}}
        )
        assert single.status == 200
        assert single.json()["id"] == 7
        assert single.json()["result"]["name"] == "acme"

        batch = await client.request(
            "POST",
            "/rpc",
            json_body=[
                {"jsonrpc": "2.0", "id": 1, "method": "auth.whoami", "params": {}},
                {"jsonrpc": "2.0", "method": "auth.whoami", "params": {}},
                {"jsonrpc": "2.0", "id": 2, "method": "no.such.method"},
            ],
        )
        assert batch.status == 200
        answers = {a["id"]: a for a in batch.json()}
        assert set(answers) == {1, 2}
        assert answers[1]["result"]["role"] == "admin"
        assert answers[2]["error"]["code"] == -32601  # JSON-RPC errors travel with HTTP 200

        notification = await client.request(
            "POST", "/rpc", json_body={"jsonrpc": "2.0", "method": "auth.whoami", "params": {}}
        )
        assert notification.status == 204
        assert notification.body == b""

        # and the keep-alive connection still serves after all that
        assert (await client.request("GET", "/health")).status == 200


async def test_unix_socket_callers_are_operator_user_or_device_by_header(server: ServerProcess) -> None:
    await setup_people(server.dirs.rpc, ("carol@example.com", "support"))
    async with http_unix(server.dirs.rpc) as client:
        operator = await client.call("auth.whoami")
        assert operator["role"] == "admin" and operator["user"]["email"] == "operator@localhost"

        carol = await client.call("auth.whoami", as_user="carol@example.com")
        assert carol["user"]["email"] == "carol@example.com" and carol["role"] == "support"

        device = await client.call("auth.whoami", as_device="browser-session-1")
        assert device["device"] == "browser-session-1" and device["user"] is None

        both = await client.request(
            "POST",
            "/rpc",
            headers={"x-hero-user": "carol@example.com", "x-hero-device": "d"},
            json_body={"jsonrpc": "2.0", "id": 1, "method": "auth.whoami", "params": {}},
        )
        assert both.status == 400
        assert "not both" in both.json()["error"]["message"]


async def test_attachments_are_served_only_to_those_who_may_see_them(server: ServerProcess) -> None:
    rpc = server.dirs.rpc
    await setup_people(rpc, ("ann@example.com", "customer"), ("bob@example.com", "customer"))
    image = png_bytes(640, 480)
    async with http_unix(rpc) as client:
        uploaded = await client.call(
            "attachment.upload",
            as_user="ann@example.com",
            filename="screen.png",
            content_type="image/png",
            data=b64(image),
        )
        await client.call(
            "ticket.create",
            as_user="ann@example.com",
            title="Broken",
            body="see picture",
            attachment_ids=[uploaded["id"]],
        )
        url = f"/attachments/{uploaded['id']}"

        full = await client.request("GET", url, headers={"x-hero-user": "ann@example.com"})
        assert full.status == 200
        assert full.body == image
        assert full.headers["content-type"] == "image/png"
        assert full.headers["x-content-type-options"] == "nosniff"
        assert "screen.png" in full.headers["content-disposition"]

        thumb = await client.request("GET", url + "/thumb", headers={"x-hero-user": "ann@example.com"})
        assert thumb.status == 200
        assert thumb.headers["content-type"] == "image/png"
        assert thumb.body.startswith(b"\x89PNG") and len(thumb.body) < len(image)

        other = await client.request("GET", url, headers={"x-hero-user": "bob@example.com"})
        assert other.status == 404
        assert other.json()["error"]["code"] == -32003

        stranger = await client.request("GET", url, headers={"x-hero-device": "unbound-device"})
        assert stranger.status == 404

        assert (await client.request("GET", "/attachments/999999")).status == 404
        assert (await client.request("GET", "/attachments/not-a-number")).status == 404
        wrong_method = await client.request("POST", url, body=b"")
        assert wrong_method.status == 405
        assert wrong_method.headers["allow"] == "GET, HEAD"


async def test_each_socket_serves_its_own_endpoints_and_points_to_the_other(server: ServerProcess) -> None:
    async with http_unix(server.dirs.events) as client:
        response = await client.request("POST", "/rpc", json_body={"jsonrpc": "2.0", "id": 1, "method": "auth.whoami"})
        assert response.status == 404
        assert "rpc.sock" in response.json()["error"]["message"]
        assert (await client.request("GET", "/health")).status == 200
    async with http_unix(server.dirs.rpc) as client:
        response = await client.request("GET", "/events", headers={"accept": "text/event-stream"})
        assert response.status == 404
        assert "events.sock" in response.json()["error"]["message"]
    with pytest.raises(WsRejected) as refused:
        async with websocket(server.dirs.rpc, "/events"):
            pass
    assert refused.value.status == 404


async def test_each_request_is_logged_in_one_line_without_its_body(server: ServerProcess) -> None:
    await setup_people(server.dirs.rpc, ("dave@example.com", "customer"))
    secret_title = "Confidential-title-7f3a"
    async with http_unix(server.dirs.rpc) as client:
        await client.call("ticket.create", as_user="dave@example.com", title=secret_title, body="private body text")
        await client.request("GET", "/openrpc.json")
    await server.wait_for_line(r"http listener=rpc.sock method=GET path=/openrpc.json status=200 ms=\d")
    await server.wait_for_line(r"rpc method=ticket.create user=\d+ outcome=ok ms=")
    assert secret_title not in server.log
    assert "private body text" not in server.log


async def test_a_json_rpc_error_names_the_problem(server: ServerProcess) -> None:
    async with http_unix(server.dirs.rpc) as client:
        with pytest.raises(RpcFailure) as failure:
            await client.call("ticket.create", as_device="nobody", title="x", body="y")
    assert failure.value.code == -32001
