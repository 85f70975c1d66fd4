"""A nursery for context managers whose background tasks never raise.

With strict exception groups (trio's default) every nursery wraps whatever leaves it in an
``ExceptionGroup``, even a lone ``KeyError`` from the user's own ``async with`` block. Our context
managers (``client.events()``, ``MultiProjectClient``) run background tasks that catch and record their
own failures, so a group leaving them holds the body's exception plus, at most, ``Cancelled``s of the
background tasks. We hand that one exception back unwrapped, as trio-websocket's ``open_websocket`` does,
so ``except NotFound:`` around the block works. A group holding two real errors is re-raised as it is:
flattening it would hide one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import trio


def _reraise_without_group(exc: BaseException) -> None:
    # Keep the exception's own __context__ instead of chaining the group we are unwrapping.
    context = exc.__context__
    try:
        raise exc
    finally:
        exc.__context__ = context
        del exc, context


@asynccontextmanager
async def open_quiet_nursery() -> AsyncIterator[trio.Nursery]:
    """``trio.open_nursery()`` that unwraps a group holding one real exception (or only ``Cancelled``)."""
    try:
        async with trio.open_nursery() as nursery:
            yield nursery
    except BaseExceptionGroup as group:
        real = [e for e in group.exceptions if not isinstance(e, trio.Cancelled)]
        if len(real) == 1:
            _reraise_without_group(real[0])
        if not real:
            _reraise_without_group(group.exceptions[0])
        raise
