"""Where magic links go: an outbox the auth service hands each new token to.

With no mail configured the token goes to the operator's log as one clearly marked line (the
only place a secret is ever logged, on purpose). The transport layer provides an SMTP outbox.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Protocol
from urllib.parse import quote

log = logging.getLogger("hero_assistance.magic_link")


class MagicLinkOutbox(Protocol):
    def deliver(self, *, email: str, token: str, expires_at: datetime, project: str) -> None:
        """Hand over a token; must not block (queue the slow part)."""


def sign_in_link(base_url: str | None, token: str) -> str:
    if not base_url:
        return token
    separator = "&" if "?" in base_url else "?"
    return f"{base_url}{separator}token={quote(token)}"


class LogOutbox:
    """Writes each magic link to the server's log as one line starting with ``MAGIC-LINK``."""

    def __init__(self, link_base_url: str | None = None) -> None:
        self.link_base_url = link_base_url

    def deliver(self, *, email: str, token: str, expires_at: datetime, project: str) -> None:
        log.warning(
            "MAGIC-LINK project=%s email=%s expires=%s token=%s link=%s",
            project,
            email,
            expires_at.isoformat(),
            token,
            sign_in_link(self.link_base_url, token),
        )
