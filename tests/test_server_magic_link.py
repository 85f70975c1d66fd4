"""Magic links from a running server: by SMTP when configured, else one marked log line; rate limited."""

from __future__ import annotations

import logging
import re
import socket
from datetime import UTC, datetime

import pytest
import trio

from hero_assistance.transport._smtp import SmtpOutbox, SmtpSettings, parse_smtp_url

from ._server_fixtures import RpcFailure, SmtpSink, http_unix, running_server, setup_people

ANN = "ann@example.com"


async def test_a_magic_link_is_mailed_and_binds_the_device_that_asked() -> None:
    sink = SmtpSink()
    async with trio.open_nursery() as nursery:
        port = await nursery.start(sink.serve)
        with running_server(
            "--smtp-url",
            f"smtp://mailer:s%40cret@127.0.0.1:{port}",
            "--smtp-from",
            "help@acme.test",
            "--link-base-url",
            "https://acme.test/signin",
        ) as server:
            await setup_people(server.dirs.rpc, (ANN, "customer"))
            async with http_unix(server.dirs.rpc) as rpc:
                answer = await rpc.call("auth.request_magic_link", as_device="laptop-1", email=ANN)
                assert answer["sent"] is True
                with trio.fail_after(10):
                    await sink.received.wait()
                mail = sink.mails[0]
                assert mail.sender == "help@acme.test"
                assert mail.recipients == [ANN]
                assert mail.auth == "\0mailer\0s@cret"  # credentials from the URL, percent-decoded
                assert "Subject: Sign in to acme" in mail.data
                link = re.search(r"https://acme\.test/signin\?token=(\S+)", mail.data)
                assert link is not None
                token = link[1]

                with pytest.raises(RpcFailure) as elsewhere:  # only from the device that asked
                    await rpc.call("auth.consume_magic_link", as_device="other-device", token=token)
                assert elsewhere.value.code == -32007
                signed_in = await rpc.call("auth.consume_magic_link", as_device="laptop-1", token=token)
                assert signed_in["user"]["email"] == ANN
                assert (await rpc.call("auth.whoami", as_device="laptop-1"))["user"]["email"] == ANN

                # an unknown address gets the same answer, and no mail
                unknown = await rpc.call("auth.request_magic_link", as_device="laptop-2", email="nobody@example.com")
                assert unknown["sent"] is True
            await server.wait_for_line(f"magic link mailed project=acme email={ANN}")
            await trio.sleep(0.3)
            assert len(sink.mails) == 1
            assert token not in server.log  # mailed links never reach the log
            assert "MAGIC-LINK" not in server.log
        nursery.cancel_scope.cancel()


async def test_without_smtp_the_link_is_one_marked_log_line() -> None:
    with running_server("--link-base-url", "https://acme.test/signin") as server:
        await setup_people(server.dirs.rpc, (ANN, "customer"))
        async with http_unix(server.dirs.rpc) as rpc:
            await rpc.call("auth.request_magic_link", as_device="phone", email=ANN)
            line = await server.wait_for_line(
                r"MAGIC-LINK project=acme email=ann@example\.com .*token=(\S+) link=(\S+)"
            )
            assert line[2] == f"https://acme.test/signin?token={line[1]}"
            signed_in = await rpc.call("auth.consume_magic_link", as_device="phone", token=line[1])
            assert signed_in["device"]["key"] == "phone"
            with pytest.raises(RpcFailure) as again:  # single use
                await rpc.call("auth.consume_magic_link", as_device="phone", token=line[1])
            assert again.value.code == -32007


async def test_requests_for_magic_links_are_rate_limited() -> None:
    with running_server() as server:
        await setup_people(server.dirs.rpc, (ANN, "customer"))
        async with http_unix(server.dirs.rpc) as rpc:
            for _ in range(5):
                await rpc.call("auth.request_magic_link", as_device="eager", email=ANN)
            with pytest.raises(RpcFailure) as limited:
                await rpc.call("auth.request_magic_link", as_device="eager", email="someone-else@example.com")
            assert limited.value.code == -32005  # per device
            assert limited.value.data["retry_after"] > 0
            with pytest.raises(RpcFailure) as per_email:
                await rpc.call("auth.request_magic_link", as_device="fresh-device", email=ANN)
            assert per_email.value.code == -32005  # per email, whichever device asks


async def test_a_dead_mail_server_does_not_hold_up_the_request() -> None:
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there
    with running_server("--smtp-url", f"smtp://127.0.0.1:{port}", "--smtp-from", "help@acme.test") as server:
        await setup_people(server.dirs.rpc, (ANN, "customer"))
        async with http_unix(server.dirs.rpc) as rpc:
            with trio.fail_after(2):
                assert (await rpc.call("auth.request_magic_link", as_device="d", email=ANN))["sent"] is True
        await server.wait_for_line(r"magic link mail to ann@example\.com failed \(attempt 1 of 3\)")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("smtp://mail.example.com", SmtpSettings("mail.example.com", 25, "plain", "a@b.c")),
        ("smtp+starttls://u:p@mail.example.com", SmtpSettings("mail.example.com", 587, "starttls", "a@b.c", "u", "p")),
        ("smtps://mail.example.com:2465", SmtpSettings("mail.example.com", 2465, "tls", "a@b.c")),
    ],
)
def test_smtp_urls_name_host_port_security_and_credentials(url: str, expected: SmtpSettings) -> None:
    assert parse_smtp_url(url, "a@b.c") == expected


def test_an_smtp_password_never_shows_in_a_repr() -> None:
    assert "hunter2" not in repr(parse_smtp_url("smtps://u:hunter2@mail.example.com", "a@b.c"))


@pytest.mark.parametrize("url", ["http://mail.example.com", "smtp://", "smtp://mail.example.com:99999"])
def test_bad_smtp_urls_are_refused(url: str) -> None:
    with pytest.raises(ValueError):
        parse_smtp_url(url, "a@b.c")


async def test_a_full_mail_queue_drops_the_link_without_logging_it(caplog: pytest.LogCaptureFixture) -> None:
    outbox = SmtpOutbox(SmtpSettings("127.0.0.1", 25, "plain", "a@b.c"), queue_size=1)
    expires = datetime(2030, 1, 1, tzinfo=UTC)
    with caplog.at_level(logging.WARNING, logger="hero_assistance.magic_link"):
        outbox.deliver(email=ANN, token="first-secret", expires_at=expires, project="acme")
        outbox.deliver(email=ANN, token="second-secret", expires_at=expires, project="acme")
    assert "dropped" in caplog.text
    assert "secret" not in caplog.text
