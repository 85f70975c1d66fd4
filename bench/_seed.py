"""Seeded projects for the wire benchmarks, generated once per work directory and copied per run.

``rpc``, ``fanout`` and ``memory`` measure a server holding a realistic small project (a few thousand
tickets, ten comments each, hundreds of customers, a support team), generated with the storage
benchmark's generator so the data looks alike. Each run gets a fresh copy, so a write benchmark
never changes what the next one reads. ``merge`` needs many stored events instead: a small project
whose event table holds a few thousand ``comment.created`` events, written through the real
``comment.create`` so each row is exactly what the server stores.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import trio

from hero_assistance.core import Caller, Project, ProjectConfig

from .storage import generate

PROJECT = "bench"
DATABASE = "project.sqlite3"
#: The identity every load uses: a support agent (sees every ticket and receives every event).
AGENT = "agent0@example.com"
TICKETS = 3_000
COMMENTS = 30_000
CUSTOMERS = 500
AGENTS = 20


def _complete(data_dir: Path, check_sql: str, expected: int) -> bool:
    if not (data_dir / DATABASE).exists():
        return False
    project = Project(ProjectConfig(name=PROJECT, data_dir=data_dir))
    try:
        return bool(project.storage.scalar(check_sql) == expected)
    finally:
        project.close()


def _reset(data_dir: Path) -> Project:
    for stale in data_dir.glob(f"{DATABASE}*"):
        stale.unlink()
    return Project(ProjectConfig(name=PROJECT, data_dir=data_dir))


def seeded_template(workdir: Path) -> Path:
    """The seeded project's data dir (generated on first use): 3,000 tickets, 30,000 comments."""
    template = workdir / "seed-project"
    if not _complete(template, "SELECT count(*) FROM tickets", TICKETS):
        project = _reset(template)
        try:
            generate(project, TICKETS, COMMENTS, customers=CUSTOMERS, agents=AGENTS)
        finally:
            project.close()  # the last connection's close checkpoints the WAL into the main file
    return template


def events_template(workdir: Path, events: int) -> Path:
    """A small project whose event table holds ``events`` ``comment.created`` events (seq 1..N)."""
    template = workdir / f"seed-events-{events}"
    if not _complete(template, "SELECT count(*) FROM events WHERE type = 'comment.created'", events):
        project = _reset(template)
        try:
            generate(project, 1, 0, customers=1, agents=1)
            trio.run(_write_comments, project, events)
        finally:
            project.close()
    return template


async def _write_comments(project: Project, events: int) -> None:
    agent = Caller.from_user(AGENT)
    for n in range(events):
        await project.call("comment.create", agent, ticket_id=1, body=f"reply number {n}: the toner is back in stock")


def fresh_copy(template: Path, data_dir: Path) -> Path:
    """A private copy of a seeded project for one server run."""
    data_dir.mkdir(parents=True, exist_ok=True)
    for stale in data_dir.glob(f"{DATABASE}*"):
        stale.unlink()
    for part in template.glob(f"{DATABASE}*"):
        shutil.copyfile(part, data_dir / part.name)
    return data_dir


async def sample_answer(template: Path, method: str, **params: Any) -> bytes:
    """The JSON-RPC response body the server would send for ``method`` as the agent (computed in-process)."""
    project = Project(ProjectConfig(name=PROJECT, data_dir=template))
    try:
        result = await project.call(method, Caller.from_user(AGENT), **params)
    finally:
        project.close()
    return json.dumps({"jsonrpc": "2.0", "id": 1, "result": result}, separators=(",", ":")).encode()
