"""Mycelium overlay addresses, derived from a node's x25519 key exactly as the daemon does.

Daemons older than 0.7.8 do not report their ``nodeIp``, and the JSON-RPC ``getInfo`` of some versions
never does, so the supervisor derives it itself: the address is a pure function of the public key
(docs/mycelium-daemon.md, "Overlay address").
"""

from __future__ import annotations

import ipaddress

import blake3
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

#: Every mycelium node address lives here; the overlay listener treats anything else as anonymous.
OVERLAY_NETWORK = ipaddress.IPv6Network("400::/7")

KEY_SIZE = 32


def pubkey_from_secret(secret: bytes) -> bytes:
    """The raw 32-byte x25519 public key of a raw 32-byte secret (the content of a mycelium key file)."""
    if len(secret) != KEY_SIZE:
        raise ValueError(f"a mycelium secret key is {KEY_SIZE} bytes, got {len(secret)}")
    public = X25519PrivateKey.from_private_bytes(secret).public_key()
    return public.public_bytes(Encoding.Raw, PublicFormat.Raw)


def derive_address(pubkey: bytes) -> ipaddress.IPv6Address:
    """The overlay address of the node owning ``pubkey``: BLAKE3 of the key, folded into 400::/7."""
    if len(pubkey) != KEY_SIZE:
        raise ValueError(f"a mycelium public key is {KEY_SIZE} bytes, got {len(pubkey)}")
    digest = bytearray(blake3.blake3(pubkey).digest(length=16))
    # The first byte keeps only the parity of its bit count: 0x04 or 0x05, hence always in 400::/7.
    digest[0] = 0x04 | (digest[0].bit_count() % 2)
    return ipaddress.IPv6Address(bytes(digest))


def subnet_of(address: ipaddress.IPv6Address) -> ipaddress.IPv6Network:
    """The /64 a node announces: the first 64 bits of its address."""
    return ipaddress.IPv6Network((address, 64), strict=False)
