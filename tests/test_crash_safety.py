"""Killing the process in the middle of a write load leaves a consistent database: every
acknowledged comment is there, with its event, its audit row and its search entry, and nothing
half-written."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from hero_assistance.core import Project, ProjectConfig

WRITER = textwrap.dedent(
    """
    import sys, trio
    from hero_assistance.core import Project, ProjectConfig, Caller

    async def main():
        project = Project(ProjectConfig(name="acme", data_dir=sys.argv[1]))
        await project.call("user.enroll", email="c@example.com", role="customer")
        ticket = await project.call("ticket.create", Caller.from_user("c@example.com"), title="load", body="x")
        print("ticket", ticket["id"], flush=True)
        i = 0
        while True:
            comment = await project.call("comment.create", ticket_id=ticket["id"], body=f"comment {i} " + "y" * 500,
                                         internal=bool(i % 3 == 0))
            print("ack", comment["id"], flush=True)
            i += 1

    trio.run(main)
    """
)


def test_kill_9_during_writes_keeps_every_acknowledged_write_whole(tmp_path: Path) -> None:
    acked: list[int] = []
    with subprocess.Popen(  # leaving the block closes the pipe and reaps the child
        [sys.executable, "-c", WRITER, str(tmp_path)], stdout=subprocess.PIPE, text=True, bufsize=1
    ) as proc:
        assert proc.stdout is not None
        deadline = time.monotonic() + 60
        while len(acked) < 300 and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if line.startswith("ack"):
                acked.append(int(line.split()[1]))
        os.kill(proc.pid, signal.SIGKILL)
    assert len(acked) >= 300

    project = Project(ProjectConfig(name="acme", data_dir=tmp_path))
    try:
        storage = project.storage
        assert storage.scalar("PRAGMA integrity_check") == "ok"
        assert storage.scalar("PRAGMA foreign_key_check") is None
        comment_ids = {r[0] for r in storage.rows("SELECT id FROM comments")}
        assert set(acked) <= comment_ids, "an acknowledged comment was lost"
        event_ids = {
            r[0]
            for r in storage.rows(
                "SELECT json_extract(data, '$.comment.id') FROM events WHERE type = 'comment.created'"
            )
        }
        audit_ids = {
            r[0]
            for r in storage.rows(
                "SELECT json_extract(detail, '$.comment_id') FROM audit WHERE action = 'comment.created'"
            )
        }
        indexed = {r[0] for r in storage.rows("SELECT comment_id FROM search_index WHERE kind = 'comment'")}
        assert comment_ids == event_ids == audit_ids == indexed, "a comment without its event, audit or index row"
        count = storage.scalar("SELECT comment_count FROM tickets")
        assert count == storage.scalar("SELECT count(*) FROM comments WHERE internal = 0")
        seqs = [r[0] for r in storage.rows("SELECT seq FROM events ORDER BY seq")]
        assert seqs == sorted(set(seqs))
    finally:
        project.close()
