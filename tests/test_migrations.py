"""A database written by an earlier schema version opens and upgrades; a newer one is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from hero_assistance.core import DatabaseTooNew, Project, ProjectConfig, Storage
from hero_assistance.core._migrations import LATEST_VERSION
from hero_assistance.core._project import DATABASE_FILE


def make_version_1_database(path: Path) -> None:
    """What a version-1 server left behind: tables and data, no search index yet."""
    old = Storage(path, target_version=1)
    assert old.schema_version() == 1
    stamp = "2025-06-01T10:00:00.000000Z"
    with old.write():
        old.execute(
            "INSERT INTO users (id, email, display_name, role, created_at) VALUES (10, 'old@example.com', 'Old', "
            "'customer', ?)",
            (stamp,),
        )
        old.execute(
            "INSERT INTO tickets (id, title, body, created_by, created_at, updated_at, last_activity_at) "
            "VALUES (1, 'Legacy fax machine jammed', 'since the upgrade', 10, ?, ?, ?)",
            (stamp, stamp, stamp),
        )
        old.execute("INSERT INTO members (ticket_id, user_id, added_at) VALUES (1, 10, ?)", (stamp,))
        old.execute(
            "INSERT INTO comments (ticket_id, author_id, body, created_at) VALUES (1, 10, 'toner everywhere', ?)",
            (stamp,),
        )
    old.close()


async def test_an_older_database_upgrades_and_keeps_its_data(tmp_path: Path) -> None:
    make_version_1_database(tmp_path / DATABASE_FILE)
    project = Project(ProjectConfig(name="acme", data_dir=tmp_path))
    try:
        assert project.storage.schema_version() == LATEST_VERSION
        ticket = await project.call("ticket.get", id=1)
        assert ticket["title"] == "Legacy fax machine jammed"
        hits = await project.call("search.query", q="toner")
        assert [(h["kind"], h["ticket_id"]) for h in hits["items"]] == [("comment", 1)]
        hits = await project.call("search.query", q="fax")
        assert [(h["kind"], h["ticket_id"]) for h in hits["items"]] == [("ticket", 1)]
        # New writes keep the upgraded index in step.
        await project.call("comment.create", ticket_id=1, body="replaced the drum")
        assert (await project.call("search.query", q="drum"))["items"]
    finally:
        project.close()


def test_a_newer_database_is_refused_with_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / DATABASE_FILE
    Storage(path).close()
    future = Storage(path)
    with future.write():
        future.execute("INSERT INTO schema_version (version, applied_at) VALUES (?, 'later')", (LATEST_VERSION + 1,))
    future.close()
    with pytest.raises(DatabaseTooNew, match=rf"schema version {LATEST_VERSION + 1}.*upgrade hero-assistance"):
        Project(ProjectConfig(name="acme", data_dir=tmp_path))


def test_the_database_is_wal_with_foreign_keys(tmp_path: Path) -> None:
    storage = Storage(tmp_path / "x.sqlite3")
    assert storage.scalar("PRAGMA journal_mode") == "wal"
    assert storage.scalar("PRAGMA foreign_keys") == 1
    storage.close()


def test_emails_are_unique_regardless_of_case(tmp_path: Path) -> None:
    import sqlite3

    storage = Storage(tmp_path / "x.sqlite3")
    with storage.write():
        storage.execute(
            "INSERT INTO users (email, display_name, role, created_at) VALUES ('A@x.io', 'a', 'customer', 't')"
        )
    with pytest.raises(sqlite3.IntegrityError), storage.write():
        storage.execute(
            "INSERT INTO users (email, display_name, role, created_at) VALUES ('a@X.IO', 'b', 'customer', 't')"
        )
    storage.close()
