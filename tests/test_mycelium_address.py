"""Overlay addresses are derived from the node key exactly as the daemon derives them."""

from __future__ import annotations

import ipaddress
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hero_assistance.supervisor.mycelium import OVERLAY_NETWORK, derive_address, pubkey_from_secret, subnet_of
from tests._mycelium_fixtures import STANDIN

# docs/mycelium-daemon.md, "Overlay address": test vectors.
VECTORS = [
    (
        bytes(range(32)),
        "8f40c5adb68f25624ae5b214ea767a6ec94d829d3d7b5e1ad1ba6f3e2138285f",
        "430:9364:d8d8:84a9:dd60:de78:c767:d361",
    ),
    (
        bytes.fromhex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"),  # RFC 7748 Alice
        "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a",
        "520:c662:fd00:9e92:5d99:34ed:ab8:82ab",
    ),
]


@pytest.mark.parametrize(("secret", "pubkey", "address"), VECTORS)
def test_reference_vectors(secret: bytes, pubkey: str, address: str) -> None:
    assert pubkey_from_secret(secret).hex() == pubkey
    assert derive_address(bytes.fromhex(pubkey)) == ipaddress.IPv6Address(address)


def test_subnet_is_the_first_64_bits() -> None:
    address = ipaddress.IPv6Address("520:c662:fd00:9e92:5d99:34ed:ab8:82ab")
    assert subnet_of(address) == ipaddress.IPv6Network("520:c662:fd00:9e92::/64")


@given(st.binary(min_size=32, max_size=32))
def test_every_key_lands_in_400_slash_7(pubkey: bytes) -> None:
    address = derive_address(pubkey)
    assert address in OVERLAY_NETWORK
    # The first byte is 0x04 or 0x05 and nothing else: the parity of the hash's first byte.
    assert address.packed[0] in (0x04, 0x05)
    assert address in subnet_of(address)


@pytest.mark.parametrize("size", [0, 31, 33])
def test_wrong_key_sizes_are_refused(size: int) -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        derive_address(bytes(size))
    with pytest.raises(ValueError, match="32 bytes"):
        pubkey_from_secret(bytes(size))


def test_standin_derives_the_same_address_as_we_do(tmp_path: Path) -> None:
    # The stand-in has its own derivation; agreeing on a key we did not pick guards both.
    # A fresh machine: an empty HOME and data folder, which inspecting a given key leaves untouched.
    home, data = tmp_path / "home", tmp_path / "data"
    home.mkdir()
    data.mkdir()
    env = {**os.environ, "HOME": str(home), "XDG_DATA_HOME": str(data)}
    pubkey = pubkey_from_secret(bytes(range(100, 132)))
    out = subprocess.run(
        [sys.executable, str(STANDIN), "inspect", "--json", pubkey.hex()],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    ).stdout
    assert json.loads(out) == {"publicKey": pubkey.hex(), "address": str(derive_address(pubkey))}
    assert list(home.iterdir()) == [] and list(data.iterdir()) == []
