"""Baseline servers, each run as its own process: what our server is compared with in the same run.

``python -m bench._baselines hypercorn --socket PATH --body FILE``
    a bare ASGI app under hypercorn that reads the request body and answers a constant JSON body,
    on a Unix socket made as the project server makes its own (``bind_unix_socket``), with the keep-alive
    and request limits the project server applies: the cost of hypercorn itself, a well-known server.
``python -m bench._baselines raw --socket PATH --response FILE``
    a Trio server on raw sockets answering every request with fixed response bytes (recorded from
    the hypercorn baseline, so the bytes on the wire are the same): the limit of the machine, and of
    the load generator.
``python -m bench._baselines broadcast --socket-dir DIR --frame FILE``
    a bare trio-websocket server on ``DIR/events.sock`` and a trigger on ``DIR/rpc.sock``: each HTTP
    request to the trigger broadcasts one constant frame to every WebSocket, through a per-connection
    queue and task, the way our server's hub does it.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, cast

import hypercorn.config
import hypercorn.trio
import trio
import trio_websocket

from hero_assistance.transport._http_server import ConnectionLimits
from hero_assistance.transport._listen import bind_unix_socket

from ._http import message_end
from ._procs import raise_fd_limit

OK_RESPONSE = b'HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 11\r\n\r\n{"ok":true}'


# -- bare hypercorn ---------------------------------------------------------------------------------
class ConstantApp:
    """The least an ASGI app can do for ``POST /rpc``: read the body, answer a constant."""

    def __init__(self, body: bytes) -> None:
        self.headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        self.body = body

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        while (await receive()).get("more_body"):
            pass
        await send({"type": "http.response.start", "status": 200, "headers": self.headers})
        await send({"type": "http.response.body", "body": self.body})


async def serve_hypercorn(socket_path: Path, body: bytes) -> None:
    sock = bind_unix_socket(socket_path)
    config = hypercorn.config.Config()
    config.bind = [f"fd://{sock.detach()}"]  # hypercorn adopts the descriptor
    config.backlog = 1024
    config.accesslog = None
    config.keep_alive_timeout = ConnectionLimits().keep_alive_s
    config.keep_alive_max_requests = 100_000
    config.include_server_header = False
    await hypercorn.trio.serve(cast(Any, ConstantApp(body)), config)


# -- raw Trio sockets -------------------------------------------------------------------------------
async def serve_raw(socket_path: Path, response: bytes) -> None:
    listener = trio.socket.socket(trio.socket.AF_UNIX, trio.socket.SOCK_STREAM)
    socket_path.unlink(missing_ok=True)
    await listener.bind(str(socket_path))
    listener.listen(1024)
    async with trio.open_nursery() as nursery:
        while True:
            conn, _ = await listener.accept()
            nursery.start_soon(_answer_raw, conn, response)


async def _answer_raw(conn: trio.socket.SocketType, response: bytes) -> None:
    with conn:
        buf = bytearray()
        while True:
            chunk = await conn.recv(65536)
            if not chunk:
                return
            buf += chunk
            # Answer every complete request in the buffer (one, as the load keeps one in flight).
            while (end := message_end(buf)) is not None:
                del buf[:end]
                await conn.send(response)


# -- bare trio-websocket broadcast -------------------------------------------------------------------
class Broadcast:
    def __init__(self, frame: str) -> None:
        self.frame = frame
        self.queues: set[trio.MemorySendChannel[str]] = set()

    async def subscriber(self, stream: trio.SocketStream) -> None:
        # What trio_websocket.WebSocketServer does per connection (its run() assumes TCP addresses).
        async with trio.open_nursery() as nursery:
            request = await trio_websocket.wrap_server_stream(
                nursery, stream, max_message_size=64 * 1024, receive_buffer_size=None
            )
            await self._serve(await request.accept())
            nursery.cancel_scope.cancel()

    async def _serve(self, ws: trio_websocket.WebSocketConnection) -> None:
        send, receive = trio.open_memory_channel[str](1024)  # our hub's default buffer
        self.queues.add(send)
        try:
            await ws.send_message('{"type":"subscribed","project":"bench","seq":0}')
            async for text in receive:
                await ws.send_message(text)
        except trio_websocket.ConnectionClosed:
            pass
        finally:
            self.queues.discard(send)

    def publish(self) -> None:
        for queue in list(self.queues):
            try:
                queue.send_nowait(self.frame)
            except trio.WouldBlock:
                self.queues.discard(queue)  # too slow: dropped, as our hub drops it
                queue.close()

    async def trigger(self, stream: trio.SocketStream) -> None:
        buf = bytearray()
        async with stream:
            async for chunk in stream:
                buf += chunk
                while (end := message_end(buf)) is not None:
                    del buf[:end]
                    self.publish()
                    await stream.send_all(OK_RESPONSE)


async def serve_broadcast(socket_dir: Path, frame: str) -> None:
    broadcast = Broadcast(frame)
    listeners = []
    for name in ("events.sock", "rpc.sock"):
        sock = trio.socket.socket(trio.socket.AF_UNIX, trio.socket.SOCK_STREAM)
        (socket_dir / name).unlink(missing_ok=True)
        await sock.bind(str(socket_dir / name))
        sock.listen(1024)
        listeners.append(trio.SocketListener(sock))
    async with trio.open_nursery() as nursery:
        nursery.start_soon(trio.serve_listeners, broadcast.subscriber, [listeners[0]])
        nursery.start_soon(trio.serve_listeners, broadcast.trigger, [listeners[1]])


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench._baselines")
    kinds = parser.add_subparsers(dest="kind", required=True)
    hyper = kinds.add_parser("hypercorn")
    hyper.add_argument("--socket", type=Path, required=True)
    hyper.add_argument("--body", type=Path, required=True)
    raw = kinds.add_parser("raw")
    raw.add_argument("--socket", type=Path, required=True)
    raw.add_argument("--response", type=Path, required=True)
    bcast = kinds.add_parser("broadcast")
    bcast.add_argument("--socket-dir", type=Path, required=True)
    bcast.add_argument("--frame", type=Path, required=True)
    args = parser.parse_args()
    raise_fd_limit()
    try:
        if args.kind == "hypercorn":
            trio.run(serve_hypercorn, args.socket, args.body.read_bytes())
        elif args.kind == "raw":
            trio.run(serve_raw, args.socket, args.response.read_bytes())
        else:
            trio.run(serve_broadcast, args.socket_dir, args.frame.read_text())
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
