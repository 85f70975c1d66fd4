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
import os
import re
import sqlite3
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

THUMB_SIZE = (320, 320)
MAX_PIXELS = 60_000_000  # refuse decompression bombs well before they eat memory

_SIGNATURES: tuple[tuple[bytes, int, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", 0, "image/png"),
    (b"\xff\xd8\xff", 0, "image/jpeg"),
    (b"GIF87a", 0, "image/gif"),
    (b"GIF89a", 0, "image/gif"),
)
_PIL_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg", "GIF": "image/gif", "WEBP": "image/webp"}


def sniff_image_type(data: bytes) -> str | None:
    """The content type the bytes really are (PNG, JPEG, GIF, WebP), whatever the name says."""
    for magic, offset, content_type in _SIGNATURES:
        if data[offset : offset + len(magic)] == magic:
            return content_type
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


@attrs.frozen
class _Decoded:
    content_type: str
    width: int
    height: int
    thumbnail: bytes


def _decode(data: bytes, sniffed: str) -> _Decoded:
    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    try:
        with Image.open(io.BytesIO(data)) as img:
            img.verify()
        with Image.open(io.BytesIO(data)) as img:
            actual = _PIL_TYPES.get(img.format or "")
            if actual != sniffed:
                raise PayloadTooLarge("the file is not the image its header claims", {"reason": "corrupt image"})
            width, height = img.size
            img.seek(0)
            thumb = img.convert("RGBA") if img.mode not in ("RGB", "RGBA", "L", "LA") else img.copy()
            thumb.thumbnail(THUMB_SIZE)
            out = io.BytesIO()
            thumb.save(out, format="PNG", optimize=True)
    except Image.DecompressionBombError:
        raise PayloadTooLarge("image dimensions too large", {"reason": "too many pixels"}) from None
    except (OSError, SyntaxError, ValueError, EOFError):
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

    def path_for(self, sha256: str, *, thumb: bool = False) -> Path:
        return self.root / ("thumbs" if thumb else "files") / sha256[:2] / (sha256 + (".png" if thumb else ""))

    def _write_atomically(self, path: Path, data: bytes) -> None:
        if path.exists():
            return  # content-addressed: the same bytes are already there
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)

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
        decoded = await trio.to_thread.run_sync(_decode, data, sniffed)
        sha = hashlib.sha256(data).hexdigest()
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
            if self.storage.scalar("SELECT 1 FROM attachments WHERE sha256 = ? LIMIT 1", (sha,)):
                continue
            for thumb in (False, True):
                self.path_for(sha, thumb=thumb).unlink(missing_ok=True)
