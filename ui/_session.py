"""Browser sessions: one random cookie per browser, and the device key derived from it.

For a project reached over a Unix socket the ui is a trusted local component and asserts a device
key for each browser (``X-Hero-Device: web:<digest>``); the project then binds that device to a
user through the magic-link flow, exactly as it binds an overlay address. The device key is a
digest of the cookie, so the secret itself never leaves the ui (not into the project's database,
not into its logs), and the ui keeps no session table: the cookie alone is the session.

Why the cookie is only ever *set* by ``/rpc`` and ``/ws`` and never by a page load: the cookie is
``SameSite=Strict``, so a browser following a sign-in link from a webmail tab (a cross-site
navigation) does not send it with that first page request. If the page load minted a fresh
session then, it would overwrite the one that requested the link, and the token, which is valid
only from the requesting device, could never be consumed. ``/rpc`` and ``/ws`` are same-origin
requests made by the app itself, which always carry the existing cookie.
"""

from __future__ import annotations

import hashlib
import re
import secrets

COOKIE_NAME = "hero_session"
#: Chrome caps cookie lifetimes at 400 days; asking for more only gets silently shortened.
COOKIE_MAX_AGE_S = 400 * 24 * 3600
DEVICE_PREFIX = "web:"
_VALID = re.compile(r"^[A-Za-z0-9_-]{43}$")  # secrets.token_urlsafe(32)


def new_session() -> str:
    return secrets.token_urlsafe(32)


def valid_session(value: str | None) -> str | None:
    """The cookie's value if it is one we could have minted, else ``None`` (a new one is issued)."""
    if value and _VALID.match(value):
        return value
    return None


def device_key(session: str) -> str:
    """The ``X-Hero-Device`` value for a browser session."""
    return DEVICE_PREFIX + hashlib.sha256(session.encode()).hexdigest()[:32]


def cookie_header(session: str, *, secure: bool) -> str:
    parts = [
        f"{COOKIE_NAME}={session}",
        "Path=/",
        f"Max-Age={COOKIE_MAX_AGE_S}",
        "HttpOnly",
        "SameSite=Strict",
    ]
    if secure:
        parts.append("Secure")
    return "; ".join(parts)
