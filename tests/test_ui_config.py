"""The ui's config file: what the operator writes is read back exactly, what the app writes is valid TOML,
and mistakes are one-line messages naming the problem."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from hero_assistance.ui import ConfigError, UiConfig, load_config
from hero_assistance.ui._config import parse_listen, parse_project_arg, render_config, save_config


def test_written_config_reads_back_the_same(tmp_path: Path) -> None:
    config = UiConfig(
        projects={
            "acme": "unix:/run/hero/acme/rpc.sock",
            "globex": "http://[4ab:1::1]:8443",
            "odd": 'unix:/tmp/a "b"\\c',
        },
        listen="127.0.0.1:9000",
        socket_path=tmp_path / "app.sock",
        config_file=tmp_path / "sub" / "ui.toml",
        origins=["https://help.example.com"],
        gateway=True,
    )
    save_config(config)
    assert tomllib.loads(render_config(config))["projects"]["odd"] == 'unix:/tmp/a "b"\\c'
    again = load_config(tmp_path / "sub" / "ui.toml")
    assert again.projects == config.projects
    assert list(again.projects) == ["acme", "globex", "odd"]  # the operator's order is kept
    assert (again.listen, again.socket_path, again.origins, again.gateway) == (
        "127.0.0.1:9000",
        tmp_path / "app.sock",
        ["https://help.example.com"],
        True,
    )
    assert not list((tmp_path / "sub").glob(".*.tmp"))  # written by rename, nothing left behind


def test_a_missing_file_is_an_empty_config(tmp_path: Path) -> None:
    config = load_config(tmp_path / "nope.toml")
    assert config.projects == {} and config.config_file == tmp_path / "nope.toml"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[projects]\nacme = 5\n", "must map names to URL strings"),
        ('[projects]\n"Not Valid" = "unix:/x"\n', "invalid project name"),
        ('[projects]\nacme = "unix:relative/rpc.sock"\n', "must be absolute"),
        ('[projects]\nacme = "ftp://host"\n', "expected unix:/path/rpc.sock or http://HOST:PORT"),
        ('listen = "nowhere"\n', "expected HOST:PORT"),
        ("gateway = 1\n", "gateway must be true or false"),
        ("this is = not toml [", "ui.toml"),
    ],
)
def test_mistakes_are_named(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "ui.toml").write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_config(tmp_path / "ui.toml")


def test_command_line_forms() -> None:
    assert parse_project_arg("acme=unix:/run/acme/rpc.sock").url == "unix:/run/acme/rpc.sock"
    assert parse_project_arg("globex=http://[4ab::1]:8443/").url == "http://[4ab::1]:8443"
    assert parse_project_arg("globex=http://[4ab::1]:8443").transport == "tcp"
    assert parse_listen("[::1]:8080") == ("::1", 8080)
    with pytest.raises(ConfigError, match="expected NAME=URL"):
        parse_project_arg("acme")
    with pytest.raises(ConfigError, match="give only scheme, host and port"):
        parse_project_arg("acme=http://host:1/rpc?x=1")
