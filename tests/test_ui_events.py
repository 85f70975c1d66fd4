"""``/ws`` against a real project server: each browser's socket carries exactly what that browser's
person may see — tagged with the project — and follows sign-in as it happens."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import attrs
import trio
import trio_websocket

from hero_assistance.core import Caller
from hero_assistance.transport import ProjectServer, ServerConfig, serve_project
from hero_assistance.ui import UiConfig, UiServer, serve_ui
from hero_assistance.ui._session import COOKIE_NAME

from ._ui_fixtures import http, rpc_body, short_tmp


@attrs.define
class Browser:
    """One browser: its session cookie, and /rpc calls made with it."""

    ui: UiServer
    cookie: str = ""

    @property
    def headers(self) -> list[tuple[str, str]]:
        headers = [("Content-Type", "application/json"), ("Origin", self.ui.url)]
        if self.cookie:
            headers.append(("Cookie", f"{COOKIE_NAME}={self.cookie}"))
        return headers

    async def call(self, project: str | None, method: str, **params: Any) -> Any:
        headers = self.headers + ([("X-Hero-Project", project)] if project else [])
        reply = await http(self.ui.url, "POST", "/rpc", headers, rpc_body(method, **params))
        for value in reply.all("Set-Cookie"):
            self.cookie = value.split(";", 1)[0].split("=", 1)[1]
        answer = reply.json()
        assert "result" in answer, answer
        return answer["result"]

    async def sign_in(self, server: ProjectServer, email: str) -> None:
        await self.call(None, "ui.status")  # the session starts here
        token = (await server.project.call("auth.issue_magic_link", email=email))["token"]
        await self.call("acme", "auth.consume_magic_link", token=token)

    @asynccontextmanager
    async def socket(self) -> AsyncIterator[trio_websocket.WebSocketConnection]:
        url = self.ui.url.replace("http://", "ws://") + "/ws"
        headers = [(b"Origin", self.ui.url.encode()), (b"Cookie", f"{COOKIE_NAME}={self.cookie}".encode())]
        async with trio_websocket.open_websocket_url(url, extra_headers=headers) as ws:
            hello = json.loads(await ws.get_message())
            assert hello["type"] == "hello"
            yield ws


async def frames_until(ws: trio_websocket.WebSocketConnection, want: Any) -> list[dict[str, Any]]:
    """Frames up to and including the first one ``want`` accepts."""
    seen = []
    with trio.fail_after(5):
        while True:
            frame = json.loads(await ws.get_message())
            seen.append(frame)
            if want(frame):
                return seen


def connected(frame: dict[str, Any]) -> bool:
    return frame["type"] == "state" and frame["state"] == "connected"


@asynccontextmanager
async def desk() -> AsyncIterator[tuple[UiServer, ProjectServer]]:
    with short_tmp() as root:
        async with trio.open_nursery() as nursery:
            server: ProjectServer = await nursery.start(
                serve_project, ServerConfig(project="acme", data_dir=root / "data", socket_dir=root / "sock")
            )
            ui: UiServer = await nursery.start(
                serve_ui, UiConfig(projects={"acme": f"unix:{root / 'sock' / 'rpc.sock'}"}, listen="127.0.0.1:0")
            )
            await server.project.call("user.enroll", email="cat@example.com", role="customer")
            await server.project.call("user.enroll", email="sam@example.com", role="support")
            try:
                yield ui, server
            finally:
                ui.stop()
                server.stop()


async def test_each_browser_gets_the_events_its_person_may_see() -> None:
    async with desk() as (ui, server):
        customer, agent = Browser(ui), Browser(ui)
        await customer.sign_in(server, "cat@example.com")
        await agent.sign_in(server, "sam@example.com")
        async with customer.socket() as customer_ws, agent.socket() as agent_ws:
            await frames_until(customer_ws, connected)
            await frames_until(agent_ws, connected)
            ticket = await customer.call("acme", "ticket.create", title="Help", body="please")
            await agent.call("acme", "comment.create", ticket_id=ticket["id"], body="psst", internal=True)
            await agent.call("acme", "comment.create", ticket_id=ticket["id"], body="Hello!")

            def public_reply(frame: dict[str, Any]) -> bool:
                return frame["type"] == "event" and frame["event"]["data"].get("comment", {}).get("body") == "Hello!"

            agent_saw = await frames_until(agent_ws, public_reply)
            customer_saw = await frames_until(customer_ws, public_reply)

        def comments(frames: list[dict[str, Any]]) -> list[str]:
            return [
                f["event"]["data"]["comment"]["body"]
                for f in frames
                if f.get("event", {}).get("type") == "comment.created"
            ]

        assert comments(agent_saw) == ["psst", "Hello!"]
        assert comments(customer_saw) == ["Hello!"]  # the internal note never reached the customer's socket
        assert all(f["project"] == "acme" for f in customer_saw + agent_saw if f["type"] == "event")
        created = next(f for f in agent_saw if f["type"] == "event" and f["event"]["type"] == "ticket.created")
        assert created["event"]["data"]["ticket"]["title"] == "Help"


async def test_a_socket_follows_sign_in_after_resubscribe() -> None:
    async with desk() as (ui, server):
        browser = Browser(ui)
        await browser.call(None, "ui.status")
        async with browser.socket() as ws:
            await frames_until(ws, connected)
            token = (await server.project.call("auth.issue_magic_link", email="sam@example.com"))["token"]
            await browser.call("acme", "auth.consume_magic_link", token=token)
            await ws.send_message(json.dumps({"type": "resubscribe", "project": "acme"}))
            await frames_until(ws, connected)
            await server.project.call("ticket.create", Caller.from_user("cat@example.com"), title="After sign-in")
            frames = await frames_until(ws, lambda f: f["type"] == "event")
            assert frames[-1]["event"]["data"]["ticket"]["title"] == "After sign-in"


async def test_connection_states_reach_the_browser() -> None:
    async with desk() as (ui, server):
        browser = Browser(ui)
        await browser.call(None, "ui.status")
        async with browser.socket() as ws:
            await frames_until(ws, connected)
            server.stop()  # the project goes away: the browser is told, with the reason
            frames = await frames_until(ws, lambda f: f["type"] == "state" and f["state"] == "disconnected")
            assert frames[-1]["project"] == "acme" and frames[-1]["detail"]
        status = await browser.call(None, "ui.status")
        assert status["projects"][0]["name"] == "acme"
