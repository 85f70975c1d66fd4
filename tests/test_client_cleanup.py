"""Leaving any context manager (normally, by exception, by cancellation) leaves no task, socket or fd behind."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import pytest
import trio

from hero_assistance.transport._client import Client, connect
from hero_assistance.transport._errors import ConnectFailed
from hero_assistance.transport._multi import MultiProjectClient
from hero_assistance.transport._multi_backoff import Backoff

from ._client_fixtures import ServerProcess, open_fds, server_fixture, servers_fixture, trio_tasks  # noqa: F401


class Boom(Exception):
    pass


@asynccontextmanager
async def nothing_left_behind() -> AsyncIterator[None]:
    await trio.sleep(0.05)  # let earlier tests' closing sockets settle
    fds, tasks = open_fds(), sorted(trio_tasks())
    yield
    await trio.sleep(0.05)
    assert sorted(trio_tasks()) == tasks
    assert open_fds() == fds


async def ends(how: str, body: Callable[[], Awaitable[None]]) -> None:
    """Run ``body`` and leave the way ``how`` says: after it finishes, by an exception, or cancelled in it."""
    if how == "normally":
        await body()
    elif how == "exception":
        with pytest.raises(Boom):
            await body()
            raise Boom
    else:
        with trio.move_on_after(0.2) as scope:
            await body()
            await trio.sleep_forever()
        assert scope.cancelled_caught


HOW = ["normally", "exception", "cancelled"]


@pytest.mark.parametrize("how", HOW)
async def test_connect(server: ServerProcess, how: str) -> None:
    async with nothing_left_behind():

        async def body() -> None:
            async with connect(server.url, max_connections=4) as client:
                async with trio.open_nursery() as nursery:
                    for _ in range(8):
                        nursery.start_soon(client.auth.whoami)
                assert client.statistics().open > 1
                if how == "exception":
                    raise Boom
                if how == "cancelled":
                    await client.call("ticket.list")
                    await trio.sleep_forever()

        await ends(how, body)


@pytest.mark.parametrize("how", HOW)
async def test_events(server: ServerProcess, how: str) -> None:
    async with nothing_left_behind():

        async def body() -> None:
            async with connect(server.url) as client, client.events(since=0) as events:
                await events.receive()
                await client.tickets.create("one")
                await events.receive()
                if how == "exception":
                    raise Boom
                if how == "cancelled":
                    await events.receive()  # waits: cancelled while reading

        await ends(how, body)


@pytest.mark.parametrize("how", HOW)
async def test_multi_project_client(server: ServerProcess, how: str) -> None:
    async with nothing_left_behind():

        async def body() -> None:
            async with MultiProjectClient(backoff=Backoff(0.01, 0.05)) as mpc:
                await mpc.register("acme", server.url, since=0)
                await mpc.register("gone", "unix:/nonexistent/x/rpc.sock")  # keeps retrying in the background
                await mpc.call("acme", "ticket.create", title="hello")
                async with mpc.events() as merged:
                    while (await merged.receive())[1].get("type") != "ticket.created":
                        pass
                    if how == "exception":
                        raise Boom
                    if how == "cancelled":
                        await merged.receive()
                        await trio.sleep_forever()
                await mpc.unregister("gone")

        await ends(how, body)


async def test_failed_connects_and_closed_clients(server: ServerProcess) -> None:
    async with nothing_left_behind():
        with pytest.raises(ConnectFailed):
            async with connect("unix:/nonexistent/x/rpc.sock"):
                pass
        client = Client(server.url)
        with pytest.raises(ConnectFailed):
            async with Client("unix:/nonexistent/x/rpc.sock").events():
                pass
        with trio.move_on_after(0.05):
            async with client.events() as events:
                await events.receive()
                await trio.sleep_forever()
        await client.aclose()
