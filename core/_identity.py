"""Who is calling: what the transport attests (``Caller``) and who that turns out to be (``Actor``).

A device key is attested, never claimed: the transport layer decides which ``Caller`` to build
(the overlay address of a TCP peer, or the headers a trusted local Unix-socket client asserts);
the core resolves it against the device bindings into an ``Actor``.
"""

from __future__ import annotations

import ipaddress
from typing import Literal

import attrs

Role = Literal["customer", "support", "admin"]
AuthMode = Literal["proxy", "dev"]
ROLES: tuple[Role, ...] = ("customer", "support", "admin")


@attrs.frozen
class Caller:
    """What the transport vouches for about one request.

    Build one with the class methods, never by hand: each says which attestation applies.
    """

    device: str | None = None
    user_email: str | None = None
    local_operator: bool = False

    @classmethod
    def anonymous(cls) -> Caller:
        """A peer with no usable identity (a TCP peer outside ``400::/7``)."""
        return cls()

    @classmethod
    def from_device(cls, key: str) -> Caller:
        """A device key: an overlay peer address, or ``X-Hero-Device`` on a Unix socket."""
        return cls(device=key)

    @classmethod
    def from_user(cls, email: str) -> Caller:
        """``X-Hero-User`` on a Unix socket: an agentic caller authenticated upstream."""
        return cls(user_email=email)

    @classmethod
    def operator(cls) -> Caller:
        """A Unix-socket caller asserting nothing: the local operator, who is admin."""
        return cls(local_operator=True)


@attrs.frozen
class Actor:
    """The resolved identity a request runs as."""

    user_id: int | None
    role: Role | None
    device: str | None
    auth_mode: AuthMode = "proxy"
    email: str | None = None

    @property
    def is_user(self) -> bool:
        return self.user_id is not None

    @property
    def is_staff(self) -> bool:
        """Support agents and admins: they see every ticket and internal notes."""
        return self.role in ("support", "admin") or (self.auth_mode == "dev" and self.user_id is not None)

    @property
    def is_admin(self) -> bool:
        return self.role == "admin" or (self.auth_mode == "dev" and self.user_id is not None)


def device_network(device: str) -> str:
    """What rate limits count per: the /64 of an overlay address, else the device key itself.

    One mycelium node owns a whole /64, so counting per address would let a node take 2^64 turns.
    A key that is no IPv6 address (a Unix-socket client's ``X-Hero-Device``) counts on its own.
    """
    try:
        address = ipaddress.IPv6Address(device)
    except ValueError:
        return device
    return str(ipaddress.IPv6Network((address, 64), strict=False))
