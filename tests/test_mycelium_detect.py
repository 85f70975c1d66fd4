"""detect() finds a running daemon through REST, JSON-RPC or the Hero socket, and nothing else."""

from __future__ import annotations

import ipaddress
from functools import partial
from pathlib import Path

import pytest
import trio

from hero_assistance.supervisor import _mycelium_detect
from hero_assistance.supervisor.mycelium import NodeInfo, detect
from tests._mycelium_fixtures import free_addr, free_port, running_standin, wait_for_node

# docs/mycelium-daemon.md test vector: the key file holding bytes 0x00..0x1f.
SECRET = bytes(range(32))
PUBKEY = "8f40c5adb68f25624ae5b214ea767a6ec94d829d3d7b5e1ad1ba6f3e2138285f"
ADDRESS = ipaddress.IPv6Address("430:9364:d8d8:84a9:dd60:de78:c767:d361")
SUBNET = ipaddress.IPv6Network("430:9364:d8d8:84a9::/64")


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "priv_key.bin"
    path.write_bytes(SECRET)
    return path


@pytest.fixture(autouse=True)
def no_real_hero_socket(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point $HERO_SOCKET_DIR at an empty temp dir so a real daemon on this machine is never seen."""
    sockets = tmp_path / "hero-sockets"
    monkeypatch.setenv("HERO_SOCKET_DIR", str(sockets))
    return sockets


def standin_args(key_file: Path, api: str, jsonrpc: str) -> list[str]:
    return [
        "-k", str(key_file), "-c", "/dev/null", "--no-tun", "--disable-quic", "--disable-peer-discovery",
        "-t", str(free_port()), "--api-addr", api, "--jsonrpc-addr", jsonrpc,
    ]  # fmt: skip


def assert_is_vector_node(info: NodeInfo) -> None:
    assert info.pubkey == PUBKEY
    assert info.address == ADDRESS
    assert info.subnet == SUBNET


async def test_finds_a_daemon_by_its_rest_api(tmp_path: Path, key_file: Path) -> None:
    api, jsonrpc = free_addr(), free_addr()
    async with running_standin(tmp_path, *standin_args(key_file, api, jsonrpc)):
        with trio.fail_after(10):
            info = await wait_for_node(api_addr=api, jsonrpc_addr=None, hero_socket=None)
    assert_is_vector_node(info)
    assert (info.api, info.api_kind) == (f"http://{api}/api/v1", "rest")
    assert info.start_time is not None


async def test_falls_back_to_json_rpc_when_rest_is_closed(tmp_path: Path, key_file: Path) -> None:
    api, jsonrpc = free_addr(), free_addr()
    async with running_standin(tmp_path, *standin_args(key_file, api, jsonrpc)):
        with trio.fail_after(10):
            await wait_for_node(api_addr=api, jsonrpc_addr=None, hero_socket=None)
            info = await detect(api_addr=free_addr(), jsonrpc_addr=jsonrpc, hero_socket=None)
    assert info is not None
    assert_is_vector_node(info)
    assert (info.api, info.api_kind) == (f"http://{jsonrpc}", "jsonrpc")


async def test_finds_the_hero_socket_under_hero_socket_dir(
    tmp_path: Path, key_file: Path, no_real_hero_socket: Path
) -> None:
    sock = no_real_hero_socket / "mycelium" / "rpc.sock"
    api, jsonrpc = free_addr(), free_addr()
    env = {"STANDIN_HERO_SOCKET": str(sock)}
    async with running_standin(tmp_path, *standin_args(key_file, api, jsonrpc), env=env):
        with trio.fail_after(10):
            await wait_for_node(api_addr=api, jsonrpc_addr=None, hero_socket=None)
            # Only the default Hero socket, read from $HERO_SOCKET_DIR at call time.
            info = await detect(api_addr=None, jsonrpc_addr=None)
    assert info is not None
    assert_is_vector_node(info)
    assert (info.api, info.api_kind) == (f"unix:{sock}", "hero-socket")


async def test_derives_the_address_for_daemons_before_0_7_8(tmp_path: Path, key_file: Path) -> None:
    api, jsonrpc = free_addr(), free_addr()
    async with running_standin(tmp_path, *standin_args(key_file, api, jsonrpc), env={"STANDIN_VERSION": "0.7.5"}):
        with trio.fail_after(10):
            info = await wait_for_node(api_addr=api, jsonrpc_addr=None, hero_socket=None)
    # The 0.7.5 answer has no nodeIp: the address can only have come from our own derivation.
    assert_is_vector_node(info)
    assert info.start_time is None


async def test_nothing_running_gives_none_at_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Refused connections end each probe at once: with an hour-long probe deadline this still returns
    # (the fail_after is only a guard against a hang, far beyond any busy machine's delay).
    monkeypatch.setattr(_mycelium_detect, "PROBE_DEADLINE", 3600)
    with trio.fail_after(120):
        info = await detect(
            api_addr=free_addr(), jsonrpc_addr=free_addr(), hero_socket=tmp_path / "missing" / "rpc.sock"
        )
    assert info is None


async def serve_canned(nursery: trio.Nursery, response: bytes | None) -> str:
    """A TCP server that reads a request and sends ``response`` (``None``: never answers)."""

    async def handler(stream: trio.SocketStream) -> None:
        await stream.receive_some(65536)
        if response is None:
            await trio.sleep_forever()
        await stream.send_all(response)
        await stream.aclose()

    listeners = await nursery.start(partial(trio.serve_tcp, handler, 0, host="127.0.0.1"))
    port = listeners[0].socket.getsockname()[1]
    return f"127.0.0.1:{port}"


async def test_a_silent_port_does_not_hang_detect(
    tmp_path: Path, key_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_mycelium_detect, "PROBE_DEADLINE", 0.3)
    api, jsonrpc = free_addr(), free_addr()
    async with running_standin(tmp_path, *standin_args(key_file, api, jsonrpc)), trio.open_nursery() as nursery:
        silent = await serve_canned(nursery, None)
        with trio.fail_after(10):
            await wait_for_node(api_addr=api, jsonrpc_addr=None, hero_socket=None)
        start = trio.current_time()
        info = await detect(api_addr=silent, jsonrpc_addr=jsonrpc, hero_socket=None)
        waited = trio.current_time() - start
        nursery.cancel_scope.cancel()
    assert info is not None and info.api_kind == "jsonrpc"  # moved on to the next place
    assert waited >= 0.3  # it gave the silent port its deadline (the lower bound holds on any machine)


@pytest.mark.parametrize(
    "response",
    [
        b'HTTP/1.1 200 OK\r\nContent-Length: 12\r\nContent-Type: application/json\r\n\r\n{"hello": 1}',
        b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n",
        b"SSH-2.0-OpenSSH_9.6\r\n",
    ],
    ids=["200-but-not-mycelium", "404", "not-http"],
)
async def test_something_else_on_the_port_is_not_a_daemon(response: bytes) -> None:
    async with trio.open_nursery() as nursery:
        other = await serve_canned(nursery, response)
        with trio.fail_after(5):
            info = await detect(api_addr=other, jsonrpc_addr=other, hero_socket=None)
        nursery.cancel_scope.cancel()
    assert info is None
