"""The browser tests' own set-up: Chromium is installed when missing, and CI never goes green without it."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from . import _ui_fixtures


def broken_apt_get(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No Chromium where the fixture looks, and an ``apt-get`` on PATH that fails like one without a network."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    apt = bin_dir / "apt-get"
    apt.write_text('#!/bin/sh\necho "$*" >> "$(dirname "$0")/calls"\necho \'E: Unable to fetch\' >&2\nexit 100\n')
    apt.chmod(apt.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setattr(_ui_fixtures, "CHROMIUM", str(tmp_path / "no-chromium"))
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    monkeypatch.setattr(_ui_fixtures.os, "geteuid", lambda: 0)  # as root: apt-get itself, no sudo
    return bin_dir / "calls"


def test_a_missing_chromium_is_installed_with_apt_get(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = broken_apt_get(tmp_path, monkeypatch)
    with pytest.raises(_ui_fixtures.ChromiumUnavailable, match="Unable to fetch"):
        _ui_fixtures.install_chromium()
    assert calls.read_text().splitlines() == ["update"]


@pytest.mark.parametrize("ci", ["true", "1"])
def test_in_ci_a_browser_test_fails_without_chromium(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ci: str) -> None:
    broken_apt_get(tmp_path, monkeypatch)
    monkeypatch.setenv("CI", ci)
    with pytest.raises(pytest.fail.Exception, match="CI needs the browser tests"):
        _ui_fixtures.ensure_chromium()


def test_elsewhere_a_browser_test_is_skipped_without_chromium(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    broken_apt_get(tmp_path, monkeypatch)
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="Unable to fetch"):
        _ui_fixtures.ensure_chromium()
