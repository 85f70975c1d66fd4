"""Client calls against a real server: wire JSON, typed records, batches, and every error class."""

from __future__ import annotations

import base64

import outcome
import pytest
import trio
import trio.testing

from hero_assistance.core import (
    Comment,
    Conflict,
    Forbidden,
    HistoryEntry,
    InvalidParams,
    InvalidRequest,
    InvalidToken,
    MethodNotFound,
    NotFound,
    Page,
    ParseError,
    PayloadTooLarge,
    Presence,
    ProjectInfo,
    RateLimited,
    Ticket,
    Unauthenticated,
    User,
)
from hero_assistance.core._records import SearchResults, WhoAmI
from hero_assistance.transport._client import Client, connect
from hero_assistance.transport._errors import ClientClosed, ConnectFailed

from ._client_fixtures import (  # noqa: F401
    ServerProcess,
    Servers,
    enroll_desk,
    free_tcp_port,
    server_fixture,
    servers_fixture,
)


async def test_call_returns_wire_json_and_namespaces_return_records(server: ServerProcess) -> None:
    desk = await enroll_desk(server.url)
    async with connect(server.url) as operator, connect(server.url, as_user=desk.ann) as ann:
        whoami = await ann.call("auth.whoami")
        assert whoami["user"]["email"] == desk.ann and whoami["role"] == "customer"

        typed_whoami = await ann.auth.whoami()
        assert isinstance(typed_whoami, WhoAmI) and typed_whoami.user is not None
        assert typed_whoami.user.email == desk.ann

        ticket = await ann.tickets.create("Printer on fire", body="smoke everywhere", tags=("hardware",))
        assert isinstance(ticket, Ticket)
        assert ticket.title == "Printer on fire" and ticket.status == "open"
        # A customer's Ticket carries no tags (the agents' triage); the operator's carries them.
        assert not ticket.tags and (await operator.tickets.get(ticket.id)).tags == ["hardware"]

        page = await ann.tickets.list()
        assert isinstance(page, Page) and [t.id for t in page.items] == [ticket.id]
        assert all(isinstance(t, Ticket) for t in page.items)

        comment = await ann.comments.create(ticket.id, body="still burning")
        assert isinstance(comment, Comment) and comment.ticket_id == ticket.id
        comments = await ann.comments.list(ticket.id)
        assert [c.body for c in comments.items] == ["still burning"]

        sam = (await operator.users.list(role="support")).items[0]
        assert isinstance(sam, User) and sam.email == desk.sam
        updated = await operator.tickets.update(ticket.id, assignee_id=sam.id, priority="urgent")
        assert updated.assignee_id == sam.id and updated.priority == "urgent"
        unassigned = await operator.tickets.update(ticket.id, assignee_id=None)
        assert unassigned.assignee_id is None and unassigned.priority == "urgent"  # OMIT keeps, None clears

        members = await operator.members.list(ticket.id)
        assert {u.email for u in members.items} == {desk.ann, desk.sam}  # the assignee joined
        history = await ann.tickets.history(ticket.id)
        assert history.items and all(isinstance(h, HistoryEntry) for h in history.items)

        presence = await ann.presence.update("away", status_text="lunch")
        assert isinstance(presence, Presence) and presence.status == "away"

        hits = await ann.search.query("burning")
        assert isinstance(hits, SearchResults) and hits.items and hits.items[0].ticket_id == ticket.id

        info = await ann.project.info()
        assert isinstance(info, ProjectInfo) and info.name == "acme" and info.auth_mode == "proxy"
        document = await ann.rpc.discover()
        assert {m["name"] for m in document["methods"]} >= {"ticket.create", "auth.whoami"}


async def test_batch_returns_one_outcome_per_call_in_order(server: ServerProcess) -> None:
    async with connect(server.url) as client:
        ticket = await client.tickets.create("batch me")
        results = await client.batch(
            [("ticket.get", {"id": ticket.id}), ("ticket.get", {"id": 9999}), ("auth.whoami", {})]
        )
        assert isinstance(results[0], outcome.Value) and results[0].unwrap()["id"] == ticket.id
        assert isinstance(results[1], outcome.Error) and isinstance(results[1].error, NotFound)
        assert results[2].unwrap()["role"] == "admin"
        assert await client.batch([]) == []
        with pytest.raises(InvalidRequest):  # the server refuses batches over 100 as a whole
            await client.batch([("auth.whoami", {})] * 101)


async def test_notification_gets_no_answer(server: ServerProcess) -> None:
    async with connect(server.url) as client:
        await client.notify("ticket.create", title="fire and forget")
        page = await client.tickets.list()
        assert [t.title for t in page.items] == ["fire and forget"]


async def test_every_error_class_from_a_real_server(server: ServerProcess) -> None:
    desk = await enroll_desk(server.url)
    async with (
        connect(server.url) as operator,
        connect(server.url, as_user=desk.ann) as ann,
        connect(server.url, as_user=desk.bob) as bob,
        connect(server.url, as_device="400::dead") as stranger,
    ):
        ticket = await ann.tickets.create("mine")
        with pytest.raises(ParseError):
            await operator._post(
                b"{not json", retry_stale=False, parse=lambda r: operator._unwrap(operator._decode(r), 0)
            )
        with pytest.raises(InvalidRequest):
            await operator.batch([("auth.whoami", {})] * 101)
        with pytest.raises(MethodNotFound):
            await operator.call("ticket.explode")
        with pytest.raises(InvalidParams) as invalid:
            await operator.call("ticket.get", id=1, colour="red")
        assert invalid.value.data == {"field": "colour", "reason": "unknown parameter"}
        with pytest.raises(Unauthenticated):
            await stranger.tickets.create("who am I")
        with pytest.raises(Forbidden):
            await ann.users.list()
        with pytest.raises(NotFound) as missing:
            await bob.tickets.get(ticket.id)  # exists, but bob may not see it
        assert missing.value.data == {"kind": "ticket", "id": ticket.id}
        with pytest.raises(Conflict):
            await operator.users.enroll(desk.ann, "customer")
        with pytest.raises(InvalidToken):
            await stranger.auth.consume_magic_link("no-such-token")
        with pytest.raises(PayloadTooLarge):
            text = base64.b64encode(b"plain text, not an image").decode()
            await ann.attachments.upload("notes.txt", "text/plain", text)
        with pytest.raises(RateLimited) as limited:
            for _ in range(10):
                await stranger.auth.request_magic_link("nobody@example.com")
        assert limited.value.data["retry_after"] >= 1
        # After all those errors the same clients still work.
        assert (await ann.tickets.get(ticket.id)).id == ticket.id


async def test_http_413_for_an_oversized_body_is_payload_too_large(server: ServerProcess) -> None:
    async with connect(server.url) as client:
        with pytest.raises(PayloadTooLarge):
            await client.call("ticket.create", title="big", body="x" * (17 * 1024 * 1024))
        assert (await client.auth.whoami()).role == "admin"


async def test_connect_fails_cleanly_without_a_server(tmp_path: object) -> None:
    with pytest.raises(ConnectFailed, match="cannot connect"):
        async with connect("unix:/nonexistent/hero/rpc.sock"):
            pass
    client = Client("unix:/nonexistent/hero/rpc.sock")
    with pytest.raises(ConnectFailed):
        await client.call("auth.whoami")
    await client.aclose()
    with pytest.raises(ClientClosed):
        await client.call("auth.whoami")


async def test_concurrent_calls_use_several_connections(server: ServerProcess) -> None:
    async with connect(server.url, max_connections=4) as client:
        answers: list[int] = []

        async def one(i: int) -> None:
            ticket = await client.tickets.create(f"t{i}")
            answers.append(ticket.id)

        async with trio.open_nursery() as nursery:
            for i in range(20):
                nursery.start_soon(one, i)
        stats = client.statistics()
        assert sorted(answers) == list(range(1, 21))
        assert 1 < stats.opened <= 4 and stats.in_use == 0 and stats.poisoned == 0


async def test_closing_the_client_fails_calls_in_flight(server: ServerProcess) -> None:
    # A call parked on a full pool, and one mid-request, both end with ClientClosed when the client closes.
    client = Client(server.url, max_connections=1)
    errors: list[BaseException] = []

    async def call() -> None:
        try:
            await client.call("auth.whoami")
        except ClientClosed as exc:
            errors.append(exc)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(call)
        nursery.start_soon(call)
        await trio.testing.wait_all_tasks_blocked()
        await client.aclose()
    # Either call may already have finished (a fast server); none hangs, none raises anything else.
    assert all(isinstance(e, ClientClosed) for e in errors)
    assert client.statistics().open == 0


async def test_calls_and_events_over_the_tcp_overlay_listener(servers: Servers) -> None:
    # A literal bind makes every TCP peer a device keyed by its address: here ::1. Bind that device to Ann
    # with an invitation, then use the overlay URL exactly as a remote app would.
    port = free_tcp_port()
    server = await servers.start("overlay", mycelium_bind=f"[::1]:{port}")
    url = f"http://[::1]:{port}"
    async with connect(server.url) as operator:
        await operator.users.enroll("ann@example.com", "customer")
        invite = await operator.auth.issue_magic_link("ann@example.com")
    async with connect(url, as_user="ignored@example.com") as remote:
        whoami = await remote.auth.whoami()
        assert whoami.device == "::1" and whoami.user is None  # identity headers mean nothing over TCP
        await remote.auth.consume_magic_link(invite.token, device_label="laptop")
        assert (await remote.auth.whoami()).user.email == "ann@example.com"  # type: ignore[union-attr]
        async with remote.events(since=0) as events:
            assert (await events.receive())["type"] == "subscribed"
            ticket = await remote.tickets.create("over the overlay")
            event = await events.receive()
            assert (event["type"], event["ticket_id"]) == ("ticket.created", ticket.id)
