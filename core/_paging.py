"""Keyset cursors: an opaque token holding the sort key of the last item served. Never OFFSET."""

from __future__ import annotations

import base64
import json
from typing import Any

from ._errors import InvalidParams

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


def encode_cursor(*key: Any) -> str:
    raw = json.dumps(list(key), separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None, *types: type) -> tuple[Any, ...] | None:
    """The key inside ``cursor`` (``None`` for the first page); a forged or stale shape is -32602."""
    if cursor is None:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        key = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, UnicodeDecodeError):
        raise InvalidParams.field("cursor", "not a cursor this server issued") from None
    if not isinstance(key, list) or len(key) != len(types):
        raise InvalidParams.field("cursor", "not a cursor this server issued")
    for value, expected in zip(key, types, strict=True):
        if not isinstance(value, expected) or isinstance(value, bool):
            raise InvalidParams.field("cursor", "not a cursor this server issued")
    return tuple(key)
