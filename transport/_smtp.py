"""Magic links by mail: a bounded queue the auth service fills and one task drains over SMTP.

``deliver`` is called inside an RPC handler and must not block, so it only queues; the task that
``SmtpOutbox.run`` starts in the server's nursery sends with ``smtplib`` in a worker thread (a
mail server may take seconds to answer). A full queue drops the link with a warning: the user
can ask again, and the rate limits keep one caller from filling it. Tokens never reach the log.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from datetime import datetime
from email.message import EmailMessage
from typing import Literal
from urllib.parse import unquote, urlsplit

import attrs
import trio

from hero_assistance.core import sign_in_link

log = logging.getLogger("hero_assistance.magic_link")

Security = Literal["plain", "starttls", "tls"]
_SCHEMES: dict[str, tuple[Security, int]] = {
    "smtp": ("plain", 25),
    "smtp+starttls": ("starttls", 587),
    "starttls": ("starttls", 587),
    "smtps": ("tls", 465),
}
QUEUE_SIZE = 100
ATTEMPTS = 3
RETRY_DELAYS_S = (2.0, 10.0)
SMTP_TIMEOUT_S = 30.0


@attrs.frozen
class SmtpSettings:
    host: str
    port: int
    security: Security
    sender: str
    username: str | None = None
    password: str | None = attrs.field(default=None, repr=False)


def parse_smtp_url(url: str, sender: str) -> SmtpSettings:
    """``smtp://[user:pass@]host[:port]``, ``smtp+starttls://…`` or ``smtps://…``; ``ValueError`` if not."""
    parts = urlsplit(url)
    if parts.scheme not in _SCHEMES:
        raise ValueError(f"SMTP URL {parts.scheme}://…: the scheme must be smtp, smtp+starttls or smtps")
    if not parts.hostname:
        raise ValueError("SMTP URL: no host")
    if not sender or "@" not in sender:
        raise ValueError("an SMTP sender address (--smtp-from) is needed with --smtp-url")
    security, default_port = _SCHEMES[parts.scheme]
    try:
        port = parts.port or default_port
    except ValueError:
        raise ValueError("SMTP URL: the port must be a number from 0 to 65535") from None
    return SmtpSettings(
        host=parts.hostname,
        port=port,
        security=security,
        sender=sender,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
    )


@attrs.frozen
class _Mail:
    email: str
    project: str
    message: EmailMessage = attrs.field(repr=False)


class SmtpOutbox:
    """A ``MagicLinkOutbox`` that mails each link; run ``run`` in a nursery for it to send anything."""

    def __init__(self, settings: SmtpSettings, *, link_base_url: str | None = None, queue_size: int = QUEUE_SIZE):
        self.settings = settings
        self.link_base_url = link_base_url
        self._send, self._receive = trio.open_memory_channel[_Mail](queue_size)
        self._closing = False
        self._backoff = trio.CancelScope()
        self.sent = 0
        self.failed = 0

    def deliver(self, *, email: str, token: str, expires_at: datetime, project: str) -> None:
        try:
            self._send.send_nowait(_Mail(email, project, self._compose(email, token, expires_at, project)))
        except (trio.WouldBlock, trio.ClosedResourceError):
            log.warning("magic link for %s dropped: the mail queue is full or closed", email)

    def _compose(self, email: str, token: str, expires_at: datetime, project: str) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self.settings.sender
        message["To"] = email
        message["Subject"] = f"Sign in to {project}"
        until = expires_at.strftime("%Y-%m-%d %H:%M UTC")
        if self.link_base_url:
            how = f"Open this link to sign in to {project}:\n\n    {sign_in_link(self.link_base_url, token)}\n"
        else:
            how = f"Your sign-in code for {project}:\n\n    {token}\n"
        message.set_content(
            f"{how}\nIt works once, from the device that asked for it, until {until}.\n"
            "If you did not ask to sign in, ignore this mail.\n"
        )
        return message

    def close(self) -> None:
        """Accept no more mail; ``run`` returns once what is queued has had one more try."""
        self._closing = True
        self._backoff.cancel()  # a stopping server does not wait out a retry delay
        self._send.close()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Send queued mail until ``close`` (then drain) or cancellation."""
        task_status.started()
        async with self._receive:
            async for mail in self._receive:
                await self._send_with_retries(mail)

    async def _send_with_retries(self, mail: _Mail) -> None:
        for attempt in range(1, ATTEMPTS + 1):
            try:
                # abandon_on_cancel: a stop must not wait for a hung mail server; smtplib's own
                # timeout ends the abandoned thread.
                await trio.to_thread.run_sync(self._send_blocking, mail.message, abandon_on_cancel=True)
            except (OSError, smtplib.SMTPException) as exc:
                log.warning("magic link mail to %s failed (attempt %d of %d): %s", mail.email, attempt, ATTEMPTS, exc)
                if attempt == ATTEMPTS or self._closing:
                    break
                with trio.CancelScope() as self._backoff:
                    await trio.sleep(RETRY_DELAYS_S[attempt - 1])
            else:
                self.sent += 1
                log.info("magic link mailed project=%s email=%s", mail.project, mail.email)
                return
        self.failed += 1
        log.error("magic link mail to %s given up", mail.email)

    def _send_blocking(self, message: EmailMessage) -> None:
        s = self.settings
        client: smtplib.SMTP
        if s.security == "tls":
            client = smtplib.SMTP_SSL(s.host, s.port, timeout=SMTP_TIMEOUT_S, context=ssl.create_default_context())
        else:
            client = smtplib.SMTP(s.host, s.port, timeout=SMTP_TIMEOUT_S)
        with client:
            if s.security == "starttls":
                client.starttls(context=ssl.create_default_context())
            if s.username:
                client.login(s.username, s.password or "")
            client.send_message(message)
