"""Sign-up policy: ``invite`` (default) sends nothing to unknown emails; ``open`` creates the customer whose link
it was when the link is used, from the device that asked."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import attrs
import pytest

from hero_assistance.core import Caller, InvalidToken, Project, ProjectConfig, open_project

from ._server_fixtures import RpcFailure, http_unix, running_server
from .conftest import Desk
from .test_magic_links import tokens_in


@pytest.fixture
async def open_desk(project_config: ProjectConfig) -> AsyncIterator[Project]:
    async with open_project(attrs.evolve(project_config, signup="open")) as opened:
        yield opened


async def test_invite_is_the_default_and_sends_nothing_to_strangers(
    project: Project, desk: Desk, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="hero_assistance.magic_link")
    assert (await project.call("project.info"))["signup"] == "invite"
    device = Caller.from_device("400::71")
    answer = await project.call("auth.request_magic_link", device, email="stranger@example.com")
    assert answer["sent"] is True and set(answer) == {"sent", "expires_at"}
    assert tokens_in(caplog) == []
    assert (await project.call("user.list", query="stranger"))["items"] == []


async def test_open_sign_up_creates_the_customer_on_first_use(
    open_desk: Project, caplog: pytest.LogCaptureFixture
) -> None:
    project = open_desk
    caplog.set_level(logging.WARNING, logger="hero_assistance.magic_link")
    assert (await project.call("project.info"))["signup"] == "open"
    laptop = Caller.from_device("400::72")
    await project.call("auth.request_magic_link", laptop, email="New.Person@Example.com")
    [token] = tokens_in(caplog)
    with pytest.raises(InvalidToken):  # still bound to the device that asked
        await project.call("auth.consume_magic_link", Caller.from_device("400::73"), token=token)
    assert (await project.call("user.list", query="new.person"))["items"] == []
    signed_in = await project.call("auth.consume_magic_link", laptop, token=token, device_label="laptop")
    assert signed_in["created"] is True
    user = signed_in["user"]
    assert (user["email"], user["role"], user["status"]) == ("new.person@example.com", "customer", "active")
    who = await project.call("auth.whoami", laptop)
    assert who["role"] == "customer" and who["user"]["id"] == user["id"]
    ticket = await project.call("ticket.create", laptop, title="My first ticket")
    assert "tags" not in ticket
    # A second link signs the same person in; nobody is created twice.
    await project.call("auth.request_magic_link", laptop, email="new.person@example.com")
    again = await project.call("auth.consume_magic_link", laptop, token=tokens_in(caplog)[-1])
    assert again["created"] is False and again["user"]["id"] == user["id"]


async def test_open_sign_up_never_revives_a_disabled_account(
    open_desk: Project, caplog: pytest.LogCaptureFixture
) -> None:
    project = open_desk
    caplog.set_level(logging.WARNING, logger="hero_assistance.magic_link")
    user = await project.call("user.enroll", email="gone@example.com", role="customer")
    await project.call("user.update", id=user["id"], status="disabled")
    answer = await project.call("auth.request_magic_link", Caller.from_device("400::74"), email="gone@example.com")
    assert answer["sent"] is True
    assert tokens_in(caplog) == []


@pytest.mark.parametrize("policy", ["open", "invite"])
async def test_the_server_flag_sets_the_policy(policy: str) -> None:
    with running_server("--signup", policy) as server:
        async with http_unix(server.dirs.rpc) as rpc:
            assert (await rpc.call("project.info"))["signup"] == policy
            await rpc.call("auth.request_magic_link", as_device="phone", email="first@example.com")
            if policy == "invite":
                assert "MAGIC-LINK" not in server.log
                with pytest.raises(RpcFailure) as refused:
                    await rpc.call("auth.consume_magic_link", as_device="phone", token="x" * 43)
                assert refused.value.code == -32007
                return
            line = await server.wait_for_line(r"MAGIC-LINK project=acme email=first@example\.com .*token=(\S+)")
            signed_in = await rpc.call("auth.consume_magic_link", as_device="phone", token=line[1])
            assert signed_in["created"] is True and signed_in["user"]["role"] == "customer"
            assert (await rpc.call("auth.whoami", as_device="phone"))["user"]["email"] == "first@example.com"
