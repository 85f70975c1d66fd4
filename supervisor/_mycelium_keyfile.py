"""Our own daemon's on-disk state: the data directory, the key file and an empty config file.

The key file is the node's identity: its overlay address is derived from it, and customers' project
subscriptions point at that address. So it is created exactly once, even when two first runs race
(say ``hero-assistance ui`` and ``hero-assistance server`` started together on a fresh machine):

* The daemon would write a key itself if none exists, but with ``O_TRUNC`` and no exclusion, so two
  racing daemons can each start with a different key and one of them ends up orphaned. We write it.
* ``O_CREAT|O_EXCL`` on the final name alone is not enough either: the loser of the race sees the
  file exist while the winner has not yet written its 32 bytes, and reads an empty key. So the
  32 bytes go to a private temporary file first (``O_EXCL``, mode 0600, fsynced), which is then
  published with ``link()`` — atomic, and failing with ``EEXIST`` if another run published first.
  Either way every run then reads the one complete key that won.

These functions block (small local file I/O); async callers run them in ``trio.to_thread``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import stat
import time
from pathlib import Path

from ._mycelium_address import KEY_SIZE
from ._mycelium_errors import MyceliumStartError

logger = logging.getLogger("hero_assistance.supervisor.mycelium")

_CONFIG_TEXT = (
    "# Intentionally empty. hero_assistance passes every setting to its own mycelium daemon on the\n"
    "# command line; giving the daemon this file (-c) keeps it from merging a system daemon's\n"
    "# ~/.config/mycelium/mycelium.toml into ours.\n"
)


def prepare_state(data_dir: Path, key_path: Path, config_path: Path) -> bytes:
    """Create the directories, the key file (once) and the config file; return the 32-byte secret."""
    for directory in {data_dir, key_path.parent, config_path.parent}:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    if not key_path.exists():
        _create_key_file(key_path)
    _create_config_file(config_path)
    return read_key_file(key_path)


def _create_key_file(path: Path) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(secrets.token_bytes(KEY_SIZE))
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            logger.debug("key file %s was created by a concurrent run; using that one", path)
            return
        except OSError as exc:
            # A filesystem without hard links: fall back to O_EXCL on the final name. A racing
            # reader may then briefly see a short file, which read_key_file() waits out.
            logger.debug("cannot link %s (%s); creating the key file in place", path, exc)
            _create_key_file_in_place(path)
            return
        _fsync_directory(path.parent)
        logger.info("created mycelium key file %s", path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def _create_key_file_in_place(path: Path) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    except FileExistsError:
        return
    with os.fdopen(fd, "wb") as f:
        f.write(secrets.token_bytes(KEY_SIZE))
        f.flush()
        os.fsync(f.fileno())


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _create_config_file(path: Path) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    except FileExistsError:
        return  # ours from an earlier run, or the operator's on purpose: either way, keep it
    with os.fdopen(fd, "w") as f:
        f.write(_CONFIG_TEXT)


def read_key_file(path: Path) -> bytes:
    """The secret in ``path``: its first 32 bytes, as the daemon reads them (``read_exact``)."""
    data = b""
    # Only the no-hard-link fallback above can expose a file still being written; give it a moment.
    for _ in range(50):
        data = path.read_bytes()
        if len(data) >= KEY_SIZE:
            break
        time.sleep(0.02)
    else:
        raise MyceliumStartError(
            f"key file {path} holds {len(data)} bytes, a mycelium key is {KEY_SIZE}: "
            "restore it from a backup, or move it away to start with a new node identity"
        )
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        logger.warning("key file %s is readable by others (mode %o); consider chmod 600", path, mode)
    return data[:KEY_SIZE]
