"""The stand-in daemon honours the real daemon's interface (docs/mycelium-daemon.md), or our tests prove nothing."""

from __future__ import annotations

import json
import signal
import stat
import subprocess
import sys
import urllib.parse
from pathlib import Path

import pytest
import trio

from hero_assistance.supervisor import _http
from tests._mycelium_fixtures import STANDIN, child_env, free_addr, free_port, running_standin, wait_for_node


def standin(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(STANDIN), *args], capture_output=True, text=True, env=env, check=False, timeout=30
    )


def node_args(tmp_path: Path, api: str, jsonrpc: str) -> list[str]:
    return [
        "-k", str(tmp_path / "key.bin"), "-c", "/dev/null", "--no-tun", "--disable-quic",
        "--disable-peer-discovery", "-t", str(free_port()), "--api-addr", api, "--jsonrpc-addr", jsonrpc,
    ]  # fmt: skip


def test_version() -> None:
    assert standin("--version").stdout.strip() == "mycelium 0.7.10"


def test_key_file_handling_matches_the_daemon(tmp_path: Path) -> None:
    # An explicit -k whose directory is missing: no directory is created, exit 1.
    missing = tmp_path / "missing" / "key.bin"
    result = standin("-k", str(missing), "generate-keys")
    assert result.returncode == 1 and not missing.parent.exists()
    # A missing key is written, 32 raw bytes, mode 0640; an existing one is kept without --force.
    key = tmp_path / "key.bin"
    assert standin("-k", str(key), "generate-keys").returncode == 0
    first = key.read_bytes()
    assert len(first) == 32 and stat.S_IMODE(key.stat().st_mode) == 0o640
    assert "Refusing" in standin("-k", str(key), "generate-keys").stderr
    assert key.read_bytes() == first
    assert standin("generate-keys", "--force", "-k", str(key)).returncode == 0  # -k is global
    assert key.read_bytes() != first
    inspect = json.loads(standin("-k", str(key), "inspect", "--json").stdout)
    assert set(inspect) == {"publicKey", "address"}
    # A short key file is an error, as read_exact makes it.
    key.write_bytes(b"short")
    assert standin("-k", str(key), "inspect").returncode == 1


def test_default_key_file_lives_in_the_data_home(tmp_path: Path) -> None:
    # Without -k the key is $XDG_DATA_HOME/mycelium/priv_key.bin (else under $HOME/.local/share), its folder created;
    # nothing else is written, and a subcommand's log lines stay off stdout, which carries its answer alone.
    home, data = tmp_path / "home", tmp_path / "data"
    home.mkdir()
    env = {**child_env(), "HOME": str(home), "XDG_DATA_HOME": str(data)}
    created = standin("generate-keys", env=env)
    assert created.returncode == 0 and created.stdout == "" and "create it" in created.stderr
    assert len((data / "mycelium" / "priv_key.bin").read_bytes()) == 32
    assert list(home.iterdir()) == []
    shown = json.loads(standin("inspect", "--json", env=env).stdout)
    assert set(shown) == {"publicKey", "address"}
    assert standin("generate-keys", env={**env, "XDG_DATA_HOME": ""}).returncode == 0
    assert (home / ".local" / "share" / "mycelium" / "priv_key.bin").exists()


def test_tun_creation_failure_exits_1(tmp_path: Path) -> None:
    args = node_args(tmp_path, free_addr(), free_addr())
    args.remove("--no-tun")
    result = standin(*args, env=child_env({"STANDIN_TUN_FAIL": "1"}))
    assert result.returncode == 1
    assert "Could not create tun device named mycelium" in result.stdout


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
async def test_signals_end_it_with_status_0(tmp_path: Path, signum: signal.Signals) -> None:
    api = free_addr()
    async with running_standin(tmp_path, *node_args(tmp_path, api, free_addr())) as process:
        with trio.fail_after(10):
            await wait_for_node(api_addr=api, jsonrpc_addr=None, hero_socket=None)
        process.send_signal(signum)
        with trio.fail_after(10):
            assert await process.wait() == 0


async def test_rest_and_json_rpc_speak_the_real_shapes(tmp_path: Path) -> None:
    api, jsonrpc = free_addr(), free_addr()
    args = [*node_args(tmp_path, api, jsonrpc), "--peers", "tcp://1.2.3.4:9651"]
    async with running_standin(tmp_path, *args):
        with trio.fail_after(10):
            await wait_for_node(api_addr=api, jsonrpc_addr=None, hero_socket=None)
        admin = (await _http.request(api, "GET", "/api/v1/admin")).json()
        assert set(admin) == {"nodeSubnet", "nodeIp", "nodePubkey", "nodeStartTime"}
        (peer,) = (await _http.request(api, "GET", "/api/v1/admin/peers")).json()
        assert peer["endpoint"] == {"proto": "tcp", "addr": {"socket": "1.2.3.4:9651"}}
        assert {"type", "connectionState", "txBytes", "rxBytes"} <= set(peer)
        add = {"endpoint": "quic://[2a01::2]:9651"}
        assert (await _http.request(api, "POST", "/api/v1/admin/peers", json_body=add)).status == 204
        assert (await _http.request(api, "POST", "/api/v1/admin/peers", json_body=add)).status == 409
        bad = {"endpoint": "carrier-pigeon://x"}
        assert (await _http.request(api, "POST", "/api/v1/admin/peers", json_body=bad)).status == 400
        quoted = urllib.parse.quote("quic://[2a01::2]:9651", safe="")
        assert (await _http.request(api, "DELETE", f"/api/v1/admin/peers/{quoted}")).status == 204
        assert (await _http.request(api, "DELETE", f"/api/v1/admin/peers/{quoted}")).status == 404
        assert (await _http.request(api, "GET", "/api/v1/pubkey/400::1")).status == 404

        async def rpc(method: str, *params: str) -> dict[str, object]:
            call = {"jsonrpc": "2.0", "id": 7, "method": method, "params": list(params)}
            return (await _http.request(jsonrpc, "POST", "/", json_body=call)).json()  # type: ignore[no-any-return]

        assert (await rpc("getInfo"))["result"] == admin
        assert len((await rpc("getPeers"))["result"]) == 1  # type: ignore[arg-type]
        assert (await rpc("getPublicKeyFromIp", "400::1"))["error"]["code"] == -32008  # type: ignore[index]
        assert (await rpc("noSuchMethod"))["error"]["code"] == -32601  # type: ignore[index]


async def test_old_versions_omit_the_newer_fields(tmp_path: Path) -> None:
    api = free_addr()
    async with running_standin(
        tmp_path, *node_args(tmp_path, api, free_addr()), "--peers", "tcp://1.2.3.4:9651",
        env={"STANDIN_VERSION": "0.7.5"},
    ):  # fmt: skip
        with trio.fail_after(10):
            await wait_for_node(api_addr=api, jsonrpc_addr=None, hero_socket=None)
        assert set((await _http.request(api, "GET", "/api/v1/admin")).json()) == {"nodeSubnet", "nodePubkey"}
        (peer,) = (await _http.request(api, "GET", "/api/v1/admin/peers")).json()
        assert peer["endpoint"] == {"proto": "tcp", "socketAddr": "1.2.3.4:9651"}
