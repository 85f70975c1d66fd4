"""Rate limits count per mycelium node: every address of one /64 is one device for the limit.

A node owns a whole /64, so counting per address would give it 2^64 turns. Keys that are not
IPv6 addresses (``X-Hero-Device`` on a Unix socket) count on their own. Old rows, including those
for emails nobody enrolled, are pruned as new requests come in.
"""

from __future__ import annotations

import pytest

from hero_assistance.core import Caller, Project, RateLimited
from hero_assistance.core._identity import device_network

from .conftest import FakeClock


def test_device_network() -> None:
    assert device_network("4ab:1:2:3:4:5:6:7") == "4ab:1:2:3::/64"
    assert device_network("4ab:1:2:3::ffff") == "4ab:1:2:3::/64"
    assert device_network("4ab:1:2:4::1") == "4ab:1:2:4::/64"
    assert device_network("laptop-7") == "laptop-7"


async def test_six_addresses_of_one_node_share_one_limit(project: Project) -> None:
    for i in range(5):
        await project.call(
            "auth.request_magic_link", Caller.from_device(f"4ab:1:2:3::{i + 1}"), email=f"x{i}@example.com"
        )
    with pytest.raises(RateLimited):
        await project.call("auth.request_magic_link", Caller.from_device("4ab:1:2:3:ffff::6"), email="y@example.com")
    # Another node, and a Unix-socket device key, have their own counts.
    await project.call("auth.request_magic_link", Caller.from_device("4ab:1:2:4::1"), email="z@example.com")
    for i in range(5):
        await project.call("auth.request_magic_link", Caller.from_device("laptop-7"), email=f"w{i}@example.com")
    with pytest.raises(RateLimited):
        await project.call("auth.request_magic_link", Caller.from_device("laptop-7"), email="v@example.com")


async def test_old_rows_are_pruned_unknown_emails_included(project: Project, clock: FakeClock) -> None:
    for node in range(8):
        for i in range(5):
            await project.call(
                "auth.request_magic_link", Caller.from_device(f"4ab:{node}::1"), email=f"nobody{node}.{i}@example.com"
            )
    assert project.storage.scalar("SELECT count(*) FROM magic_links") == 40
    clock.advance(2 * 3600)
    for i in range(3):
        await project.call("auth.request_magic_link", Caller.from_device("4ab:99::1"), email=f"new{i}@example.com")
    assert project.storage.scalar("SELECT count(*) FROM magic_links") == 3
