"""What every service shares: the storage, the event hub, the clock and the project's settings."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import attrs

from ._events import EventHub
from ._identity import AuthMode
from ._mail import MagicLinkOutbox
from ._records import SignupPolicy
from ._storage import Storage


def utc_now() -> datetime:
    return datetime.now(UTC)


@attrs.define(kw_only=True)
class Limits:
    """Tunables with safe defaults; tests shrink them."""

    magic_link_ttl_s: int = 15 * 60
    magic_links_per_device: int = 5
    magic_links_per_device_window_s: int = 15 * 60
    magic_links_per_email: int = 5
    magic_links_per_email_window_s: int = 60 * 60
    attachment_max_bytes: int = 10 * 1024 * 1024
    composing_ttl_s: int = 10
    ticket_body_max_bytes: int = 64 * 1024
    comment_body_max_bytes: int = 64 * 1024


@attrs.define(kw_only=True, eq=False)
class Context:
    storage: Storage
    hub: EventHub
    project: str
    title: str
    data_dir: Path
    auth_mode: AuthMode
    outbox: MagicLinkOutbox
    limits: Limits = attrs.field(factory=Limits)
    clock: Callable[[], datetime] = utc_now
    overlay_address: str | None = None
    signup: SignupPolicy = "invite"

    def now(self) -> datetime:
        return self.clock()
