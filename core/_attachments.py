"""Attachments: images only, recognised by their bytes, stored content-addressed by SHA-256.

An upload is pending until a ticket or comment references it; pending uploads are visible only to
their uploader and can be cleaned up. Attached ones are visible exactly to those who can read what
they are attached to. Decoding and thumbnailing run in a worker thread: they are CPU work on
untrusted input, and must not stall the event loop.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import logging
import os
import re
import sqlite3
import struct
import tempfile
from collections.abc import Iterable
from datetime import timedelta
from pathlib import Path

import attrs
import trio
from PIL import Image

from ._context import Context
from ._errors import InvalidParams, NotFound, PayloadTooLarge
from ._identity import Actor
from ._permissions import Scope, permits, require
from ._records import Attachment, Removed, format_time, parse_time
from ._storage import as_unavailable

log = logging.getLogger(__name__)

THUMB_SIZE = (320, 320)
# Bounds on what decoding an upload may cost, checked on the header before any pixel is decoded:
# a 12 KB PNG can claim 10000x10000 pixels. Pillow keeps a 1-bit or palette pixel in one byte and
# anything else in four, so MAX_DECODED_BYTES bounds the memory of one decode (JPEGs are decoded
# at a reduced scale first, so large photos pass); at most MAX_CONCURRENT_DECODES run at a time.
MAX_PIXELS = 50_000_000
MAX_DECODED_BYTES = 40 * 1024 * 1024
MAX_CONCURRENT_DECODES = 2
Image.MAX_IMAGE_PIXELS = MAX_PIXELS  # Pillow's own check (it refuses at twice this) as a backstop

_SIGNATURES: tuple[tuple[bytes, int, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", 0, "image/png"),
    (b"\xff\xd8\xff", 0, "image/jpeg"),
    (b"GIF87a", 0, "image/gif"),
    (b"GIF89a", 0, "image/gif"),
)
_PIL_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg", "GIF": "image/gif", "WEBP": "image/webp"}
_PIL_FORMATS = {v: k for k, v in _PIL_TYPES.items()}
# JPEG start-of-frame markers (C0-CF except DHT C4, JPG C8, DAC CC) carry the image size.
_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def sniff_image_type(data: bytes) -> str | None:
    """The content type the bytes really are (PNG, JPEG, GIF, WebP), whatever the name says."""
    for magic, offset, content_type in _SIGNATURES:
        if data[offset : offset + len(magic)] == magic:
            return content_type
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def header_size(data: bytes, content_type: str) -> tuple[int, int] | None:
    """``(width, height)`` as the file's header states it, read without any decoder; ``None`` if unreadable."""
    try:
        if content_type == "image/png" and data[12:16] == b"IHDR":
            width, height = struct.unpack(">II", data[16:24])
            return width, height
        if content_type == "image/gif":
            width, height = struct.unpack("<HH", data[6:10])
            return width, height
        if content_type == "image/webp":
            return _webp_size(data)
        if content_type == "image/jpeg":
            return _jpeg_size(data)
    except struct.error:
        return None
    return None


def _webp_size(data: bytes) -> tuple[int, int] | None:
    chunk = data[12:16]
    if chunk == b"VP8 " and data[23:26] == b"\x9d\x01\x2a":
        width, height = struct.unpack("<HH", data[26:30])
        return width & 0x3FFF, height & 0x3FFF
    if chunk == b"VP8L" and data[20:21] == b"\x2f":
        (bits,) = struct.unpack("<I", data[21:25])
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8X":
        return 1 + int.from_bytes(data[24:27], "little"), 1 + int.from_bytes(data[27:30], "little")
    return None


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    at = 2
    while at + 4 <= len(data):
        if data[at] != 0xFF:
            return None
        marker = data[at + 1]
        if marker == 0xFF:  # fill byte
            at += 1
            continue
        if marker in (0x01, *range(0xD0, 0xD8)):  # standalone markers carry no length
            at += 2
            continue
        (length,) = struct.unpack(">H", data[at + 2 : at + 4])
        if marker in _JPEG_SOF:
            height, width = struct.unpack(">HH", data[at + 5 : at + 9])
            return width, height
        if marker == 0xDA or length < 2:  # start of scan before any frame header
            return None
        at += 2 + length
    return None


def _bytes_per_pixel(mode: str) -> int:
    if mode in ("1", "L", "P"):
        return 1
    return 2 if mode.startswith("I;16") else 4


def _check_pixels(width: int, height: int) -> None:
    if width * height > MAX_PIXELS:
        raise PayloadTooLarge(
            f"image dimensions too large: {width}x{height} is over {MAX_PIXELS} pixels",
            {"reason": "too many pixels", "width": width, "height": height, "max_pixels": MAX_PIXELS},
        )


@attrs.frozen
class _Decoded:
    content_type: str
    width: int
    height: int
    thumbnail: bytes


def _decode(data: bytes, sniffed: str) -> _Decoded:
    """Check, then decode (at a reduced scale where the format allows) and thumbnail an upload."""
    size = header_size(data, sniffed)
    if size is None:
        raise PayloadTooLarge("the file is not a readable image", {"reason": "corrupt image"})
    _check_pixels(*size)
    try:
        with Image.open(io.BytesIO(data), formats=[_PIL_FORMATS[sniffed]]) as img:
            img.verify()
        with Image.open(io.BytesIO(data), formats=[_PIL_FORMATS[sniffed]]) as img:
            if _PIL_TYPES.get(img.format or "") != sniffed:
                raise PayloadTooLarge("the file is not the image its header claims", {"reason": "corrupt image"})
            width, height = img.size  # a GIF's first frame may reach past the header's screen size
            _check_pixels(width, height)
            # JPEG: decode at 1/2 .. 1/8 scale, still at least twice the thumbnail (what thumbnail() asks).
            img.draft(None, (THUMB_SIZE[0] * 2, THUMB_SIZE[1] * 2))
            decoded = img.size[0] * img.size[1] * _bytes_per_pixel(img.mode)
            if decoded > MAX_DECODED_BYTES:
                raise PayloadTooLarge(
                    f"image too large to decode: {width}x{height} in mode {img.mode}",
                    {"reason": "too many pixels", "width": width, "height": height},
                )
            img.thumbnail(THUMB_SIZE)  # resizes in place: the one full decode
            thumb = img if img.mode in ("RGB", "RGBA", "L", "LA") else img.convert("RGBA")
            out = io.BytesIO()
            thumb.save(out, format="PNG", optimize=True)
    except Image.DecompressionBombError:
        raise PayloadTooLarge("image dimensions too large", {"reason": "too many pixels"}) from None
    except (OSError, SyntaxError, ValueError, EOFError, struct.error):
        raise PayloadTooLarge("the file is not a readable image", {"reason": "corrupt image"}) from None
    return _Decoded(sniffed, width, height, out.getvalue())


def _safe_filename(name: str) -> str:
    name = os.path.basename(name.replace("\\", "/"))
    name = re.sub(r"[\x00-\x1f\x7f]", "", name).strip()
    return name[:200] or "image"


def attachment_from_row(row: sqlite3.Row) -> Attachment:
    return Attachment(
        id=row["id"],
        filename=row["filename"],
        content_type=row["content_type"],
        size=row["size"],
        sha256=row["sha256"],
        width=row["width"],
        height=row["height"],
        created_at=parse_time(row["created_at"]),
    )


class Attachments:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.storage = ctx.storage
        self.root = ctx.data_dir / "attachments"
        # Decoding untrusted images is the one place a small request costs a lot of memory.
        self._decoding = trio.CapacityLimiter(MAX_CONCURRENT_DECODES)
        self._in_flight: dict[str, int] = {}

    def path_for(self, sha256: str, *, thumb: bool = False) -> Path:
        return self.root / ("thumbs" if thumb else "files") / sha256[:2] / (sha256 + (".png" if thumb else ""))

    def _write_atomically(self, path: Path, data: bytes) -> None:
        """Write a content-addressed file: whole or not at all, with no temporary file left behind.

        Each writer has its own temporary name, so concurrent uploads of the same bytes each finish
        with an atomic rename onto the same final file.
        """
        if path.exists():
            return  # content-addressed: the same bytes are already there
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        except OSError as exc:
            raise as_unavailable(exc) or exc from None
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException as exc:
            Path(tmp).unlink(missing_ok=True)
            unavailable = as_unavailable(exc) if isinstance(exc, OSError) else None
            if unavailable is not None:
                log.warning("attachment write refused: %s", exc)
                raise unavailable from None
            raise

    async def upload(self, actor: Actor, filename: str, content_type: str, data_b64: str) -> Attachment:
        limit = self.ctx.limits.attachment_max_bytes
        if len(data_b64) > (limit + 2) // 3 * 4 + 4:
            raise PayloadTooLarge(f"attachments are limited to {limit} bytes", {"max_bytes": limit})
        try:
            data = base64.b64decode(data_b64, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidParams.field("data", "not valid base64") from None
        if len(data) > limit:
            raise PayloadTooLarge(f"attachments are limited to {limit} bytes", {"max_bytes": limit})
        sniffed = sniff_image_type(data)
        if sniffed is None:
            raise PayloadTooLarge(
                "only PNG, JPEG, GIF and WebP images are accepted",
                {"reason": "unsupported type", "declared": content_type[:100]},
            )
        decoded = await trio.to_thread.run_sync(_decode, data, sniffed, limiter=self._decoding)
        sha = hashlib.sha256(data).hexdigest()
        # While this upload is between its file writes and its row, no cleanup may take its files.
        self._in_flight[sha] = self._in_flight.get(sha, 0) + 1
        try:
            await trio.to_thread.run_sync(self._write_atomically, self.path_for(sha), data)
            await trio.to_thread.run_sync(self._write_atomically, self.path_for(sha, thumb=True), decoded.thumbnail)
            with self.storage.write():
                attachment_id = self.storage.insert(
                    "attachments",
                    {
                        "sha256": sha,
                        "filename": _safe_filename(filename),
                        "content_type": decoded.content_type,
                        "size": len(data),
                        "width": decoded.width,
                        "height": decoded.height,
                        "uploader_id": actor.user_id,
                        "created_at": format_time(self.ctx.now()),
                    },
                )
        except BaseException:
            self._release(sha)
            self._forget_unless_used(sha)  # nothing half-written: no file without its row
            raise
        self._release(sha)
        row = self.storage.row("SELECT * FROM attachments WHERE id = ?", (attachment_id,))
        assert row is not None
        return attachment_from_row(row)

    def claim(self, actor: Actor, ids: Iterable[int], *, ticket_id: int, comment_id: int | None) -> None:
        """Attach the caller's pending uploads (inside the caller's write transaction)."""
        for attachment_id in dict.fromkeys(ids):
            row = self.storage.row("SELECT uploader_id, ticket_id FROM attachments WHERE id = ?", (attachment_id,))
            if row is None or row["uploader_id"] != actor.user_id or row["ticket_id"] is not None:
                raise InvalidParams.field("attachment_ids", f"{attachment_id} is not a pending upload of yours")
            self.storage.execute(
                "UPDATE attachments SET ticket_id = ?, comment_id = ? WHERE id = ?",
                (ticket_id, comment_id, attachment_id),
            )

    def for_ticket(self, ticket_ids: list[int]) -> dict[int, list[Attachment]]:
        found: dict[int, list[Attachment]] = {i: [] for i in ticket_ids}
        if ticket_ids:
            marks = ",".join("?" * len(ticket_ids))
            for row in self.storage.rows(
                f"SELECT * FROM attachments WHERE ticket_id IN ({marks}) AND comment_id IS NULL ORDER BY id",
                ticket_ids,
            ):
                found[row["ticket_id"]].append(attachment_from_row(row))
        return found

    def for_comments(self, comment_ids: list[int]) -> dict[int, list[Attachment]]:
        found: dict[int, list[Attachment]] = {i: [] for i in comment_ids}
        if comment_ids:
            marks = ",".join("?" * len(comment_ids))
            for row in self.storage.rows(
                f"SELECT * FROM attachments WHERE comment_id IN ({marks}) ORDER BY id", comment_ids
            ):
                found[row["comment_id"]].append(attachment_from_row(row))
        return found

    def _visible_row(self, actor: Actor, attachment_id: int) -> sqlite3.Row:
        row = self.storage.row(
            "SELECT a.*, c.internal AS comment_internal FROM attachments a "
            "LEFT JOIN comments c ON c.id = a.comment_id WHERE a.id = ?",
            (attachment_id,),
        )
        if row is None or actor.user_id is None:
            raise NotFound.of("attachment", attachment_id)
        if row["ticket_id"] is None:
            if row["uploader_id"] != actor.user_id and not actor.is_staff:
                raise NotFound.of("attachment", attachment_id)
            return row
        members = frozenset(
            r[0] for r in self.storage.rows("SELECT user_id FROM members WHERE ticket_id = ?", (row["ticket_id"],))
        )
        scope = Scope(members=members, internal=bool(row["comment_internal"]))
        if not permits(actor, "comment.read", scope):
            raise NotFound.of("attachment", attachment_id)
        return row

    def get(self, actor: Actor, attachment_id: int) -> Attachment:
        return attachment_from_row(self._visible_row(actor, attachment_id))

    def open_for(self, actor: Actor, attachment_id: int, *, thumb: bool = False) -> tuple[Path, str, str]:
        """``(path, content_type, filename)`` of the bytes to serve, for a caller allowed to see them."""
        row = self._visible_row(actor, attachment_id)
        path = self.path_for(row["sha256"], thumb=thumb)
        return path, ("image/png" if thumb else row["content_type"]), row["filename"]

    def cleanup_pending(self, actor: Actor, older_than_s: int) -> Removed:
        require(actor, "attachment.cleanup")
        cutoff = format_time(self.ctx.now() - timedelta(seconds=older_than_s))
        with self.storage.write():
            rows = self.storage.rows(
                "SELECT id, sha256 FROM attachments WHERE ticket_id IS NULL AND created_at < ?", (cutoff,)
            )
            self.storage.execute("DELETE FROM attachments WHERE ticket_id IS NULL AND created_at < ?", (cutoff,))
        self.forget_files({r["sha256"] for r in rows})
        return Removed(removed=len(rows))

    def forget_files(self, shas: Iterable[str]) -> None:
        """Remove stored files no attachment row refers to any more (after the rows are gone)."""
        for sha in shas:
            self._forget_unless_used(sha)

    def _release(self, sha: str) -> None:
        self._in_flight[sha] -= 1
        if not self._in_flight[sha]:
            del self._in_flight[sha]

    def _forget_unless_used(self, sha: str) -> None:
        if self._in_flight.get(sha):
            return
        if self.storage.scalar("SELECT 1 FROM attachments WHERE sha256 = ? LIMIT 1", (sha,)):
            return
        for thumb in (False, True):
            try:
                self.path_for(sha, thumb=thumb).unlink(missing_ok=True)
            except OSError as exc:  # a read-only store: the orphan is harmless, and removed next time
                log.warning("could not remove an unused attachment file: %s", exc)
