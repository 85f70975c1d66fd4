"""Keyset cursors: an opaque token holding the sort key of the last item served. Never OFFSET."""

from __future__ import annotations

import base64
import json
import math
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
        key = json.loads(base64.urlsafe_b64decode(padded.encode()), parse_constant=_refuse)
    except (ValueError, UnicodeError, RecursionError):
        raise _forged() from None
    if not isinstance(key, list) or len(key) != len(types):
        raise _forged()
    for value, expected in zip(key, types, strict=True):
        if not isinstance(value, expected) or isinstance(value, bool) or not _storable(value):
            raise _forged()
    return tuple(key)


def _forged() -> InvalidParams:
    return InvalidParams.field("cursor", "not a cursor this server issued")


def _refuse(name: str) -> Any:
    raise ValueError(name)


def _storable(value: Any) -> bool:
    """Whether SQLite can bind the value: a 64-bit integer, a finite float, valid Unicode text."""
    if isinstance(value, int):
        return -(2**63) <= value < 2**63
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, str):
        try:
            value.encode()
        except UnicodeEncodeError:
            return False
    return True
