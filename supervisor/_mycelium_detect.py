"""Finding a mycelium daemon that is already running on this machine.

A daemon can be reached three ways, tried in this order: its HTTP REST API (``GET /api/v1/admin``),
its JSON-RPC API (``getInfo``), and — for Hero-packaged daemons — a Unix socket serving the same
JSON-RPC methods on ``POST /rpc``. Whichever answers first with a well-formed node description wins.
"""

from __future__ import annotations

import enum
import ipaddress
import logging
import os
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import Any, Literal

import attrs
import trio

from . import _http
from ._mycelium_address import derive_address, subnet_of

logger = logging.getLogger("hero_assistance.supervisor.mycelium")

DEFAULT_API_ADDR = "127.0.0.1:8989"
DEFAULT_JSONRPC_ADDR = "127.0.0.1:8990"

#: How long one probe may take. A local daemon answers in milliseconds; this bound only matters
#: when something accepts connections on the port and then never answers (a wedged process, or
#: not an HTTP server at all) — detect() must then move on instead of hanging its caller.
PROBE_DEADLINE = 1.0

ApiKind = Literal["rest", "jsonrpc", "hero-socket"]


@attrs.frozen(kw_only=True)
class NodeInfo:
    """A running mycelium node, as its API describes it."""

    subnet: ipaddress.IPv6Network
    """The node's /64 inside 400::/7."""
    address: ipaddress.IPv6Address
    """The node's overlay address (reported, or derived from ``pubkey`` for daemons before 0.7.8)."""
    pubkey: str
    """The node's x25519 public key, 64 lowercase hex digits."""
    api: str
    """Where the node answered: ``http://HOST:PORT/api/v1`` (REST), ``http://HOST:PORT`` (JSON-RPC)
    or ``unix:PATH`` (Hero socket, JSON-RPC on ``POST /rpc``)."""
    api_kind: ApiKind
    start_time: int | None = None
    """``nodeStartTime`` (seconds since the epoch), reported from 0.7.8 on."""


def node_info_from_admin(obj: Any, *, api: str, api_kind: ApiKind) -> NodeInfo:
    """Build a :class:`NodeInfo` from the admin object; ``ValueError`` if it is not one.

    The same object comes back from ``GET /api/v1/admin`` and from JSON-RPC ``getInfo``; fields
    added over time (``nodeIp``, ``nodeStartTime``) are optional, the address is derived when absent.
    """
    if not isinstance(obj, dict):
        raise ValueError(f"expected a JSON object, got {type(obj).__name__}")
    pubkey_hex = obj.get("nodePubkey")
    if not isinstance(pubkey_hex, str) or len(pubkey_hex) != 64:
        raise ValueError(f"nodePubkey is not 64 hex digits: {pubkey_hex!r}")
    pubkey = bytes.fromhex(pubkey_hex)
    node_ip = obj.get("nodeIp")
    address = ipaddress.IPv6Address(node_ip) if isinstance(node_ip, str) else derive_address(pubkey)
    node_subnet = obj.get("nodeSubnet")
    subnet = ipaddress.IPv6Network(node_subnet, strict=False) if isinstance(node_subnet, str) else subnet_of(address)
    start_time = obj.get("nodeStartTime")
    return NodeInfo(
        subnet=subnet,
        address=address,
        pubkey=pubkey.hex(),
        api=api,
        api_kind=api_kind,
        start_time=start_time if isinstance(start_time, int) else None,
    )


async def probe_rest(api_addr: str) -> NodeInfo:
    """Ask the REST API at ``api_addr``; ``LookupError`` (with the reason) if no node answers there."""
    try:
        response = await _http.request(api_addr, "GET", "/api/v1/admin")
    except _http.HttpUnavailable as exc:
        raise LookupError(str(exc)) from None
    if response.status != 200:
        raise LookupError(f"{api_addr}: GET /api/v1/admin answered {response.status}")
    try:
        return node_info_from_admin(response.json(), api=f"http://{api_addr}/api/v1", api_kind="rest")
    except ValueError as exc:
        raise LookupError(f"{api_addr}: not a mycelium admin answer: {exc}") from None


async def _probe_jsonrpc(endpoint: str, target: str, *, api: str, api_kind: ApiKind) -> NodeInfo:
    call = {"jsonrpc": "2.0", "id": 1, "method": "getInfo", "params": []}
    try:
        response = await _http.request(endpoint, "POST", target, json_body=call)
    except _http.HttpUnavailable as exc:
        raise LookupError(str(exc)) from None
    if response.status != 200:
        raise LookupError(f"{endpoint}: POST {target} answered {response.status}")
    try:
        reply = response.json()
        if not isinstance(reply, dict) or "result" not in reply:
            raise ValueError(f"no JSON-RPC result: {reply!r:.200}")
        return node_info_from_admin(reply["result"], api=api, api_kind=api_kind)
    except ValueError as exc:
        raise LookupError(f"{endpoint}: not a mycelium getInfo answer: {exc}") from None


class _Default(enum.Enum):
    DEFAULT = "default"


def default_hero_socket() -> Path:
    """``$HERO_SOCKET_DIR/mycelium/rpc.sock``, with ``HERO_SOCKET_DIR`` defaulting to ``~/hero/var/sockets``."""
    base = os.environ.get("HERO_SOCKET_DIR") or str(Path.home() / "hero" / "var" / "sockets")
    return Path(base) / "mycelium" / "rpc.sock"


async def detect(
    *,
    api_addr: str | None = DEFAULT_API_ADDR,
    jsonrpc_addr: str | None = DEFAULT_JSONRPC_ADDR,
    hero_socket: str | os.PathLike[str] | Literal[_Default.DEFAULT] | None = _Default.DEFAULT,
) -> NodeInfo | None:
    """The running daemon reachable at any of the given places, or ``None``.

    Each argument names one place to look (``None`` skips it): the REST API address, the JSON-RPC
    address, and the Hero Unix socket (by default ``$HERO_SOCKET_DIR/mycelium/rpc.sock``, read at
    call time). Each probe is bounded by :data:`PROBE_DEADLINE`, so with nothing listening this
    returns within a few seconds at worst, and at once when connections are refused.
    """
    if hero_socket is _Default.DEFAULT:
        hero_socket = default_hero_socket()
    probes: list[tuple[str, Callable[[], Awaitable[NodeInfo]]]] = []
    if api_addr is not None:
        probes.append((f"REST API {api_addr}", partial(probe_rest, api_addr)))
    if jsonrpc_addr is not None:
        api = f"http://{jsonrpc_addr}"
        probes.append(
            (
                f"JSON-RPC API {jsonrpc_addr}",
                partial(_probe_jsonrpc, jsonrpc_addr, "/", api=api, api_kind="jsonrpc"),
            )
        )
    if hero_socket is not None:
        endpoint = f"unix:{os.fspath(hero_socket)}"
        probes.append(
            (
                f"Hero socket {os.fspath(hero_socket)}",
                partial(_probe_jsonrpc, endpoint, "/rpc", api=endpoint, api_kind="hero-socket"),
            )
        )
    for where, probe in probes:
        with trio.move_on_after(PROBE_DEADLINE):
            try:
                info = await probe()
            except LookupError as exc:
                logger.debug("no mycelium at %s: %s", where, exc)
                continue
            logger.debug("found mycelium %s at %s", info.address, where)
            return info
        logger.debug("no mycelium at %s: no answer within %ss", where, PROBE_DEADLINE)
    return None
