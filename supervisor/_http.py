"""Asking a local daemon one question over HTTP/1.1, through the SDK's ``HttpPool``.

The supervisor only ever sends one small request to a daemon on this machine (mycelium's REST or
JSON-RPC API, or a Hero service socket) and reads one small answer: a pool of one connection, closed
after the answer, with a bounded body. Deadlines belong to the caller.
"""

from __future__ import annotations

import json
from typing import Any

from hero_assistance.transport import HttpPool, HttpResponse, TransportError

#: Answers from local daemons are a few hundred bytes; refuse to buffer anything absurd.
MAX_BODY = 1 << 20


class HttpUnavailable(Exception):
    """The endpoint could not be reached, or what answered did not speak HTTP/1.1."""


def _url(endpoint: str) -> str:
    """``"127.0.0.1:8989"`` / ``"[::1]:8989"`` / ``"unix:/path"`` → the pool's URL; ``ValueError`` otherwise."""
    if endpoint.startswith("unix:"):
        return endpoint
    host, sep, port = endpoint.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ValueError(f"expected HOST:PORT, got {endpoint!r}")
    return f"http://{endpoint}"


async def request(endpoint: str, method: str, target: str, *, json_body: Any = None) -> HttpResponse:
    """Send one request to ``endpoint`` (``HOST:PORT`` or ``unix:PATH``) and read the whole answer.

    Raises :class:`HttpUnavailable` for every way the exchange can fail (refused, reset, not HTTP,
    body too large), so callers probing an address have exactly one error to expect.
    """
    headers = [("Connection", "close"), ("Accept", "application/json")]
    body = b""
    if json_body is not None:
        body = json.dumps(json_body).encode()
        headers.append(("Content-Type", "application/json"))
    try:
        pool = HttpPool(_url(endpoint), max_connections=1, connect_timeout=None, max_response_bytes=MAX_BODY)
    except ValueError as exc:
        raise HttpUnavailable(f"{endpoint}: {exc}") from exc
    async with pool:
        try:
            return await pool.request(method, target, headers, body, retry_stale=False)
        except TransportError as exc:
            raise HttpUnavailable(f"{endpoint}: {exc}") from exc
