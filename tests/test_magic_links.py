"""Magic links: device-bound, single use, expiring, rate limited, and no account probing."""

from __future__ import annotations

import logging

import pytest

from hero_assistance.core import Caller, InvalidToken, Project, RateLimited, Unauthenticated

from .conftest import Desk, FakeClock


def tokens_in(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage().split("token=")[1].split()[0]
        for r in caplog.records
        if r.name == "hero_assistance.magic_link" and r.getMessage().startswith("MAGIC-LINK")
    ]


async def test_a_device_signs_in_with_the_link_it_requested(
    project: Project, desk: Desk, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="hero_assistance.magic_link")
    laptop = Caller.from_device("400::1234")
    answer = await project.call("auth.request_magic_link", laptop, email="ALICE@example.com")
    assert answer["sent"] is True
    [token] = tokens_in(caplog)
    other = Caller.from_device("400::9999")
    with pytest.raises(InvalidToken):
        await project.call("auth.consume_magic_link", other, token=token)
    signed_in = await project.call("auth.consume_magic_link", laptop, token=token, device_label="laptop")
    assert signed_in["user"]["email"] == "alice@example.com"
    assert signed_in["device"] == {"key": "400::1234", "label": "laptop", "bound_at": signed_in["device"]["bound_at"]}
    who = await project.call("auth.whoami", laptop)
    assert (who["user"]["id"], who["role"], who["device"]) == (desk.alice.user_id, "customer", "400::1234")
    with pytest.raises(InvalidToken):  # single use
        await project.call("auth.consume_magic_link", laptop, token=token)


async def test_unknown_emails_get_the_same_answer_and_no_token(
    project: Project, desk: Desk, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="hero_assistance.magic_link")
    device = Caller.from_device("400::77")
    known = await project.call("auth.request_magic_link", device, email="alice@example.com")
    unknown = await project.call("auth.request_magic_link", device, email="nobody@example.com")
    assert set(known) == set(unknown) == {"sent", "expires_at"}
    assert len(tokens_in(caplog)) == 1


async def test_tokens_expire(project: Project, desk: Desk, clock: FakeClock, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="hero_assistance.magic_link")
    device = Caller.from_device("400::88")
    await project.call("auth.request_magic_link", device, email="alice@example.com")
    clock.advance(16 * 60)
    with pytest.raises(InvalidToken):
        await project.call("auth.consume_magic_link", device, token=tokens_in(caplog)[0])


async def test_requests_are_rate_limited_per_device_and_per_email(
    project: Project, desk: Desk, clock: FakeClock
) -> None:
    device = Caller.from_device("400:1::99")
    for _ in range(5):
        await project.call("auth.request_magic_link", device, email="alice@example.com")
    with pytest.raises(RateLimited) as err:
        await project.call("auth.request_magic_link", device, email="bob@example.com")
    assert 0 < err.value.data["retry_after"] <= 15 * 60
    # Other devices are still limited per email: Alice's mailbox is not flooded from many devices.
    with pytest.raises(RateLimited):
        await project.call("auth.request_magic_link", Caller.from_device("400:2::100"), email="alice@example.com")
    await project.call("auth.request_magic_link", Caller.from_device("400:2::100"), email="bob@example.com")
    clock.advance(61 * 60)
    await project.call("auth.request_magic_link", device, email="alice@example.com")


async def test_a_caller_without_a_device_cannot_bind(project: Project) -> None:
    with pytest.raises(Unauthenticated):
        await project.call("auth.request_magic_link", Caller.anonymous(), email="alice@example.com")


async def test_an_invitation_works_from_any_device_and_rebinds(project: Project, desk: Desk) -> None:
    invite = await project.call("auth.issue_magic_link", email="bob@example.com")
    # Alice's device is rebound to Bob: whoever holds the device proved Bob's invitation.
    await project.call("auth.consume_magic_link", desk.alice.caller, token=invite["token"])
    assert (await project.call("auth.whoami", desk.alice.caller))["user"]["email"] == "bob@example.com"


async def test_a_disabled_user_is_signed_out_everywhere(project: Project, desk: Desk) -> None:
    await desk.ada.call(project, "user.update", id=desk.alice.user_id, status="disabled")
    with pytest.raises(Unauthenticated):
        await desk.alice.call(project, "ticket.list")
