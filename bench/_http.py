"""Just enough HTTP/1.1 for the load generators and baselines: pre-built requests, response framing.

The load side must cost far less than the server it measures, so nothing here is a general HTTP
client: requests are built once as bytes, and a response is only framed (where does it end?), never
parsed into headers. Every server we talk to answers with ``Content-Length`` (hypercorn does for a
body sent in one piece, and so do our baselines); a chunked answer is refused loudly rather than
mis-framed.
"""

from __future__ import annotations

import json
from typing import Any

HEADER_END = b"\r\n\r\n"


class FramingError(Exception):
    """A response we cannot frame (no Content-Length, or chunked)."""


def build_request(method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: localhost"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    if body or method == "POST":
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def rpc_request(method: str, params: dict[str, Any], *, user: str | None = None, ident: int = 1) -> bytes:
    """A ``POST /rpc`` carrying one JSON-RPC call, as the given user (``X-Hero-User``) or the operator."""
    body = json.dumps({"jsonrpc": "2.0", "id": ident, "method": method, "params": params}).encode()
    headers = {"Content-Type": "application/json"}
    if user is not None:
        headers["X-Hero-User"] = user
    return build_request("POST", "/rpc", body, headers)


def message_end(buf: bytes | bytearray, start: int = 0) -> int | None:
    """Where the HTTP message starting at ``start`` ends (its body framed by Content-Length), or None yet.

    Used for both directions: our baselines frame requests with it, the load generators responses.
    """
    head_end = buf.find(HEADER_END, start)
    if head_end < 0:
        return None
    head = bytes(buf[start:head_end]).lower()
    index = head.find(b"\r\ncontent-length:")
    if index < 0:
        if b"\r\ntransfer-encoding:" in head:
            raise FramingError("chunked message: the load generator only frames Content-Length bodies")
        return head_end + 4  # no body (a GET, a 204)
    value_end = head.find(b"\r\n", index + 2)
    length = int(head[index + 17 : value_end if value_end >= 0 else len(head)])
    end = head_end + 4 + length
    return end if len(buf) >= end else None


def status_of(response: bytes | bytearray) -> int:
    """The status code of a response that starts at offset 0."""
    return int(response[9:12])


def body_of(response: bytes | bytearray) -> bytes:
    return bytes(response[response.find(HEADER_END) + 4 :])
