"""Forwarding raw HTTP requests to a project server, bytes untouched.

The SDK's ``Client.call`` decodes answers into Python values and builds its own request bodies;
the ui's contract is the opposite: the browser's JSON-RPC body goes to the project exactly as sent
and the project's answer comes back exactly as written (batches, notifications, error objects and
all). So this module speaks HTTP/1.1 itself, with h11, over the same two kinds of endpoint the SDK
reaches (``unix:/path/rpc.sock`` and ``http://host:port``), adding only the headers the ui decides
on: never one the browser sent.

Connections are kept alive in a small pool per project: a comment typed in the browser should cost
one request on an open socket, not a TCP handshake over the overlay. A request cancelled half-way
poisons its connection, which is then closed rather than returned (the next request must never
read the previous one's answer).
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlsplit

import attrs
import h11
import trio

from hero_assistance.core import HeroAssistanceError

#: Bigger than any answer a project gives (attachments are at most 10 MiB, the request cap 16 MiB).
MAX_RESPONSE_BYTES = 32 * 1024 * 1024
READ_CHUNK = 64 * 1024


class UpstreamUnavailable(HeroAssistanceError):
    """The project server could not be reached, or broke the connection mid-answer."""


@attrs.frozen
class UpstreamResponse:
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes

    def header(self, name: str) -> str | None:
        wanted = name.lower().encode()
        for key, value in self.headers:
            if key.lower() == wanted:
                return value.decode("latin-1")
        return None


class _Connection:
    def __init__(self, stream: trio.abc.Stream) -> None:
        self.stream = stream
        self.h11 = h11.Connection(h11.CLIENT, max_incomplete_event_size=64 * 1024)
        self.reused = False
        self.answered = False  # a response head arrived: the server saw the request

    async def send(self, event: h11.Event) -> None:
        data = self.h11.send(event)
        if data:
            await self.stream.send_all(data)

    async def next_event(self) -> h11.Event:
        while True:
            event = self.h11.next_event()
            if event is not h11.NEED_DATA:
                return event  # type: ignore[return-value]
            data = await self.stream.receive_some(READ_CHUNK)
            self.h11.receive_data(bytes(data))  # b"" tells h11 the peer closed

    async def aclose(self) -> None:
        await trio.aclose_forcefully(self.stream)


class Upstream:
    """One project server's HTTP endpoint, with a few kept-alive connections."""

    def __init__(self, url: str, *, max_idle: int = 8) -> None:
        self.url = url
        self.max_idle = max_idle
        self._idle: list[_Connection] = []
        if url.startswith("unix:"):
            self._unix_path: str | None = url[5:]
            self._host_header = "localhost"
            self._tcp: tuple[str, int] | None = None
        else:
            parts = urlsplit(url)
            assert parts.hostname is not None
            self._unix_path = None
            self._tcp = (parts.hostname, parts.port or 80)
            self._host_header = parts.netloc

    @property
    def is_unix(self) -> bool:
        return self._unix_path is not None

    async def _open(self) -> _Connection:
        try:
            if self._unix_path is not None:
                stream: trio.abc.Stream = await trio.open_unix_socket(self._unix_path)
            else:
                assert self._tcp is not None
                stream = await trio.open_tcp_stream(*self._tcp)
        except OSError as exc:
            raise UpstreamUnavailable(f"cannot connect to {self.url}: {exc.strerror or exc}") from None
        return _Connection(stream)

    async def request(
        self,
        method: str,
        target: str,
        headers: Sequence[tuple[str, str]] = (),
        body: bytes = b"",
    ) -> UpstreamResponse:
        """Send one request and read the whole answer. The caller sets any deadline."""
        # A kept-alive connection may have been closed by the server while idle; the request then
        # fails before any answer arrives, the server never saw it, and one retry on a fresh
        # connection is safe even for a POST.
        while True:
            conn = self._idle.pop() if self._idle else await self._open()
            try:
                response = await self._exchange(conn, method, target, headers, body)
            except UpstreamUnavailable:
                await conn.aclose()
                if conn.reused and not conn.answered:
                    continue
                raise
            except BaseException:
                await conn.aclose()  # cancelled or failed mid-exchange: poisoned, never reused
                raise
            if conn.h11.our_state is h11.DONE and conn.h11.their_state is h11.DONE and len(self._idle) < self.max_idle:
                conn.h11.start_next_cycle()
                conn.reused, conn.answered = True, False
                self._idle.append(conn)
            else:
                await conn.aclose()
            return response

    async def _exchange(
        self,
        conn: _Connection,
        method: str,
        target: str,
        headers: Sequence[tuple[str, str]],
        body: bytes,
    ) -> UpstreamResponse:
        all_headers = [("Host", self._host_header), *headers]
        if method not in ("GET", "HEAD") or body:
            all_headers.append(("Content-Length", str(len(body))))
        try:
            await conn.send(h11.Request(method=method, target=target, headers=all_headers))
            if body:
                await conn.send(h11.Data(data=body))
            await conn.send(h11.EndOfMessage())
            event = await conn.next_event()
            while isinstance(event, h11.InformationalResponse):
                event = await conn.next_event()
            if not isinstance(event, h11.Response):
                raise UpstreamUnavailable(f"{self.url} closed the connection without answering")
            conn.answered = True
            status, response_headers = event.status_code, list(event.headers)
            chunks: list[bytes] = []
            size = 0
            while True:
                event = await conn.next_event()
                if isinstance(event, h11.Data):
                    size += len(event.data)
                    if size > MAX_RESPONSE_BYTES:
                        raise UpstreamUnavailable(f"{self.url} answered with more than {MAX_RESPONSE_BYTES} bytes")
                    chunks.append(bytes(event.data))
                elif isinstance(event, h11.EndOfMessage):
                    break
                else:
                    raise UpstreamUnavailable(f"{self.url} closed the connection mid-answer")
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError) as exc:
            raise UpstreamUnavailable(f"connection to {self.url} broke: {exc}") from None
        except h11.ProtocolError as exc:
            raise UpstreamUnavailable(f"{self.url} spoke broken HTTP: {exc}") from None
        return UpstreamResponse(status, response_headers, b"".join(chunks))

    async def aclose(self) -> None:
        idle, self._idle = self._idle, []
        for conn in idle:
            await conn.aclose()
