"""The ui as a proxy: ``ui.*`` answered locally, everything else passed to the right project byte for
byte, the browser's own identity claims never forwarded, foreign origins and host names refused.

The projects here are fakes that record every request exactly as it arrived: ``acme`` on a Unix
socket (the ui asserts a per-browser device there), ``globex`` over TCP (the ui asserts nothing).
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import attrs
import trio
import trio_websocket

from hero_assistance.ui import UiConfig, UiServer, serve_ui
from hero_assistance.ui._session import COOKIE_NAME, device_key

from ._ui_fixtures import FakeProject, Recorded, http, rpc_body, short_tmp, unix_listener


@attrs.define
class Setup:
    ui: UiServer
    acme: FakeProject
    globex: FakeProject
    root: Path
    globex_url: str

    @property
    def origin(self) -> str:
        return self.ui.url

    def rpc_requests(self, fake: FakeProject) -> list[Recorded]:
        return [r for r in fake.requests if r.target == "/rpc"]


def upstream_answer(request: Recorded) -> tuple[int, list[tuple[str, str]], bytes]:
    if request.target.startswith("/attachments/"):
        # A hostile or broken project: HTML where an image should be.
        return 200, [("Content-Type", "text/html")], b"<script>alert(1)</script>"
    if request.target == "/openrpc.json":
        return 200, [("Content-Type", "application/json")], b'{"openrpc": "1.3.2",  "info": {}}'
    body = b'{"jsonrpc": "2.0",   "id": 1,  "result": {"from": "upstream", "target": "%s"}}' % request.target.encode()
    return 200, [("Content-Type", "application/json")], body


@asynccontextmanager
async def proxy_setup(*, gateway: bool = False, origins: tuple[str, ...] = ()) -> AsyncIterator[Setup]:
    with short_tmp() as root:
        acme, globex = FakeProject(upstream_answer), FakeProject(upstream_answer)
        async with trio.open_nursery() as nursery:
            acme_listener = await unix_listener(root / "acme.sock")
            globex_listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
            globex_url = f"http://127.0.0.1:{globex_listeners[0].socket.getsockname()[1]}"
            await nursery.start(acme.serve, [acme_listener])
            await nursery.start(globex.serve, globex_listeners)
            projects = {"acme": f"unix:{root / 'acme.sock'}"}
            if not gateway:
                projects["globex"] = globex_url
            config = UiConfig(
                projects=projects,
                listen="127.0.0.1:0",
                socket_path=root / "app.sock",
                config_file=root / "ui.toml",
                gateway=gateway,
                origins=list(origins),
            )
            ui: UiServer = await nursery.start(serve_ui, config)
            try:
                yield Setup(ui, acme, globex, root, globex_url)
            finally:
                ui.stop()
                nursery.cancel_scope.cancel()


def browser_headers(setup: Setup, project: str | None = None, *extra: tuple[str, str]) -> list[tuple[str, str]]:
    headers = [("Content-Type", "application/json"), ("Origin", setup.origin)]
    if project:
        headers.append(("X-Hero-Project", project))
    return [*headers, *extra]


def session_cookie(reply_headers: list[str]) -> str:
    match = re.search(rf"{COOKIE_NAME}=([^;]+)", " ".join(reply_headers))
    assert match, reply_headers
    return match.group(1)


async def test_ui_methods_are_answered_by_the_ui_itself() -> None:
    async with proxy_setup() as setup:
        reply = await http(setup.ui.url, "POST", "/rpc", browser_headers(setup), rpc_body("ui.status"))
        assert reply.status == 200
        status = reply.json()["result"]
        assert [p["name"] for p in status["projects"]] == ["acme", "globex"]
        assert {p["transport"] for p in status["projects"]} == {"unix", "tcp"}
        # Even with a project named, ui.* never travels.
        reply = await http(setup.ui.url, "POST", "/rpc", browser_headers(setup, "acme"), rpc_body("ui.projects.list"))
        assert reply.json()["result"]["items"][0]["name"] == "acme"
        listed = await http(
            setup.ui.url,
            "POST",
            "/rpc",
            browser_headers(setup),
            rpc_body("ui.render_markdown", texts=["<b>x</b> **y**"]),
        )
        assert listed.json()["result"]["html"] == ["<p>&lt;b&gt;x&lt;/b&gt; <strong>y</strong></p>\n"]
        unknown = await http(setup.ui.url, "POST", "/rpc", browser_headers(setup), rpc_body("ui.nope"))
        assert unknown.json()["error"]["code"] == -32601
        bad = await http(setup.ui.url, "POST", "/rpc", browser_headers(setup), rpc_body("ui.status", surprise=1))
        assert bad.json()["error"]["code"] == -32602
        assert setup.rpc_requests(setup.acme) == setup.rpc_requests(setup.globex) == []


async def test_bodies_pass_through_byte_for_byte_both_ways() -> None:
    odd = '{"jsonrpc":"2.0",  "id":7,"method":"ticket.list" ,"params":{"query":"café ☕ \\"ui.status\\""}}'.encode()
    batch = b'[{"jsonrpc":"2.0","id":1,"method":"auth.whoami"},\n {"jsonrpc":"2.0","method":"presence.update"}]'
    garbage = b"this is not json {"
    async with proxy_setup() as setup:
        for body in (odd, batch, garbage):
            reply = await http(setup.ui.url, "POST", "/rpc", browser_headers(setup, "acme"), body)
            assert reply.status == 200
            # The upstream's own bytes, odd spacing and all: not decoded and re-encoded on the way back.
            assert reply.body == upstream_answer(Recorded("POST", "/rpc", [], b""))[2]
        assert [r.body for r in setup.rpc_requests(setup.acme)] == [odd, batch, garbage]
        assert setup.rpc_requests(setup.acme)[0].header("Content-Type") == ["application/json"]


async def test_requests_are_routed_by_the_project_header() -> None:
    async with proxy_setup() as setup:
        for project, count in (("acme", 2), ("globex", 3)):
            for i in range(count):
                body = rpc_body("ticket.get", ident=i, id=i + 1)
                reply = await http(setup.ui.url, "POST", "/rpc", browser_headers(setup, project), body)
                assert reply.status == 200
        assert len(setup.rpc_requests(setup.acme)) == 2
        assert len(setup.rpc_requests(setup.globex)) == 3

        missing = await http(
            setup.ui.url, "POST", "/rpc", browser_headers(setup), rpc_body("ticket.get", ident=5, id=1)
        )
        assert missing.json() == {
            "jsonrpc": "2.0",
            "id": 5,
            "error": {"code": -32600, "message": "name the project in the X-Hero-Project header"},
        }
        unknown = await http(setup.ui.url, "POST", "/rpc", browser_headers(setup, "initech"), rpc_body("x.y"))
        assert unknown.json()["error"]["code"] == -32003
        assert unknown.json()["error"]["data"] == {"kind": "project", "id": "initech"}
        mixed = b'[{"jsonrpc":"2.0","id":1,"method":"ui.status"},{"jsonrpc":"2.0","id":2,"method":"auth.whoami"}]'
        refused = await http(setup.ui.url, "POST", "/rpc", browser_headers(setup, "acme"), mixed)
        assert refused.json()["error"]["code"] == -32600
        assert len(setup.rpc_requests(setup.acme)) == 2  # none of these reached a project


async def test_a_foreign_origin_is_refused_on_rpc_and_ws() -> None:
    async with proxy_setup() as setup:
        for origin in ("http://evil.example", "null", setup.origin.replace("127.0.0.1", "127.0.0.2")):
            headers = [("Content-Type", "application/json"), ("Origin", origin), ("X-Hero-Project", "acme")]
            reply = await http(setup.ui.url, "POST", "/rpc", headers, rpc_body("ticket.create", title="pwned"))
            assert reply.status == 403, origin
        assert setup.rpc_requests(setup.acme) == []
        # Our own origin, under each loopback name, and no Origin at all (a local tool) are fine.
        port = setup.ui.url.rsplit(":", 1)[1]
        for origin in (setup.origin, f"http://localhost:{port}"):
            ok = await http(setup.ui.url, "POST", "/rpc", [*browser_headers(setup, "acme")[:-1], ("Origin", origin)])
            assert ok.status == 200
        tool = await http(setup.ui.url, "POST", "/rpc", [("X-Hero-Project", "acme")], rpc_body("auth.whoami"))
        assert tool.status == 200

        ws_url = setup.ui.url.replace("http://", "ws://") + "/ws"
        # The refused handshake by hand: trio-websocket leaks its socket when a handshake is rejected.
        upgrade = [
            ("Upgrade", "websocket"),
            ("Connection", "Upgrade"),
            ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
            ("Sec-WebSocket-Version", "13"),
        ]
        refused = await http(setup.ui.url, "GET", "/ws", [*upgrade, ("Origin", "http://evil.example")])
        assert refused.status == 403
        async with trio_websocket.open_websocket_url(ws_url, extra_headers=[(b"Origin", setup.origin.encode())]) as ws:
            hello = json.loads(await ws.get_message())
            assert hello["type"] == "hello"
            assert [p["name"] for p in hello["projects"]] == ["acme", "globex"]


async def test_a_foreign_host_name_is_refused() -> None:
    """DNS rebinding: a page at evil.example re-pointed to 127.0.0.1 arrives with its own Host."""
    async with proxy_setup() as setup:
        port = setup.ui.url.rsplit(":", 1)[1]
        for target in ("/", "/attachments/globex/1", "/openrpc.json?project=globex"):
            reply = await http(setup.ui.url, "GET", target, host=f"evil.example:{port}")
            assert reply.status == 421, target
        assert setup.globex.requests == [r for r in setup.globex.requests if r.target == "/events"]


async def test_identity_headers_from_the_browser_never_reach_a_project() -> None:
    forged = [
        ("X-Hero-User", "boss@example.com"),
        ("X-Hero-Device", "web:forged"),
        ("x-hero-project-override", "globex"),
        ("Authorization", "Bearer stolen"),
    ]
    async with proxy_setup() as setup:
        first = await http(setup.ui.url, "POST", "/rpc", browser_headers(setup, "acme", *forged), rpc_body("a.b"))
        cookie = session_cookie(first.all("Set-Cookie"))
        assert "HttpOnly" in first.header("Set-Cookie")  # type: ignore[operator]
        assert "SameSite=Strict" in first.header("Set-Cookie")  # type: ignore[operator]
        cookie_header = ("Cookie", f"{COOKIE_NAME}={cookie}")
        second = await http(setup.ui.url, "POST", "/rpc", browser_headers(setup, "acme", cookie_header, *forged))
        assert second.header("Set-Cookie") is None  # a valid session is kept, not replaced
        other = await http(setup.ui.url, "POST", "/rpc", browser_headers(setup, "acme", (cookie_header[0], "x=1")))
        await http(setup.ui.url, "POST", "/rpc", browser_headers(setup, "globex", cookie_header, *forged))

        acme = setup.rpc_requests(setup.acme)
        # Unix socket: exactly one X-Hero-* header, the ui's digest of this browser's session.
        for request in acme[:2]:
            hero = [(k.lower(), v) for k, v in request.headers if k.lower().startswith("x-hero-")]
            assert hero == [("x-hero-device", device_key(cookie))]
            assert request.header("Authorization") == [] and request.header("Cookie") == []
        assert acme[0].header("X-Hero-Device") == acme[1].header("X-Hero-Device")  # the same browser
        assert acme[2].header("X-Hero-Device") != acme[0].header("X-Hero-Device")  # another browser
        assert cookie not in acme[0].header("X-Hero-Device")[0]  # the secret itself never leaves the ui
        assert other.header("Set-Cookie") is not None
        # TCP overlay: no identity at all (the project attests the peer address).
        (globex,) = setup.rpc_requests(setup.globex)
        assert [k for k, _ in globex.headers if k.lower().startswith("x-hero-")] == []


async def test_attachments_and_documents_are_fetched_as_this_browser() -> None:
    async with proxy_setup() as setup:
        first = await http(setup.ui.url, "POST", "/rpc", browser_headers(setup), rpc_body("ui.status"))
        cookie = ("Cookie", f"{COOKIE_NAME}={session_cookie(first.all('Set-Cookie'))}")
        image = await http(setup.ui.url, "GET", "/attachments/acme/5", [cookie])
        thumb = await http(setup.ui.url, "GET", "/attachments/acme/5/thumb", [cookie])
        document = await http(setup.ui.url, "GET", "/openrpc.json?project=globex")
        missing = await http(setup.ui.url, "GET", "/attachments/initech/5")
        assert [r.target for r in setup.acme.requests] == ["/attachments/5", "/attachments/5/thumb"]
        assert setup.acme.requests[0].header("X-Hero-Device") == [device_key(cookie[1].split("=", 1)[1])]
        # The project said text/html; on our origin that could run script, so it is served inert.
        assert image.status == 200 and image.header("Content-Type") == "application/octet-stream"
        assert "sandbox" in (image.header("Content-Security-Policy") or "")
        assert thumb.body == b"<script>alert(1)</script>"
        assert document.body == b'{"openrpc": "1.3.2",  "info": {}}'
        assert document.header("Content-Type") == "application/json"
        assert missing.status == 404


async def test_the_app_is_served_for_every_page_path_with_a_strict_csp() -> None:
    async with proxy_setup() as setup:
        for path in ("/", "/tickets/acme/42", "/settings", "/new", "/signin?token=x"):
            page = await http(setup.ui.url, "GET", path)
            assert page.status == 200, path
            assert page.header(
                "Content-Type",
            ).startswith("text/html")  # type: ignore[union-attr]
            csp = page.header("Content-Security-Policy") or ""
            assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "unsafe-eval" not in csp
            assert b'<script type="module" src="/static/js/main.js"></script>' in page.body
            assert page.header("Set-Cookie") is None  # sessions start on /rpc (SameSite=Strict + sign-in links)
        # No inline script anywhere in the page: every <script> loads a file.
        assert all(b"src=" in tag for tag in re.findall(rb"<script[^>]*>", page.body))
        module = await http(setup.ui.url, "GET", "/static/js/main.js")
        assert module.status == 200 and module.header(
            "Content-Type",
        ).startswith("text/javascript")  # type: ignore[union-attr]
        bootstrap = await http(setup.ui.url, "GET", "/vendor/bootstrap/css/bootstrap.min.css")
        assert bootstrap.status == 200 and b"Bootstrap" in bootstrap.body[:200]
        for missing in ("/static/nope.js", "/vendor/bootstrap/nope.css", "/static/../_app.py"):
            assert (await http(setup.ui.url, "GET", missing)).status == 404, missing
        health = await http(setup.ui.url, "GET", "/health")
        assert health.json()["status"] == "ok"
        # The app socket serves the same app to local tools.
        over_unix = await http(f"unix:{setup.root / 'app.sock'}", "POST", "/rpc", [], rpc_body("ui.status"))
        assert over_unix.json()["result"]["service"] == "hero_assistance_ui"


async def test_an_unreachable_project_is_a_clear_error() -> None:
    async with proxy_setup() as setup:
        (setup.root / "acme.sock").unlink()
        reply = await http(setup.ui.url, "POST", "/rpc", browser_headers(setup, "acme"), rpc_body("auth.whoami", 9))
        assert reply.status == 502
        error = reply.json()
        assert error["id"] == 9 and error["error"]["code"] == -32603
        assert "project acme is unreachable" in error["error"]["message"]


async def test_projects_are_added_and_removed_live_and_persisted() -> None:
    async with proxy_setup() as setup:
        ws_url = setup.ui.url.replace("http://", "ws://") + "/ws"
        async with trio_websocket.open_websocket_url(ws_url, extra_headers=[(b"Origin", setup.origin.encode())]) as ws:
            assert json.loads(await ws.get_message())["type"] == "hello"

            async def call(method: str, **params: object) -> dict[str, object]:
                reply = await http(setup.ui.url, "POST", "/rpc", browser_headers(setup), rpc_body(method, **params))
                return reply.json()  # type: ignore[no-any-return]

            added = await call("ui.projects.add", name="initech", url=setup.globex_url)
            assert added["result"]["name"] == "initech"  # type: ignore[index]
            saved = tomllib.loads((setup.root / "ui.toml").read_text())
            assert saved["projects"] == {
                "acme": f"unix:{setup.root / 'acme.sock'}",
                "globex": setup.globex_url,
                "initech": setup.globex_url,
            }
            with trio.fail_after(5):
                while (frame := json.loads(await ws.get_message()))["type"] != "projects":
                    pass
            assert [p["name"] for p in frame["projects"]] == ["acme", "globex", "initech"]
            # The new project is usable at once.
            routed = await http(setup.ui.url, "POST", "/rpc", browser_headers(setup, "initech"), rpc_body("a.b"))
            assert routed.status == 200

            assert (await call("ui.projects.add", name="initech", url=setup.globex_url))["error"]["code"] == -32004  # type: ignore[index]
            assert (await call("ui.projects.add", name="Bad Name", url=setup.globex_url))["error"]["code"] == -32602  # type: ignore[index]
            assert (await call("ui.projects.add", name="ok", url="ftp://x"))["error"]["code"] == -32602  # type: ignore[index]

            assert (await call("ui.projects.remove", name="globex"))["result"] == {"name": "globex", "removed": True}
            saved = tomllib.loads((setup.root / "ui.toml").read_text())
            assert list(saved["projects"]) == ["acme", "initech"]
            with trio.fail_after(5):
                while (frame := json.loads(await ws.get_message()))["type"] != "projects":
                    pass
            assert [p["name"] for p in frame["projects"]] == ["acme", "initech"]
            gone = await http(setup.ui.url, "POST", "/rpc", browser_headers(setup, "globex"), rpc_body("a.b"))
            assert gone.json()["error"]["code"] == -32003
            assert (await call("ui.projects.remove", name="globex"))["error"]["code"] == -32003  # type: ignore[index]


async def test_a_shared_gateway_keeps_its_project_list_from_browsers() -> None:
    async with proxy_setup(gateway=True, origins=("https://help.example.com",)) as setup:
        # Behind a TLS proxy: the public name is accepted and the session cookie is Secure.
        public = [("Content-Type", "application/json"), ("Origin", "https://help.example.com")]
        first = await http(setup.ui.url, "POST", "/rpc", public, rpc_body("ui.status"), host="help.example.com")
        assert first.status == 200 and "Secure" in (first.header("Set-Cookie") or "")
        local = await http(setup.ui.url, "POST", "/rpc", browser_headers(setup), rpc_body("ui.status"))
        assert "Secure" not in (local.header("Set-Cookie") or "")

        body = rpc_body("ui.projects.add", name="x", url="unix:/tmp/x.sock")
        reply = await http(setup.ui.url, "POST", "/rpc", browser_headers(setup), body)
        assert reply.json()["error"]["code"] == -32002
        # The operator, on the app socket, may; but never an overlay project (every browser would be this machine).
        local = await http(f"unix:{setup.root / 'app.sock'}", "POST", "/rpc", [], body)
        assert local.json()["result"]["name"] == "x"
        overlay = rpc_body("ui.projects.add", name="y", url="http://[400::1]:8443")
        refused = await http(f"unix:{setup.root / 'app.sock'}", "POST", "/rpc", [], overlay)
        assert refused.json()["error"]["code"] == -32602
