"""The SQLite file: one connection, WAL, foreign keys, versioned migrations, explicit transactions.

Trio runs every service on one thread and each write is synchronous from ``BEGIN`` to ``COMMIT``,
so there is exactly one writer and no await can interleave two transactions. A cancellation can
only land between writes, never inside one.
"""

from __future__ import annotations

import errno
import logging
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlite_utils

from ._errors import HeroAssistanceError, Unavailable
from ._migrations import LATEST_VERSION, MIGRATIONS

log = logging.getLogger(__name__)


# How long a client is told to wait when the disk is full or read-only: an operator has to act,
# so retrying sooner only adds load.
RETRY_AFTER_S = 30
_UNAVAILABLE_SQLITE = ("database or disk is full", "readonly database", "disk i/o error", "unable to open database")
_UNAVAILABLE_ERRNO = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO})


def as_unavailable(exc: BaseException) -> Unavailable | None:
    """The -32008 for a write the disk cannot take (full, quota, read-only), else ``None``.

    SQLite reports these as ``OperationalError`` (``SQLITE_FULL``, ``SQLITE_READONLY``, ``SQLITE_IOERR``);
    the attachment store as ``OSError`` with ``ENOSPC`` / ``EDQUOT`` / ``EROFS``.
    """
    if isinstance(exc, sqlite3.Error) and not isinstance(exc, sqlite3.IntegrityError):
        text = str(exc).lower()
        if any(marker in text for marker in _UNAVAILABLE_SQLITE):
            return Unavailable.after(RETRY_AFTER_S, "the database cannot take a write (disk full or read-only)")
    if isinstance(exc, OSError) and exc.errno in _UNAVAILABLE_ERRNO:
        return Unavailable.after(RETRY_AFTER_S, "the attachment store cannot take a write (disk full or read-only)")
    return None


class DatabaseTooNew(HeroAssistanceError):
    """The database was written by a newer version of hero_assistance than this one."""


class Storage:
    """A project's database. Services read and write through it; nothing else holds a connection."""

    def __init__(self, path: Path | str, *, target_version: int = LATEST_VERSION) -> None:
        self.path = Path(path) if str(path) != ":memory:" else None
        self.conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False, cached_statements=256)
        self.conn.row_factory = sqlite3.Row
        self.conn.execute("PRAGMA foreign_keys = ON")
        self.conn.execute("PRAGMA journal_mode = WAL")
        # NORMAL in WAL mode keeps every commit atomic and consistent across a process crash
        # (only a power loss may roll back the last commits), at a fraction of FULL's fsyncs.
        self.conn.execute("PRAGMA synchronous = NORMAL")
        self.conn.execute("PRAGMA busy_timeout = 5000")
        self.db = sqlite_utils.Database(self.conn)
        self._in_transaction = False
        self.migrate(target_version)

    # -- schema ---------------------------------------------------------------------------------
    def schema_version(self) -> int:
        if not self.db["schema_version"].exists():
            return 0
        row = self.conn.execute("SELECT max(version) FROM schema_version").fetchone()
        return int(row[0] or 0)

    def migrate(self, target: int = LATEST_VERSION) -> None:
        current = self.schema_version()
        if current > LATEST_VERSION:
            raise DatabaseTooNew(
                f"database {self.path} has schema version {current}, newer than this program's "
                f"{LATEST_VERSION}: upgrade hero-assistance (or restore a backup made by this version)"
            )
        if current >= target:
            return
        with self.write():
            if not self.db["schema_version"].exists():
                self.conn.execute("CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)")
            for version in range(current, target):
                log.info("migrating %s to schema version %d", self.path, version + 1)
                MIGRATIONS[version](self.conn)
                self.conn.execute(
                    "INSERT INTO schema_version (version, applied_at) VALUES (?, datetime('now'))",
                    (version + 1,),
                )

    # -- access ---------------------------------------------------------------------------------
    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One transaction: everything inside commits together or not at all.

        A disk that cannot take the write (full, read-only) raises ``Unavailable`` (-32008) after
        the transaction is rolled back, so the connection is ready for the next write once space is back.
        """
        if self._in_transaction:
            raise RuntimeError("nested write transaction")
        self._in_transaction = True
        try:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
                self.conn.execute("COMMIT")
            except BaseException:
                self._rollback()
                raise
        except (sqlite3.Error, OSError) as exc:
            unavailable = as_unavailable(exc)
            if unavailable is None:
                raise
            log.warning("write refused: %s (%s)", unavailable.message, exc)
            raise unavailable from None
        finally:
            self._in_transaction = False

    def _rollback(self) -> None:
        # After SQLITE_FULL SQLite may already have rolled back on its own; a failed COMMIT leaves
        # the transaction open. Either way the connection must leave here outside a transaction.
        if self.conn.in_transaction:
            try:
                self.conn.execute("ROLLBACK")
            except sqlite3.Error as exc:
                log.warning("rollback failed: %s", exc)

    @property
    def in_transaction(self) -> bool:
        return self._in_transaction

    def rows(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[sqlite3.Row]:
        return self.conn.execute(sql, params).fetchall()

    def row(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> sqlite3.Row | None:
        result: sqlite3.Row | None = self.conn.execute(sql, params).fetchone()
        return result

    def scalar(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> Any:
        found = self.conn.execute(sql, params).fetchone()
        return None if found is None else found[0]

    def execute(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> sqlite3.Cursor:
        if not self._in_transaction:
            raise RuntimeError("writes must run inside Storage.write()")
        return self.conn.execute(sql, params)

    def insert(self, table: str, values: dict[str, Any]) -> int:
        columns = ", ".join(values)
        marks = ", ".join("?" for _ in values)
        cursor = self.execute(f"INSERT INTO {table} ({columns}) VALUES ({marks})", list(values.values()))
        return int(cursor.lastrowid or 0)

    def backup(self, destination: Path | str) -> None:
        """An online, consistent copy (SQLite's backup API), safe while the server runs."""
        target = sqlite3.connect(str(destination))
        try:
            self.conn.backup(target)
        finally:
            target.close()

    def close(self) -> None:
        self.conn.close()
