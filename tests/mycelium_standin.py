#!/usr/bin/env python3
"""A stand-in for the ``mycelium`` daemon (the v0.7.10 interface), for tests.

The real binary cannot be installed where the tests run, so this program honours the same interface
as described in ``docs/mycelium-daemon.md``: the command line (global ``-k/-c/-d/--silent/--log-format``,
the node flags, ``--version``, ``inspect``, ``generate-keys``), the raw 32-byte key file (written
0640 when missing, parent directory not created for an explicit ``-k``), the real overlay address,
the REST API and JSON-RPC with the real field names, the node's logs on stdout, exit 0 on SIGTERM/SIGINT, the
non-fatal API bind failure and the fatal QUIC-bind and TUN failures. It never creates a TUN device:
without ``--no-tun`` it pretends to, unless told to fail.

It touches nothing but the key file it is given: the default key file (under ``$XDG_DATA_HOME``, else
``~/.local/share``) is looked up only when no ``-k`` names one and a key is needed, and ``inspect KEY`` reads none.
A subcommand's output is the only thing it writes on stdout (``inspect --json`` is parsed by programs): its
log lines go to stderr.

Misbehaviour on request, through the environment:

=========================  ==========================================================================
``STANDIN_SLOW_START=S``   sleep S seconds after loading the key, before binding anything
``STANDIN_CRASH_AFTER=S``  S seconds after the API is up, panic and exit 101
``STANDIN_CRASH_MARKER=P`` with CRASH_AFTER: crash only if file P does not exist yet (creating it)
``STANDIN_API_BIND_FAIL``  log the API bind failure and run on without a REST API, like the real one
``STANDIN_WRONG_KEY=1``    report another node's key (and address) on the APIs
``STANDIN_VERSION=V``      e.g. ``0.7.5``: no ``nodeIp``/``nodeStartTime``, pre-0.7.6 peer endpoints
``STANDIN_TUN_FAIL=1``     fail to create the TUN device (without ``--no-tun``): exit 1
``STANDIN_IGNORE_SIGTERM`` ignore SIGTERM (only SIGINT or SIGKILL end it)
``STANDIN_HERO_SOCKET=P``  also serve the Hero Unix socket (``POST /rpc``, ``GET /health`` …) at P
``STANDIN_START_LOG=P``    append this process's pid to file P at start
=========================  ==========================================================================

This is a separate program: it must not import hero_assistance.
"""

from __future__ import annotations

import argparse
import datetime
import errno
import http.server
import ipaddress
import json
import os
import signal
import socket
import socketserver
import sys
import threading
import time
import tomllib
import urllib.parse
from pathlib import Path
from typing import Any

import blake3
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

VERSION = os.environ.get("STANDIN_VERSION", "0.7.10")
DEFAULT_TCP_LISTEN_PORT = 9651
DEFAULT_QUIC_LISTEN_PORT = 9651
DEFAULT_PEER_DISCOVERY_PORT = 9650


def version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(".")[:3])


# ---------------------------------------------------------------------------------------------- logs


class Log:
    """tracing-subscriber's output on stdout: ``compact`` or logfmt (``logfmt``/``plain``)."""

    def __init__(self, fmt: str = "compact", debug: bool = False, silent: bool = False, stream: Any = None) -> None:
        self.fmt = fmt
        self.stream = stream  # None: whatever sys.stdout is when a line is written
        self.min_level = 3 if silent else (0 if debug else 1)
        self.lock = threading.Lock()

    def _emit(self, rank: int, level: str, message: str, fields: dict[str, Any]) -> None:
        if rank < self.min_level:
            return
        ts = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        if self.fmt == "compact":
            extra = "".join(f" {k}={v}" for k, v in fields.items())
            line = f"{ts} {level.upper():>5} mycelium: {message}{extra}"
        else:
            extra = "".join(f" {k}={json.dumps(str(v))}" for k, v in fields.items())
            line = f"ts={ts} level={level} target=mycelium message={json.dumps(message)}{extra}"
        with self.lock:
            print(line, file=self.stream or sys.stdout, flush=True)

    def debug(self, message: str, **fields: Any) -> None:
        self._emit(0, "debug", message, fields)

    def info(self, message: str, **fields: Any) -> None:
        self._emit(1, "info", message, fields)

    def warn(self, message: str, **fields: Any) -> None:
        self._emit(2, "warn", message, fields)

    def error(self, message: str, **fields: Any) -> None:
        self._emit(3, "error", message, fields)


def fail(message: str) -> None:
    """What a Rust ``main`` returning ``Err`` does: ``Error: …`` on stderr, exit status 1."""
    print(f"Error: {message}", file=sys.stderr, flush=True)
    sys.exit(1)


# ------------------------------------------------------------------------------------------ identity


def public_key(secret: bytes) -> bytes:
    pub = X25519PrivateKey.from_private_bytes(secret).public_key()
    return pub.public_bytes(Encoding.Raw, PublicFormat.Raw)


def overlay_address(pubkey: bytes) -> ipaddress.IPv6Address:
    digest = bytearray(blake3.blake3(pubkey).digest(length=16))
    digest[0] = 0x04 | (bin(digest[0]).count("1") % 2)
    return ipaddress.IPv6Address(bytes(digest))


def key_path_of(args: argparse.Namespace, log: Log) -> Path:
    """``-k`` if given, else the daemon's default (creating its folder, as the daemon does)."""
    if args.key_file is not None:
        return Path(args.key_file)
    data = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "mycelium"
    if not data.exists():
        log.info("Data config dir does not exist, create it", data_dir=data)
        data.mkdir(parents=True)
    return data / "priv_key.bin"


def load_key(path: Path) -> bytes | None:
    if not path.exists():
        return None
    data = path.read_bytes()
    if len(data) < 32:
        fail('Custom { kind: UnexpectedEof, error: "failed to fill whole buffer" }')
    return data[:32]


def save_key(path: Path, secret: bytes) -> None:
    # Like the daemon: create or truncate, mode 0640, and no parent directory creation.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)
    except FileNotFoundError:
        fail('Os { code: 2, kind: NotFound, message: "No such file or directory" }')
    with os.fdopen(fd, "wb") as f:
        f.write(secret)


# --------------------------------------------------------------------------------------- command line


def socket_addr(text: str) -> tuple[str, int]:
    """Rust's ``SocketAddr``: ``1.2.3.4:80`` or ``[::1]:80``, no host names."""
    host, sep, port = text.rpartition(":")
    try:
        if not sep or not port.isdigit() or int(port) > 65535:
            raise ValueError
        if host.startswith("[") and host.endswith("]"):
            return str(ipaddress.IPv6Address(host[1:-1])), int(port)
        return str(ipaddress.IPv4Address(host)), int(port)
    except ValueError:
        raise argparse.ArgumentTypeError("invalid socket address syntax") from None


def parse_endpoint(text: str) -> tuple[str, str]:
    """``tcp://1.2.3.4:9651`` → (``tcp``, ``1.2.3.4:9651``); ``ValueError`` for anything else."""
    proto, sep, addr = text.partition("://")
    if not sep or proto not in ("tcp", "quic", "tls"):
        raise ValueError(f"invalid protocol in endpoint {text!r}")
    try:
        host, port = socket_addr(addr)
    except argparse.ArgumentTypeError:
        raise ValueError(f"invalid socket address in endpoint {text!r}") from None
    return proto, f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mycelium", description="mycelium stand-in for tests")
    parser.add_argument("--version", action="version", version=f"mycelium {VERSION}")
    globals_ = argparse.ArgumentParser(add_help=False)
    globals_.add_argument("-k", "--key-file", type=Path, default=argparse.SUPPRESS)
    globals_.add_argument("-c", "--config-file", type=Path, default=argparse.SUPPRESS)
    # -k and -c are clap "global" arguments: accepted before and after the subcommand.
    parser.add_argument("-k", "--key-file", type=Path)
    parser.add_argument("-c", "--config-file", type=Path)
    parser.add_argument("-d", "--debug", action="store_true")
    parser.add_argument("--silent", action="store_true")
    parser.add_argument("--log-format", choices=["compact", "logfmt", "plain"], default="compact")
    parser.add_argument("--peers", nargs="+", default=[])
    parser.add_argument("-t", "--tcp-listen-port", type=int, default=DEFAULT_TCP_LISTEN_PORT)
    parser.add_argument("--disable-quic", action="store_true")
    parser.add_argument("-q", "--quic-listen-port", type=int, default=DEFAULT_QUIC_LISTEN_PORT)
    parser.add_argument("--peer-discovery-port", type=int, default=DEFAULT_PEER_DISCOVERY_PORT)
    parser.add_argument("--disable-peer-discovery", action="store_true")
    parser.add_argument("--api-addr", type=socket_addr, default=("127.0.0.1", 8989))
    parser.add_argument("--jsonrpc-addr", type=socket_addr, default=("127.0.0.1", 8990))
    parser.add_argument("--no-tun", action="store_true")
    parser.add_argument("--tun-name", default=None)
    sub = parser.add_subparsers(dest="command")
    inspect = sub.add_parser("inspect", parents=[globals_], help="inspect a public key, or our own")
    inspect.add_argument("--json", action="store_true")
    inspect.add_argument("key", nargs="?")
    generate = sub.add_parser("generate-keys", parents=[globals_], help="generate a new key file")
    generate.add_argument("--force", action="store_true")
    return parser


def merged_settings(args: argparse.Namespace, log: Log) -> dict[str, Any]:
    """The daemon's merge of CLI and config file: CLI wins when not at its default, flags are OR-ed."""
    config: dict[str, Any] = {}
    if args.config_file is not None:
        if not args.config_file.exists():
            fail(f'Config file "{args.config_file}" not found')
        config = tomllib.loads(args.config_file.read_text())
    else:
        home_conf = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
        conf = home_conf / "mycelium" / "mycelium.toml"
        if conf.exists():
            log.info("Mycelium is starting with configuration file", conf_dir=conf)
            config = tomllib.loads(conf.read_text())

    def port(cli: int, default: int, key: str) -> int:
        return cli if cli != default else int(config.get(key, default))

    return {
        "peers": args.peers or list(config.get("peers", [])),
        "tcp_listen_port": port(args.tcp_listen_port, DEFAULT_TCP_LISTEN_PORT, "tcp_listen_port"),
        "quic_listen_port": port(args.quic_listen_port, DEFAULT_QUIC_LISTEN_PORT, "quic_listen_port"),
        "disable_quic": args.disable_quic or bool(config.get("disable_quic", False)),
        "peer_discovery_port": port(args.peer_discovery_port, DEFAULT_PEER_DISCOVERY_PORT, "peer_discovery_port"),
        "disable_peer_discovery": args.disable_peer_discovery or bool(config.get("disable_peer_discovery", False)),
        "no_tun": args.no_tun or bool(config.get("no_tun", False)),
        "tun_name": args.tun_name or config.get("tun_name", "mycelium"),
    }


# ------------------------------------------------------------------------------------------ the node


class Node:
    def __init__(self, secret: bytes, peers: list[str], log: Log) -> None:
        self.log = log
        self.start_time = int(time.time())
        if os.environ.get("STANDIN_WRONG_KEY"):
            secret = blake3.blake3(b"another node" + secret).digest()  # another, stable identity
        self.pubkey = public_key(secret)
        self.address = overlay_address(self.pubkey)
        self.subnet = ipaddress.IPv6Network((self.address, 64), strict=False)
        self.lock = threading.Lock()
        self.peers: dict[str, dict[str, Any]] = {}
        for endpoint in peers:
            self.add_peer(endpoint)

    def info(self) -> dict[str, Any]:
        info: dict[str, Any] = {"nodeSubnet": str(self.subnet)}
        if version_tuple(VERSION) >= (0, 7, 8):
            info["nodeIp"] = str(self.address)
        info["nodePubkey"] = self.pubkey.hex()
        if version_tuple(VERSION) >= (0, 7, 8):
            info["nodeStartTime"] = self.start_time
        return info

    def add_peer(self, text: str) -> bool:
        """True if added, False if it exists; ``ValueError`` if the endpoint is malformed."""
        proto, addr = parse_endpoint(text)
        key = f"{proto}://{addr}"
        with self.lock:
            if key in self.peers:
                return False
            self.peers[key] = {"proto": proto, "addr": addr, "added": time.monotonic()}
        self.log.info("Adding peer", endpoint=key)
        return True

    def remove_peer(self, text: str) -> bool:
        proto, addr = parse_endpoint(text)
        with self.lock:
            return self.peers.pop(f"{proto}://{addr}", None) is not None

    def peer_list(self) -> list[dict[str, Any]]:
        new_format = version_tuple(VERSION) >= (0, 7, 6)
        with self.lock:
            peers = list(self.peers.values())
        return [
            {
                "endpoint": (
                    {"proto": p["proto"], "addr": {"socket": p["addr"]}}
                    if new_format
                    else {"proto": p["proto"], "socketAddr": p["addr"]}
                ),
                "type": "static",
                "connectionState": "connecting",  # a stand-in never reaches anyone
                "txBytes": 0,
                "rxBytes": 0,
                "discovered": int(time.monotonic() - p["added"]),
                "lastConnected": None,
            }
            for p in peers
        ]


OPENRPC_METHODS = ["getInfo", "getPeers", "addPeer", "deletePeer", "getPublicKeyFromIp", "rpc.discover"]


def openrpc_document() -> dict[str, Any]:
    return {
        "openrpc": "1.2.6",
        "info": {"title": "Mycelium JSON-RPC API (stand-in)", "version": VERSION},
        "methods": [{"name": name, "params": []} for name in OPENRPC_METHODS],
    }


def rpc_call(node: Node, call: Any) -> dict[str, Any] | None:
    """One JSON-RPC 2.0 call → its response object (``None`` for a notification)."""
    if not isinstance(call, dict) or call.get("jsonrpc") != "2.0" or not isinstance(call.get("method"), str):
        return {"jsonrpc": "2.0", "error": {"code": -32600, "message": "Invalid request"}, "id": None}
    ident = call.get("id")
    params = call.get("params", [])

    def arg(name: str) -> Any:
        if isinstance(params, list) and params:
            return params[0]
        if isinstance(params, dict):
            return params.get(name)
        return None

    def error(code: int, message: str) -> dict[str, Any]:
        return {"jsonrpc": "2.0", "error": {"code": code, "message": message}, "id": ident}

    method = call["method"]
    result: Any
    try:
        if method == "getInfo":
            result = node.info()
        elif method == "getPeers":
            result = node.peer_list()
        elif method == "addPeer":
            try:
                if not node.add_peer(str(arg("endpoint"))):
                    return error(-32010, "Peer already exists")
            except ValueError:
                return error(-32009, "Invalid endpoint")
            result = True
        elif method == "deletePeer":
            try:
                if not node.remove_peer(str(arg("endpoint"))):
                    return error(-32011, "Peer not found")
            except ValueError:
                return error(-32012, "Invalid endpoint")
            result = True
        elif method == "getPublicKeyFromIp":
            try:
                ipaddress.ip_address(str(arg("ip")))
            except ValueError:
                return error(-32007, "Invalid IP address")
            return error(-32008, "No public key found for IP")  # we know no remote routes
        elif method == "rpc.discover":
            result = openrpc_document()
        else:
            return error(-32601, "Method not found")
    except Exception as exc:  # a stand-in bug must show up as an error, not a hang
        return error(-32603, f"Internal error: {exc}")
    return None if "id" not in call else {"jsonrpc": "2.0", "result": result, "id": ident}


def rpc_body(node: Node, body: bytes) -> bytes | None:
    try:
        request = json.loads(body)
    except ValueError:
        return json.dumps({"jsonrpc": "2.0", "error": {"code": -32700, "message": "Parse error"}, "id": None}).encode()
    if isinstance(request, list):
        answers = [a for a in (rpc_call(node, c) for c in request) if a is not None]
        return json.dumps(answers).encode() if answers else None
    answer = rpc_call(node, request)
    return None if answer is None else json.dumps(answer).encode()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "mycelium-standin"
    node: Node
    kind: str  # "rest", "jsonrpc" or "hero"

    def log_message(self, format: str, *args: Any) -> None:
        self.node.log.debug("http request", line=format % args)

    def _send(self, status: int, body: bytes = b"", content_type: str = "application/json") -> None:
        self.send_response(status)
        if body:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body:
            self.wfile.write(body)

    def _json(self, obj: Any, status: int = 200) -> None:
        self._send(status, json.dumps(obj).encode())

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def do_GET(self) -> None:
        path = urllib.parse.urlsplit(self.path).path
        if self.kind == "rest":
            if path == "/api/v1/admin":
                return self._json(self.node.info())
            if path == "/api/v1/admin/peers":
                return self._json(self.node.peer_list())
            if path.startswith("/api/v1/pubkey/"):
                try:
                    ipaddress.ip_address(urllib.parse.unquote(path.removeprefix("/api/v1/pubkey/")))
                except ValueError:
                    return self._send(400, b"Invalid URL: invalid IP address syntax", "text/plain")
                return self._send(404)
        elif self.kind == "hero":
            if path == "/health":
                return self._json({"status": "ok"})
            if path == "/openrpc.json":
                return self._json(openrpc_document())
            if path == "/.well-known/heroservice.json":
                return self._json({"name": "mycelium", "version": VERSION, "protocols": ["openrpc"]})
        return self._send(404)

    def do_POST(self) -> None:
        path = urllib.parse.urlsplit(self.path).path
        body = self._body()
        if self.kind == "jsonrpc" or (self.kind == "hero" and path == "/rpc"):
            answer = rpc_body(self.node, body)
            return self._send(200, answer) if answer is not None else self._send(204)
        if self.kind == "rest" and path == "/api/v1/admin/peers":
            try:
                endpoint = json.loads(body)["endpoint"]
                added = self.node.add_peer(str(endpoint))
            except (ValueError, KeyError, TypeError) as exc:
                return self._send(400, str(exc).encode(), "text/plain")
            if not added:
                return self._send(409, b"A peer identified by that endpoint already exists", "text/plain")
            return self._send(204)
        return self._send(404)

    def do_DELETE(self) -> None:
        path = urllib.parse.urlsplit(self.path).path
        prefix = "/api/v1/admin/peers/"
        if self.kind == "rest" and path.startswith(prefix):
            try:
                removed = self.node.remove_peer(urllib.parse.unquote(path.removeprefix(prefix)))
            except ValueError as exc:
                return self._send(400, str(exc).encode(), "text/plain")
            if not removed:
                return self._send(404, b"A peer identified by that endpoint does not exist", "text/plain")
            return self._send(204)
        return self._send(404)


class TcpServer(http.server.ThreadingHTTPServer):
    daemon_threads = True


class UnixServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


def handler_for(node: Node, kind: str) -> type[Handler]:
    return type(f"{kind.title()}Handler", (Handler,), {"node": node, "kind": kind})


def serve_tcp(addr: tuple[str, int], node: Node, kind: str) -> TcpServer:
    family = socket.AF_INET6 if ":" in addr[0] else socket.AF_INET
    server_cls = type("Server", (TcpServer,), {"address_family": family})
    server = server_cls(addr, handler_for(node, kind))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def bind_underlay(kind: int, port: int) -> socket.socket:
    """Bind [::]:port (falling back to 0.0.0.0 without IPv6); ``OSError`` if taken."""
    try:
        sock = socket.socket(socket.AF_INET6, kind)
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        sock.bind(("::", port))
    except OSError as exc:
        if exc.errno != errno.EAFNOSUPPORT:
            raise
        sock = socket.socket(socket.AF_INET, kind)
        sock.bind(("0.0.0.0", port))
    if kind == socket.SOCK_STREAM:
        sock.listen()
    return sock


def run_node(args: argparse.Namespace, log: Log) -> None:
    settings = merged_settings(args, log)
    key_path = key_path_of(args, log)
    if start_log := os.environ.get("STANDIN_START_LOG"):
        with open(start_log, "a") as f:
            f.write(f"{os.getpid()}\n")
    secret = load_key(key_path)
    if secret is None:
        log.warn(f'Node key file "{key_path}" not found, generating new keys')
        secret = os.urandom(32)
        save_key(key_path, secret)
    else:
        log.info("Using key file", key_path=key_path)

    stop = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        if signum == signal.SIGTERM and os.environ.get("STANDIN_IGNORE_SIGTERM"):
            log.warn("ignoring SIGTERM (STANDIN_IGNORE_SIGTERM)")
            return
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    if slow := float(os.environ.get("STANDIN_SLOW_START") or 0):
        log.info("slow start (STANDIN_SLOW_START)", seconds=slow)
        if stop.wait(slow):
            sys.exit(0)

    node = Node(secret, settings["peers"], log)
    underlay: list[socket.socket] = []
    if not settings["disable_quic"]:
        try:
            underlay.append(bind_underlay(socket.SOCK_DGRAM, settings["quic_listen_port"]))
        except OSError as exc:
            log.error("Failed to bind quic listener", err=exc)
            fail(f"Os {{ code: {exc.errno}, message: {exc.strerror!r} }}")
    try:
        underlay.append(bind_underlay(socket.SOCK_STREAM, settings["tcp_listen_port"]))
    except OSError as exc:
        log.error("Failed to bind TCP listener", err=exc, port=settings["tcp_listen_port"])
    if not settings["disable_peer_discovery"]:
        try:
            underlay.append(bind_underlay(socket.SOCK_DGRAM, settings["peer_discovery_port"]))
        except OSError as exc:
            log.error("Failed to bind peer discovery socket", err=exc)
    if not settings["no_tun"]:
        if os.environ.get("STANDIN_TUN_FAIL"):
            log.error(f"Could not create tun device named {settings['tun_name']}: Operation not permitted")
            fail("Operation not permitted (os error 1)")
        log.info("Created TUN interface (pretend: stand-in)", tun_name=settings["tun_name"])
    log.info("Node overlay IP", ip=node.address, subnet=node.subnet, pubkey=node.pubkey.hex())

    servers: list[socketserver.BaseServer] = []
    api_up = False
    if os.environ.get("STANDIN_API_BIND_FAIL"):
        log.error("Failed to bind listener for Http Api server", err="Address already in use (os error 98)")
        log.error("API disabled")
    else:
        try:
            servers.append(serve_tcp(args.api_addr, node, "rest"))
            api_up = True
        except OSError as exc:
            log.error("Failed to bind listener for Http Api server", err=exc)
            log.error("API disabled")
    try:
        servers.append(serve_tcp(args.jsonrpc_addr, node, "jsonrpc"))
    except OSError as exc:
        log.error("Failed to bind JSON-RPC API server", err=exc)
    if hero := os.environ.get("STANDIN_HERO_SOCKET"):
        Path(hero).parent.mkdir(parents=True, exist_ok=True)
        Path(hero).unlink(missing_ok=True)
        unix_server = UnixServer(hero, handler_for(node, "hero"))
        threading.Thread(target=unix_server.serve_forever, daemon=True).start()
        servers.append(unix_server)

    crash_after = os.environ.get("STANDIN_CRASH_AFTER")
    marker = os.environ.get("STANDIN_CRASH_MARKER")
    if crash_after and api_up and not (marker and os.path.exists(marker)):
        if marker:
            Path(marker).touch()

        def crash() -> None:
            if not stop.wait(float(crash_after)):
                print("thread 'main' panicked at src/main.rs: stand-in crash (STANDIN_CRASH_AFTER)", file=sys.stderr)
                sys.stderr.flush()
                os._exit(101)

        threading.Thread(target=crash, daemon=True).start()

    stop.wait()
    for server in servers:
        server.server_close()
    if hero:
        Path(hero).unlink(missing_ok=True)
    sys.exit(0)


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    log = Log(args.log_format, debug=args.debug, silent=args.silent)
    if args.command is None:
        run_node(args, log)
        return
    log.stream = sys.stderr  # stdout carries the subcommand's answer alone
    if args.command == "inspect":
        if args.key:
            try:
                pubkey = bytes.fromhex(args.key)
                if len(pubkey) != 32:
                    raise ValueError
            except ValueError:
                fail("invalid public key")
        else:
            key_path = key_path_of(args, log)
            secret = load_key(key_path)
            if secret is None:
                log.error(f'No key to inspect provided and no key found at "{key_path}"')
                fail("no key to inspect and key file not found")
            pubkey = public_key(secret)
        address = overlay_address(pubkey)
        if args.json:
            print(json.dumps({"publicKey": pubkey.hex(), "address": str(address)}))
        else:
            print(f"Public key: {pubkey.hex()}\nAddress: {address}")
    elif args.command == "generate-keys":
        key_path = key_path_of(args, log)
        if load_key(key_path) is None or args.force:
            log.info("Generating new node keys", key_path=key_path)
            save_key(key_path, os.urandom(32))
        else:
            log.warn(
                "Refusing to generate new keys as key file already exists, use `--force` to generate them anyway",
                key_path=key_path,
            )


if __name__ == "__main__":
    main()
