"""Decompression bombs: refused from the header (-32006) before any pixel is decoded.

A 12 KB PNG can claim 10000x10000 pixels; decoding it costs a gigabyte. These tests upload such
files to a real server process, several at once, and measure the growth of its resident memory
(the kernel's high-water mark, reset just before the uploads).
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trio
from PIL import Image

from hero_assistance.core import Project
from hero_assistance.core._attachments import MAX_PIXELS, header_size

from ._server_fixtures import RpcFailure, ServerProcess, http_unix, running_server, setup_people
from .conftest import Desk, b64, png_bytes

MiB = 1024 * 1024


def _chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def bilevel_png(width: int, height: int) -> bytes:
    """A valid 1-bit PNG of the given size, all black: a few kilobytes of zlib for any size."""
    row = b"\x00" * (1 + (width + 7) // 8)  # filter byte "none" + the packed bits
    packer = zlib.compressobj(9)
    compressed = [packer.compress(row * 100) for _ in range(height // 100)]
    compressed.append(packer.compress(row * (height % 100)))
    compressed.append(packer.flush())
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", b"".join(compressed)) + _chunk(b"IEND", b"")


def gif_claiming(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("P", (1, 1)).save(out, format="GIF")
    data = bytearray(out.getvalue())
    data[6:10] = struct.pack("<HH", width, height)  # the logical screen
    return bytes(data)


def webp_claiming(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (1, 1)).save(out, format="WEBP", lossless=True)
    data = bytearray(out.getvalue())
    assert data[12:16] == b"VP8L"
    (bits,) = struct.unpack("<I", data[21:25])
    bits = (bits & ~0xFFFFFFF) | (width - 1) | ((height - 1) << 14)
    data[21:25] = struct.pack("<I", bits)
    return bytes(data)


BOMBS = {
    "png 10000x10000": bilevel_png(10000, 10000),
    "png 7745x7745": bilevel_png(7745, 7745),
    "gif 65535x65535": gif_claiming(65535, 65535),
    "webp 16384x16384": webp_claiming(16384, 16384),
}


def test_the_bombs_are_small_and_claim_what_they_should() -> None:
    for name, data in BOMBS.items():
        assert len(data) < 200_000, name
    assert header_size(BOMBS["png 10000x10000"], "image/png") == (10000, 10000)
    assert header_size(BOMBS["webp 16384x16384"], "image/webp") == (16384, 16384)
    assert header_size(BOMBS["gif 65535x65535"], "image/gif") == (65535, 65535)
    out = io.BytesIO()
    Image.new("RGB", (123, 45)).save(out, format="JPEG")
    assert header_size(out.getvalue(), "image/jpeg") == (123, 45)


@pytest.mark.parametrize("name", sorted(BOMBS))
async def test_a_bomb_is_refused_in_process(project: Project, desk: Desk, name: str) -> None:
    with pytest.raises(Exception) as refused:
        await desk.alice.call(
            project, "attachment.upload", filename="x", content_type="image/png", data=b64(BOMBS[name])
        )
    assert getattr(refused.value, "code", None) == -32006, refused.value
    assert refused.value.data["reason"] == "too many pixels"  # type: ignore[attr-defined]


async def test_a_large_image_under_the_caps_is_accepted(project: Project, desk: Desk) -> None:
    data = bilevel_png(6000, 6000)  # 36 M pixels, a byte each when decoded
    found = await desk.alice.call(
        project, "attachment.upload", filename="big.png", content_type="image/png", data=b64(data)
    )
    assert (found["width"], found["height"]) == (6000, 6000)
    out = io.BytesIO()
    Image.new("RGB", (7000, 7000), "blue").save(out, format="JPEG", quality=20)  # decoded at 1/8 scale
    photo = await desk.alice.call(
        project, "attachment.upload", filename="p.jpg", content_type="image/jpeg", data=b64(out.getvalue())
    )
    assert (photo["width"], photo["height"]) == (7000, 7000)
    assert MAX_PIXELS >= 7000 * 7000


# -- against a real server process ----------------------------------------------------------------
@pytest.fixture(scope="module")
def server() -> Iterator[ServerProcess]:
    with running_server() as server:
        yield server


def _status(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no {field} for {pid}")


def reset_peak(pid: int) -> int:
    """Reset the kernel's resident-memory high-water mark of ``pid``; the current RSS."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")
    return _status(pid, "VmRSS")


async def upload(server: ServerProcess, data: bytes, results: list[Any], user: str = "uma@example.com") -> None:
    async with http_unix(server.dirs.rpc) as client:
        try:
            results.append(
                await client.call(
                    "attachment.upload", as_user=user, filename="x.png", content_type="image/png", data=b64(data)
                )
            )
        except RpcFailure as failure:
            results.append(failure)


async def test_three_bombs_at_once_barely_move_the_servers_memory(server: ServerProcess) -> None:
    await setup_people(server.dirs.rpc, ("uma@example.com", "customer"))
    assert server.proc is not None
    pid = server.proc.pid
    bombs = [BOMBS["png 10000x10000"], BOMBS["png 7745x7745"], BOMBS["webp 16384x16384"], BOMBS["gif 65535x65535"]]
    for round_ in (bombs[:3], bombs[1:], [bombs[0]] * 3):
        before = reset_peak(pid)
        results: list[Any] = []
        async with trio.open_nursery() as nursery:
            for data in round_:
                nursery.start_soon(upload, server, data, results)
        peak = _status(pid, "VmHWM")
        assert [getattr(r, "code", None) for r in results] == [-32006] * 3, results
    assert peak - before < 100 * MiB, f"RSS grew by {(peak - before) / MiB:.0f} MiB"
    # and the server still takes a normal image
    ok: list[Any] = []
    await upload(server, png_bytes(), ok)
    assert ok[0]["width"] == 40
    assert "Traceback" not in server.log


async def test_three_largest_accepted_images_at_once_stay_bounded(server: ServerProcess) -> None:
    await setup_people(server.dirs.rpc, ("vic@example.com", "customer"))
    assert server.proc is not None
    pid = server.proc.pid
    images = [bilevel_png(6000, 6000 + i) for i in range(3)]  # distinct bytes, each just under the caps
    before = reset_peak(pid)
    results: list[Any] = []
    async with trio.open_nursery() as nursery:
        for data in images:
            nursery.start_soon(upload, server, data, results, "vic@example.com")
    peak = _status(pid, "VmHWM")
    assert sorted(r["height"] for r in results) == [6000, 6001, 6002], results
    # two decodes at a time, about 36 MB each
    assert peak - before < 100 * MiB, f"RSS grew by {(peak - before) / MiB:.0f} MiB"
