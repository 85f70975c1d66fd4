"""Start-up, sockets and shutdown of ``hero-assistance server``, as an operator (and hero_proc) sees them."""

from __future__ import annotations

import grp
import os
import signal
import socket
import sqlite3
import stat
import subprocess
import sys

import pytest
import trio

from ._server_fixtures import (
    READY,
    Http,
    ProjectDirs,
    ServerProcess,
    http_unix,
    project_dirs,
    running_server,
    sse,
    websocket,
)


def run_to_exit(dirs: ProjectDirs, *args: str, env: dict[str, str] | None = None) -> ServerProcess:
    """Start a server that is expected to fail at start-up; wait for its exit."""
    server = ServerProcess(dirs, *args, env=env).start()
    server.wait_exit_sync()
    return server


def assert_one_line_error(server: ServerProcess, code: int, *words: str) -> None:
    assert server.proc is not None and server.proc.returncode == code, server.log
    assert "Traceback" not in server.log
    errors = server.errors()
    assert len(errors) == 1, errors
    assert errors[0].startswith("hero-assistance server: error: ")
    for word in words:
        assert word in errors[0]


def mode(path: os.PathLike[str]) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


async def test_sockets_are_private_to_the_servers_user_by_default() -> None:
    with running_server() as server:
        for path in (server.dirs.rpc, server.dirs.events):
            assert stat.S_ISSOCK(os.stat(path).st_mode)
            assert mode(path) == 0o600


def a_group() -> grp.struct_group:
    candidates = [g for g in grp.getgrall() if g.gr_gid != os.getgid()]
    if not candidates:
        pytest.skip("no second group on this system")
    return candidates[0]


@pytest.mark.skipif(os.geteuid() != 0, reason="chgrp to a group we are not in needs root")
async def test_a_socket_group_makes_the_sockets_group_accessible() -> None:
    group = a_group()
    with running_server("--socket-group", group.gr_name) as server:
        for path in (server.dirs.rpc, server.dirs.events):
            assert mode(path) == 0o660
            assert os.stat(path).st_gid == group.gr_gid
        async with http_unix(server.dirs.rpc) as client:
            assert (await client.request("GET", "/health")).status == 200


def test_an_unknown_socket_group_is_a_one_line_start_up_error() -> None:
    with project_dirs() as dirs:
        server = run_to_exit(dirs, "--socket-group", "no-such-group-hero")
        assert_one_line_error(server, 1, "no-such-group-hero")
        assert not dirs.rpc.exists()


async def test_stale_socket_files_of_a_dead_server_are_replaced() -> None:
    with project_dirs() as dirs:
        dirs.sockets.mkdir(parents=True)
        for path in (dirs.rpc, dirs.events):
            dead = socket.socket(socket.AF_UNIX)
            dead.bind(str(path))  # a file nobody listens on: what a kill -9 leaves behind
            dead.close()
        server = await ServerProcess(dirs).astart()
        try:
            async with http_unix(dirs.rpc) as client:
                assert (await client.request("GET", "/health")).status == 200
            async with websocket(dirs.events) as events:
                assert (await events.receive_json())["type"] == "subscribed"
        finally:
            assert await server.stop() == 0


async def test_a_socket_held_by_a_live_server_is_not_stolen() -> None:
    with running_server() as first, project_dirs() as other:
        other_data = ProjectDirs(other.root, "acme")
        second = ServerProcess(other_data, "--socket-dir", str(first.dirs.sockets))
        # the later --socket-dir wins over the helper's own: both servers point at the same sockets
        second.start()
        await second.wait_exit()
        assert_one_line_error(second, 1, "held by a running server", str(first.dirs.sockets))
        async with http_unix(first.dirs.rpc) as client:
            assert (await client.request("GET", "/health")).status == 200


async def test_of_two_servers_started_at_once_on_the_same_sockets_exactly_one_runs() -> None:
    with project_dirs() as one, project_dirs() as two:
        sockets = str(one.sockets)
        servers = [ServerProcess(dirs, "--socket-dir", sockets).start() for dirs in (one, two)]
        exited = []
        async with trio.open_nursery() as nursery:

            async def first_to_exit(server: ServerProcess) -> None:
                await server.wait_exit()
                exited.append(server)
                nursery.cancel_scope.cancel()

            for server in servers:
                nursery.start_soon(first_to_exit, server)
        [loser] = exited
        assert_one_line_error(loser, 1, "held by a running server")
        [winner] = [s for s in servers if s is not loser]
        await winner.wait_for_line(READY)
        async with http_unix(one.rpc) as client:
            assert (await client.request("GET", "/health")).status == 200
        assert await winner.stop() == 0


def test_a_path_that_is_not_a_socket_is_left_alone() -> None:
    with project_dirs() as dirs:
        dirs.sockets.mkdir(parents=True)
        dirs.rpc.write_text("precious")
        server = run_to_exit(dirs)
        assert_one_line_error(server, 1, "not a socket")
        assert dirs.rpc.read_text() == "precious"


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
async def test_a_signal_stops_the_server_cleanly_and_removes_its_sockets(signum: int) -> None:
    with project_dirs() as dirs:
        server = await ServerProcess(dirs).astart()
        server.signal(signum)
        assert await server.wait_exit() == 0
        assert not dirs.rpc.exists() and not dirs.events.exists()
        assert "Traceback" not in server.log
        assert "stopped project=acme" in server.log


async def test_a_request_in_flight_finishes_after_sigterm_and_new_ones_are_refused() -> None:
    with project_dirs() as dirs:
        server = await ServerProcess(dirs, "--grace-period", "10").astart()
        body = (
            b'{"jsonrpc":"2.0","id":1,"method":"user.enroll","params":{"email":"late@example.com","role":"customer"}}'
        )
        stream = await trio.open_unix_socket(str(dirs.rpc))
        async with stream:
            client = Http(stream)
            await client.send_head(
                "POST", "/rpc", [("content-type", "application/json"), ("content-length", str(len(body)))]
            )
            await stream.send_all(body[:20])
            start = len(server.lines)
            server.signal(signal.SIGTERM)
            await server.wait_for_line("stopping project=acme", start=start)
            await trio.sleep(0.2)
            with pytest.raises(OSError):  # no longer accepting
                await trio.open_unix_socket(str(dirs.rpc))
            await stream.send_all(body[20:])
            assert (await client.read_head()).status_code == 200
        assert await server.wait_exit() == 0
        assert "rpc method=user.enroll user=1 outcome=ok" in server.log


async def test_event_streams_are_closed_cleanly_on_stop() -> None:
    with project_dirs() as dirs:
        server = await ServerProcess(dirs).astart()
        async with websocket(dirs.events) as ws, sse(dirs.events) as stream:
            assert (await ws.receive_json())["type"] == "subscribed"
            assert (await stream.next()).data["type"] == "subscribed"
            server.signal(signal.SIGTERM)
            with trio.fail_after(5):
                assert await ws.receive_json() is None
                assert await stream.next() is None
            assert ws.close_code == 1001  # going away: the client reconnects with since
        assert await server.wait_exit() == 0
        assert "stream=websocket outcome=shutdown" in server.log


def test_a_database_from_a_newer_version_is_a_one_line_start_up_error() -> None:
    with project_dirs() as dirs:
        assert ServerProcess(dirs).start_and_wait().stop_sync() == 0
        with sqlite3.connect(dirs.data / "project.sqlite3") as db:
            db.execute("INSERT INTO schema_version (version, applied_at) VALUES (999, 'future')")
        server = run_to_exit(dirs)
        assert_one_line_error(server, 1, "newer")
        assert not dirs.rpc.exists()  # the sockets it had made are gone again


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("--project", "Bad Name"), ("invalid project name",)),
        (("--mycelium-bind", "somewhere:80"), ("auto:PORT",)),
        (("--mycelium-bind", "[not-an-address]:80"), ("IPv6",)),
        (("--smtp-url", "http://mail.example.com"), ("smtp",)),
        (("--smtp-url", "smtp://mail.example.com"), ("--smtp-from",)),
    ],
)
def test_a_bad_command_line_is_a_one_line_error(args: tuple[str, ...], words: tuple[str, ...]) -> None:
    with project_dirs() as dirs:
        server = run_to_exit(dirs, *args)
        assert_one_line_error(server, 2, *words)


def test_a_taken_overlay_port_is_a_one_line_start_up_error() -> None:
    taken = socket.socket(socket.AF_INET6)
    taken.bind(("::", 0))
    taken.listen()
    port = taken.getsockname()[1]
    try:
        with project_dirs() as dirs:
            server = run_to_exit(dirs, "--mycelium-bind", f"auto:{port}")
            assert_one_line_error(server, 1, "already in use", str(port))
            assert not dirs.rpc.exists()
    finally:
        taken.close()


def test_the_overlay_bind_comes_from_the_environment_unless_the_flag_is_given() -> None:
    env = {"HERO_ASSISTANCE_MYCELIUM_BIND": "auto:0"}
    with running_server(env=env) as server:
        assert server.wait_for_line_sync(r"ready .* overlay=auto:http://\[::\]:\d+ ")
    with running_server("--mycelium-bind", "[::1]:0", env=env) as server:
        assert server.wait_for_line_sync(r"ready .* overlay=literal:http://\[::1\]:\d+ ")


async def test_default_paths_follow_xdg_data_home_and_hero_socket_dir() -> None:
    with project_dirs("globex") as dirs:
        env = {"XDG_DATA_HOME": str(dirs.root / "xdg"), "HERO_SOCKET_DIR": str(dirs.root / "hs")}
        server = ServerProcess(dirs, env=env, explicit_dirs=False).start()
        try:
            await server.wait_for_line(READY)
            rpc = dirs.root / "hs" / "hero_assistance" / "globex" / "rpc.sock"
            assert (dirs.root / "hs" / "hero_assistance" / "globex" / "events.sock").exists()
            assert (dirs.root / "xdg" / "hero_assistance" / "globex" / "project.sqlite3").exists()
            async with http_unix(rpc) as client:
                assert (await client.request("GET", "/health")).json()["project"] == "globex"
        finally:
            assert await server.stop() == 0


async def test_dev_mode_says_so_loudly() -> None:
    with running_server("--auth-mode", "dev") as server:
        banner = "\n".join(server.errors())
        assert "DEV" in banner
        async with http_unix(server.dirs.rpc) as client:
            assert (await client.call("auth.whoami"))["auth_mode"] == "dev"
        assert "auth_mode=dev" in server.log


def test_every_option_has_help() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "hero_assistance", "server", "--help"], capture_output=True, text=True, check=True
    )
    for flag in (
        "--project",
        "--data-dir",
        "--socket-dir",
        "--mycelium-bind",
        "--auth-mode",
        "--socket-group",
        "--smtp-url",
        "--smtp-from",
        "--link-base-url",
        "--title",
        "--event-retention",
        "--heartbeat",
        "--grace-period",
    ):
        assert flag in result.stdout
    assert "HERO_ASSISTANCE_MYCELIUM_BIND" in result.stdout
