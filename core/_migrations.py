"""Ordered schema migrations. Append, never edit: a database records the last one applied.

Version 1 holds the domain tables; version 2 adds the FTS5 search index (with a backfill, so a
version-1 database with data upgrades into a searchable one); version 3 the key-value ``meta``
table used for event retention bookkeeping; version 4 rebuilds the search index with an ``audience``
column (the member ids and an ``internal`` flag as tokens) so a customer's search is one doclist
intersection instead of a scan of everyone's matches; version 5 recounts ``comment_count`` over
public comments only (internal notes must not show in what customers see of a ticket); version 6
adds ``magic_links.device_net`` (the /64 of an overlay device), what the per-device rate limit counts;
version 7 adds the indexes of the inbox's server-side queues (``ticket.list`` sorted by creation or by
priority, filtered by priority, the unassigned queue), so each page reads an index range, not every ticket.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from ._identity import device_network

V1 = """
CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    email TEXT NOT NULL COLLATE NOCASE UNIQUE,
    display_name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('customer', 'support', 'admin')),
    status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
    created_at TEXT NOT NULL
);
CREATE TABLE devices (
    key TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    label TEXT NOT NULL DEFAULT '',
    bound_at TEXT NOT NULL
);
CREATE INDEX devices_user ON devices(user_id);
CREATE TABLE magic_links (
    id INTEGER PRIMARY KEY,
    token_hash TEXT UNIQUE,
    email TEXT NOT NULL COLLATE NOCASE,
    device_key TEXT,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at TEXT
);
CREATE INDEX magic_links_email ON magic_links(email, created_at);
CREATE INDEX magic_links_device ON magic_links(device_key, created_at);
CREATE TABLE tickets (
    id INTEGER PRIMARY KEY,
    title TEXT NOT NULL,
    body TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'pending', 'resolved', 'closed')),
    priority TEXT NOT NULL DEFAULT 'normal' CHECK (priority IN ('low', 'normal', 'high', 'urgent')),
    created_by INTEGER REFERENCES users(id) ON DELETE SET NULL,
    assignee_id INTEGER REFERENCES users(id) ON DELETE SET NULL,
    tags TEXT NOT NULL DEFAULT '[]',
    archived INTEGER NOT NULL DEFAULT 0,
    comment_count INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    last_activity_at TEXT NOT NULL
);
CREATE INDEX tickets_activity ON tickets(archived, last_activity_at, id);
CREATE INDEX tickets_status ON tickets(status, archived, last_activity_at, id);
CREATE INDEX tickets_assignee ON tickets(assignee_id, last_activity_at, id);
CREATE INDEX tickets_creator ON tickets(created_by, last_activity_at, id);
CREATE TABLE members (
    ticket_id INTEGER NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    added_at TEXT NOT NULL,
    PRIMARY KEY (ticket_id, user_id)
) WITHOUT ROWID;
CREATE INDEX members_user ON members(user_id, ticket_id);
CREATE TABLE comments (
    id INTEGER PRIMARY KEY,
    ticket_id INTEGER NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,
    author_id INTEGER REFERENCES users(id) ON DELETE SET NULL,
    parent_id INTEGER REFERENCES comments(id) ON DELETE SET NULL,
    body TEXT NOT NULL,
    internal INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    edited_at TEXT
);
CREATE INDEX comments_ticket ON comments(ticket_id, id);
CREATE INDEX comments_parent ON comments(parent_id);
CREATE TABLE attachments (
    id INTEGER PRIMARY KEY,
    sha256 TEXT NOT NULL,
    filename TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size INTEGER NOT NULL,
    width INTEGER,
    height INTEGER,
    uploader_id INTEGER REFERENCES users(id) ON DELETE SET NULL,
    ticket_id INTEGER REFERENCES tickets(id) ON DELETE CASCADE,
    comment_id INTEGER REFERENCES comments(id) ON DELETE CASCADE,
    created_at TEXT NOT NULL
);
CREATE INDEX attachments_ticket ON attachments(ticket_id);
CREATE INDEX attachments_comment ON attachments(comment_id);
CREATE INDEX attachments_sha ON attachments(sha256);
CREATE INDEX attachments_pending ON attachments(created_at) WHERE ticket_id IS NULL;
CREATE TABLE presence (
    user_id INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    status TEXT NOT NULL DEFAULT 'offline',
    status_text TEXT NOT NULL DEFAULT '',
    viewing_ticket_id INTEGER,
    composing_ticket_id INTEGER,
    composing_internal INTEGER NOT NULL DEFAULT 0,
    composing_until TEXT,
    last_seen TEXT
);
CREATE TABLE audit (
    id INTEGER PRIMARY KEY,
    ticket_id INTEGER,
    actor_id INTEGER,
    action TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '{}',
    internal INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL
);
CREATE INDEX audit_ticket ON audit(ticket_id, id);
CREATE TABLE events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    type TEXT NOT NULL,
    ticket_id INTEGER,
    actor_id INTEGER,
    ts TEXT NOT NULL,
    data TEXT NOT NULL,
    internal INTEGER NOT NULL DEFAULT 0,
    subject_user_id INTEGER,
    audience TEXT
);
"""

# Tickets index under rowid -id, comments under rowid id: one table, no collisions. Triggers keep
# the index in step with every write, including cascaded deletes, inside the writer's transaction.
V2 = """
CREATE VIRTUAL TABLE search_index USING fts5(
    title, body, kind UNINDEXED, ticket_id UNINDEXED, comment_id UNINDEXED, internal UNINDEXED,
    tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TRIGGER tickets_search_insert AFTER INSERT ON tickets BEGIN
    INSERT INTO search_index (rowid, title, body, kind, ticket_id, comment_id, internal)
    VALUES (-new.id, new.title, new.body, 'ticket', new.id, NULL, 0);
END;
CREATE TRIGGER tickets_search_update AFTER UPDATE OF title, body ON tickets BEGIN
    UPDATE search_index SET title = new.title, body = new.body WHERE rowid = -new.id;
END;
CREATE TRIGGER tickets_search_delete AFTER DELETE ON tickets BEGIN
    DELETE FROM search_index WHERE rowid = -old.id;
END;
CREATE TRIGGER comments_search_insert AFTER INSERT ON comments BEGIN
    INSERT INTO search_index (rowid, title, body, kind, ticket_id, comment_id, internal)
    VALUES (new.id, '', new.body, 'comment', new.ticket_id, new.id, new.internal);
END;
CREATE TRIGGER comments_search_update AFTER UPDATE OF body, internal ON comments BEGIN
    UPDATE search_index SET body = new.body, internal = new.internal WHERE rowid = new.id;
END;
CREATE TRIGGER comments_search_delete AFTER DELETE ON comments BEGIN
    DELETE FROM search_index WHERE rowid = old.id;
END;
INSERT INTO search_index (rowid, title, body, kind, ticket_id, comment_id, internal)
    SELECT -id, title, body, 'ticket', id, NULL, 0 FROM tickets;
INSERT INTO search_index (rowid, title, body, kind, ticket_id, comment_id, internal)
    SELECT id, '', body, 'comment', ticket_id, id, internal FROM comments;
"""

V3 = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


# The audience of a document: "m<user id>" per ticket member, plus "internal" for internal notes.
_AUDIENCE_OF_TICKET = "(SELECT coalesce(group_concat('m' || user_id, ' '), '') FROM members WHERE ticket_id = {t})"

V4 = f"""
DROP TRIGGER tickets_search_insert;
DROP TRIGGER tickets_search_update;
DROP TRIGGER tickets_search_delete;
DROP TRIGGER comments_search_insert;
DROP TRIGGER comments_search_update;
DROP TRIGGER comments_search_delete;
DROP TABLE search_index;
CREATE VIRTUAL TABLE search_index USING fts5(
    title, body, audience, kind UNINDEXED, ticket_id UNINDEXED, comment_id UNINDEXED, internal UNINDEXED,
    tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TRIGGER tickets_search_insert AFTER INSERT ON tickets BEGIN
    INSERT INTO search_index (rowid, title, body, audience, kind, ticket_id, comment_id, internal)
    VALUES (-new.id, new.title, new.body, {_AUDIENCE_OF_TICKET.format(t="new.id")}, 'ticket', new.id, NULL, 0);
END;
CREATE TRIGGER tickets_search_update AFTER UPDATE OF title, body ON tickets BEGIN
    UPDATE search_index SET title = new.title, body = new.body WHERE rowid = -new.id;
END;
CREATE TRIGGER tickets_search_delete AFTER DELETE ON tickets BEGIN
    DELETE FROM search_index WHERE rowid = -old.id;
END;
CREATE TRIGGER comments_search_insert AFTER INSERT ON comments BEGIN
    INSERT INTO search_index (rowid, title, body, audience, kind, ticket_id, comment_id, internal)
    VALUES (new.id, '', new.body,
            {_AUDIENCE_OF_TICKET.format(t="new.ticket_id")} || CASE WHEN new.internal THEN ' internal' ELSE '' END,
            'comment', new.ticket_id, new.id, new.internal);
END;
CREATE TRIGGER comments_search_update AFTER UPDATE OF body ON comments BEGIN
    UPDATE search_index SET body = new.body WHERE rowid = new.id;
END;
CREATE TRIGGER comments_search_delete AFTER DELETE ON comments BEGIN
    DELETE FROM search_index WHERE rowid = old.id;
END;
CREATE TRIGGER members_search_insert AFTER INSERT ON members BEGIN
    UPDATE search_index
    SET audience = {_AUDIENCE_OF_TICKET.format(t="new.ticket_id")} || CASE WHEN internal THEN ' internal' ELSE '' END
    WHERE rowid = -new.ticket_id OR rowid IN (SELECT id FROM comments WHERE ticket_id = new.ticket_id);
END;
CREATE TRIGGER members_search_delete AFTER DELETE ON members BEGIN
    UPDATE search_index
    SET audience = {_AUDIENCE_OF_TICKET.format(t="old.ticket_id")} || CASE WHEN internal THEN ' internal' ELSE '' END
    WHERE rowid = -old.ticket_id OR rowid IN (SELECT id FROM comments WHERE ticket_id = old.ticket_id);
END;
INSERT INTO search_index (rowid, title, body, audience, kind, ticket_id, comment_id, internal)
    SELECT -id, title, body, {_AUDIENCE_OF_TICKET.format(t="tickets.id")}, 'ticket', id, NULL, 0 FROM tickets;
INSERT INTO search_index (rowid, title, body, audience, kind, ticket_id, comment_id, internal)
    SELECT id, '', body,
           {_AUDIENCE_OF_TICKET.format(t="comments.ticket_id")} || CASE WHEN internal THEN ' internal' ELSE '' END,
           'comment', ticket_id, id, internal FROM comments;
"""


V5 = """
UPDATE tickets SET comment_count = (SELECT count(*) FROM comments c WHERE c.ticket_id = tickets.id AND c.internal = 0);
"""


# The priority expression must match ``PRIORITY_RANK`` in _tickets.py character for character (with
# the table alias dropped), or SQLite will not use the index for the priority sort.
V7 = """
CREATE INDEX tickets_created ON tickets(archived, created_at, id);
CREATE INDEX tickets_priority_rank ON tickets(
    archived,
    (CASE priority WHEN 'urgent' THEN 3 WHEN 'high' THEN 2 WHEN 'normal' THEN 1 ELSE 0 END),
    last_activity_at,
    id
);
CREATE INDEX tickets_priority ON tickets(priority, archived, last_activity_at, id);
CREATE INDEX tickets_unassigned ON tickets(archived, last_activity_at, id) WHERE assignee_id IS NULL;
"""


def _v6(conn: sqlite3.Connection) -> None:
    conn.execute("ALTER TABLE magic_links ADD COLUMN device_net TEXT")
    conn.execute("CREATE INDEX magic_links_device_net ON magic_links(device_net, created_at)")
    for row_id, key in conn.execute("SELECT id, device_key FROM magic_links WHERE device_key IS NOT NULL").fetchall():
        conn.execute("UPDATE magic_links SET device_net = ? WHERE id = ?", (device_network(key), row_id))


def _script(sql: str) -> Callable[[sqlite3.Connection], None]:
    def apply(conn: sqlite3.Connection) -> None:
        # executescript would COMMIT the caller's transaction: run statement by statement instead.
        for statement in _split(sql):
            conn.execute(statement)

    return apply


def _split(sql: str) -> list[str]:
    """Split a script on statement boundaries, keeping trigger bodies whole."""
    statements: list[str] = []
    current: list[str] = []
    for line in sql.strip().splitlines():
        current.append(line)
        candidate = "\n".join(current)
        if sqlite3.complete_statement(candidate):
            statements.append(candidate)
            current = []
    if "".join(current).strip():
        raise ValueError("incomplete SQL statement in migration")
    return statements


MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [
    _script(V1),
    _script(V2),
    _script(V3),
    _script(V4),
    _script(V5),
    _v6,
    _script(V7),
]
"""Index i holds the step from schema version i to i + 1."""

LATEST_VERSION = len(MIGRATIONS)
