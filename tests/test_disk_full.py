"""A full disk is -32008 "unavailable" (never -32603): nothing half-written, no temporary file left,
reads keep working, and writes resume once there is space again.

The project's data directory is a small tmpfs mounted by the test (it runs as root; it is skipped
only where mounting is impossible), filled to the last byte with a filler file.
"""

from __future__ import annotations

import errno
import os
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import trio

from hero_assistance.core import Caller, Project, ProjectConfig, RpcError, open_project

from .conftest import b64, enroll_on_device, png_bytes


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount_point = tmp_path / "small"
    mount_point.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=8m,mode=0700", "tmpfs", str(mount_point)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


@pytest.fixture
async def project_on_small_disk(small_disk: Path) -> AsyncIterator[Project]:
    async with open_project(ProjectConfig(name="full", data_dir=small_disk / "data")) as project:
        yield project


def fill(disk: Path) -> Path:
    """Write a filler file until the disk has no byte left; its path."""
    filler = disk / "filler"
    chunk = b"\0" * 65536
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        size = len(chunk)
        while size:
            try:
                os.write(fd, chunk[:size])
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
                size //= 2
    finally:
        os.close(fd)
    return filler


def leftovers(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.name.endswith(".tmp")]


async def outcome(project: Project, caller: Caller, method: str, **params: Any) -> Any:
    try:
        return await project.call(method, caller, **params)
    except RpcError as err:
        return err


async def test_a_full_disk_answers_unavailable_and_keeps_serving_reads(
    project_on_small_disk: Project, small_disk: Path
) -> None:
    project = project_on_small_disk
    alice = await enroll_on_device(project, "alice@example.com", "customer", "400:a::1")
    ticket = await alice.call(project, "ticket.create", title="before the disk filled", body="x")
    filler = fill(small_disk)

    comments = [
        await outcome(project, alice.caller, "comment.create", ticket_id=ticket["id"], body=f"{i} " + "y" * 60_000)
        for i in range(20)
    ]
    refused = [c for c in comments if isinstance(c, RpcError)]
    assert refused, "the disk never filled up"
    assert {c.code for c in refused} == {-32008}, refused
    assert all(c.data["retry_after"] > 0 for c in refused)
    accepted = [c["id"] for c in comments if not isinstance(c, RpcError)]

    uploads = [
        await outcome(
            project,
            alice.caller,
            "attachment.upload",
            filename="x.png",
            content_type="image/png",
            data=b64(png_bytes(600 + i, 500, color="green")),
        )
        for i in range(10)
    ]
    assert all(isinstance(u, RpcError) and u.code == -32008 for u in uploads), uploads
    assert leftovers(small_disk) == []

    # Reads keep working, and every acknowledged write is there.
    listed = await alice.call(project, "comment.list", ticket_id=ticket["id"], limit=200)
    assert [c["id"] for c in listed["items"]] == accepted
    assert (await alice.call(project, "ticket.get", id=ticket["id"]))["title"] == "before the disk filled"

    # Space comes back: writes resume on the same connection.
    filler.unlink()
    await trio.sleep(0)
    comment = await alice.call(project, "comment.create", ticket_id=ticket["id"], body="after")
    upload = await alice.call(
        project, "attachment.upload", filename="x.png", content_type="image/png", data=b64(png_bytes())
    )
    assert comment["body"] == "after" and upload["width"] == 40
    assert project.storage.scalar("PRAGMA integrity_check") == "ok"
    assert leftovers(small_disk) == []
    # No stored file without its row: only the one successful upload's file and thumbnail remain.
    stored = sorted(p.name for p in (small_disk / "data" / "attachments").rglob("*") if p.is_file())
    assert stored == sorted([upload["sha256"], upload["sha256"] + ".png"])


async def test_thirty_identical_uploads_at_once_all_succeed(tmp_path: Path) -> None:
    async with open_project(ProjectConfig(name="race", data_dir=tmp_path / "race")) as project:
        alice = await enroll_on_device(project, "alice@example.com", "customer", "400:a::1")
        data = b64(png_bytes(300, 200, color="purple"))
        results: list[Any] = []

        async def one() -> None:
            results.append(
                await outcome(
                    project, alice.caller, "attachment.upload", filename="same.png", content_type="image/png", data=data
                )
            )

        async with trio.open_nursery() as nursery:
            for _ in range(30):
                nursery.start_soon(one)
        assert all(isinstance(r, dict) for r in results), [r for r in results if not isinstance(r, dict)]
        assert len({r["sha256"] for r in results}) == 1 and len({r["id"] for r in results}) == 30
        assert leftovers(tmp_path) == []
        stored = [p for p in (tmp_path / "race" / "attachments").rglob("*") if p.is_file()]
        assert len(stored) == 2  # the file and its thumbnail, once
