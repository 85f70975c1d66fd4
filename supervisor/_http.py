"""A tiny HTTP/1.1 client on Trio streams, for asking local daemons a question.

The supervisor only ever sends one small request to a daemon on this machine (mycelium's REST or
JSON-RPC API, or a Hero service socket) and reads one small answer, so this is deliberately minimal:
one request per connection (``Connection: close``), a bounded body, no redirects, no TLS, no
keep-alive. h11 does the protocol; Trio does the sockets. Deadlines belong to the caller.
"""

from __future__ import annotations

import json
from typing import Any

import attrs
import h11
import trio

#: Answers from local daemons are a few hundred bytes; refuse to buffer anything absurd.
MAX_BODY = 1 << 20


class HttpUnavailable(Exception):
    """The endpoint could not be reached, or what answered did not speak HTTP/1.1."""


@attrs.frozen
class HttpResponse:
    status: int
    body: bytes

    def json(self) -> Any:
        """The body as JSON; ``ValueError`` if it is not."""
        return json.loads(self.body)


def _split_host_port(address: str) -> tuple[str, int]:
    """``"127.0.0.1:8989"`` / ``"[::1]:8989"`` → host and port; ``ValueError`` otherwise."""
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ValueError(f"expected HOST:PORT, got {address!r}")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host, int(port)


async def _open_stream(endpoint: str) -> trio.abc.Stream:
    if endpoint.startswith("unix:"):
        return await trio.open_unix_socket(endpoint.removeprefix("unix:"))
    host, port = _split_host_port(endpoint)
    return await trio.open_tcp_stream(host, port)


async def request(endpoint: str, method: str, target: str, *, json_body: Any = None) -> HttpResponse:
    """Send one request to ``endpoint`` (``HOST:PORT`` or ``unix:PATH``) and read the whole answer.

    Raises :class:`HttpUnavailable` for every way the exchange can fail (refused, reset, not HTTP,
    body too large), so callers probing an address have exactly one error to expect.
    """
    host_header = "localhost" if endpoint.startswith("unix:") else endpoint
    headers = [("Host", host_header), ("Connection", "close"), ("Accept", "application/json")]
    body = b""
    if json_body is not None:
        body = json.dumps(json_body).encode()
        headers += [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    conn = h11.Connection(our_role=h11.CLIENT)
    try:
        stream = await _open_stream(endpoint)
    except (OSError, ValueError) as exc:
        raise HttpUnavailable(f"{endpoint}: {exc}") from exc
    async with stream:
        try:
            out = conn.send(h11.Request(method=method, target=target, headers=headers))
            if body:
                out += conn.send(h11.Data(data=body))
            out += conn.send(h11.EndOfMessage())
            await stream.send_all(out)
            return await _read_response(conn, stream)
        except (OSError, trio.BrokenResourceError, trio.ClosedResourceError, h11.ProtocolError) as exc:
            raise HttpUnavailable(f"{endpoint}: {exc!r}") from exc


async def _read_response(conn: h11.Connection, stream: trio.abc.Stream) -> HttpResponse:
    status: int | None = None
    chunks: list[bytes] = []
    size = 0
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            conn.receive_data(bytes(await stream.receive_some(65536)))
        elif isinstance(event, h11.Response):
            status = event.status_code
        elif isinstance(event, h11.Data):
            size += len(event.data)
            if size > MAX_BODY:
                raise HttpUnavailable(f"response body larger than {MAX_BODY} bytes")
            chunks.append(bytes(event.data))
        elif isinstance(event, h11.EndOfMessage):
            assert status is not None  # h11 never ends a message it did not start
            return HttpResponse(status=status, body=b"".join(chunks))
        elif isinstance(event, h11.ConnectionClosed):
            raise HttpUnavailable("connection closed before the response was complete")
        # InformationalResponse (1xx) and anything else: keep reading.
