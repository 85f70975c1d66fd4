"""Storage at scale: 100,000 tickets and 1,000,000 comments in one project database.

The data is written with bulk SQL through the same schema and triggers the server uses (so the
search index is built as it would be by real writes); the queries are then measured in-process
through the dispatcher's ``call``, exactly as a request would run them.
"""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import trio

from hero_assistance.core import Caller, Project, ProjectConfig
from hero_assistance.core._paging import encode_cursor
from hero_assistance.core._records import format_time

from ._report import Report, median_ms, progress

WORDS = [
    "printer",
    "toner",
    "login",
    "password",
    "invoice",
    "refund",
    "crash",
    "timeout",
    "sync",
    "upload",
    "screenshot",
    "error",
    "billing",
    "export",
    "import",
    "mobile",
    "desktop",
    "firmware",
    "update",
    "license",
    "network",
    "vpn",
    "email",
    "calendar",
    "backup",
    "restore",
    "slow",
    "freeze",
    "button",
    "dialog",
]


def _vocabulary(rng: random.Random, size: int = 5000) -> list[str]:
    letters = "abcdefghijklmnopqrstuvwxyz"
    return WORDS + ["".join(rng.choice(letters) for _ in range(rng.randint(4, 9))) for _ in range(size)]


def _sentence(rng: random.Random, vocab: list[str], words: int) -> str:
    # One word in six is a common support term (so "printer" is in roughly one text in ten, as a
    # frequent real query would be); the rest follow a Zipf-like long tail.
    tail = vocab[len(WORDS) :]
    return " ".join(
        rng.choice(WORDS) if rng.random() < 1 / 6 else tail[min(int(rng.paretovariate(0.7)) - 1, len(tail) - 1)]
        for _ in range(words)
    )


def generate(project: Project, tickets: int, comments: int, customers: int = 2000, agents: int = 20) -> None:
    rng = random.Random(42)
    vocab = _vocabulary(rng)
    storage = project.storage
    base = datetime(2024, 1, 1, tzinfo=UTC)
    with storage.write():
        conn = storage.conn
        conn.executemany(
            "INSERT INTO users (email, display_name, role, created_at) VALUES (?, ?, ?, ?)",
            [(f"customer{i}@example.com", f"Customer {i}", "customer", format_time(base)) for i in range(customers)]
            + [(f"agent{i}@example.com", f"Agent {i}", "support", format_time(base)) for i in range(agents)],
        )
    first_customer = int(storage.scalar("SELECT id FROM users WHERE email = 'customer0@example.com'"))
    first_agent = first_customer + customers
    per_ticket = comments // tickets
    batch = 2000
    comment_rows: list[tuple[object, ...]] = []
    with storage.write():
        conn = storage.conn
        for start in progress(range(0, tickets, batch), (tickets + batch - 1) // batch, "tickets + comments"):
            ticket_rows = []
            member_rows = []
            comment_rows = []
            for tid in range(start + 1, min(start + batch, tickets) + 1):
                created = base + timedelta(minutes=tid)
                customer = first_customer + rng.randrange(customers)
                agent = first_agent + rng.randrange(agents)
                stamp = format_time(created)
                last = format_time(created + timedelta(minutes=per_ticket * 7))
                ticket_rows.append(
                    (
                        tid,
                        _sentence(rng, vocab, 6),
                        _sentence(rng, vocab, 40),
                        rng.choice(["open", "pending", "resolved", "closed"]),
                        rng.choice(["low", "normal", "high", "urgent"]),
                        customer,
                        agent,
                        per_ticket,
                        stamp,
                        last,
                        last,
                    )
                )
                member_rows += [(tid, customer, stamp), (tid, agent, stamp)]
                for n in range(per_ticket):
                    comment_rows.append(
                        (
                            tid,
                            agent if n % 2 else customer,
                            _sentence(rng, vocab, 18),
                            int(n % 5 == 4),
                            format_time(created + timedelta(minutes=7 * n)),
                        )
                    )
            conn.executemany(
                "INSERT INTO tickets (id, title, body, status, priority, created_by, assignee_id, comment_count, "
                "created_at, updated_at, last_activity_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                ticket_rows,
            )
            conn.executemany("INSERT INTO members (ticket_id, user_id, added_at) VALUES (?, ?, ?)", member_rows)
            conn.executemany(
                "INSERT INTO comments (ticket_id, author_id, body, internal, created_at) VALUES (?, ?, ?, ?, ?)",
                comment_rows,
            )
    storage.conn.execute("PRAGMA optimize")
    storage.conn.execute("INSERT INTO search_index(search_index) VALUES ('optimize')")


async def _measure(project: Project, report: Report, repeat: int) -> None:
    agent = Caller.from_user("agent0@example.com")
    customer_email = project.storage.scalar(
        "SELECT u.email FROM users u JOIN members m ON m.user_id = u.id WHERE u.role = 'customer' "
        "GROUP BY u.id ORDER BY count(*) DESC LIMIT 1"
    )
    customer = Caller.from_user(customer_email)
    depth_row = project.storage.row(
        "SELECT last_activity_at, id FROM tickets WHERE archived = 0 ORDER BY last_activity_at DESC, id DESC "
        "LIMIT 1 OFFSET ?",
        (project.storage.scalar("SELECT count(*) FROM tickets") // 2,),
    )
    assert depth_row is not None
    deep_cursor = encode_cursor(depth_row[0], depth_row[1])
    ticket_id = int(project.storage.scalar("SELECT max(id) FROM tickets"))

    async def timed(label: str, method: str, caller: Caller, target_ms: float, **params: object) -> None:
        samples = []
        for _ in range(repeat):
            start = time.perf_counter()
            await project.call(method, caller, **params)
            samples.append(time.perf_counter() - start)
        value = median_ms(samples)
        report.add("storage", label, value, "ms", target=f"< {target_ms} ms median", ok=value < target_ms)

    await timed("ticket.list first page (agent)", "ticket.list", agent, 20)
    await timed("ticket.list deep page via cursor (agent)", "ticket.list", agent, 20, cursor=deep_cursor)
    await timed("ticket.list first page (customer)", "ticket.list", customer, 20)
    await timed("ticket.list status=pending (agent)", "ticket.list", agent, 20, status="pending")
    await timed("search.query common word (agent)", "search.query", agent, 20, q="printer")
    await timed("search.query two words (agent)", "search.query", agent, 20, q="toner refund")
    await timed("search.query common word (customer)", "search.query", customer, 20, q="printer")
    await timed("comment.list (agent)", "comment.list", agent, 20, ticket_id=ticket_id)
    await timed("comment.create (agent)", "comment.create", agent, 2, ticket_id=ticket_id, body="measured reply")


def run(report: Report, workdir: Path, *, tickets: int, comments: int, repeat: int) -> None:
    data_dir = workdir / "storage"
    config = ProjectConfig(name="bench", data_dir=data_dir)
    project = Project(config)
    try:
        if project.storage.scalar("SELECT count(*) FROM tickets") != tickets:
            project.close()
            for f in data_dir.glob("project.sqlite3*"):
                f.unlink()
            project = Project(config)
            started = time.perf_counter()
            generate(project, tickets, comments)
            report.add(
                "storage", f"generate {tickets:,} tickets / {comments:,} comments", time.perf_counter() - started, "s"
            )
        trio.run(_measure, project, report, repeat)
        size = sum(f.stat().st_size for f in data_dir.glob("project.sqlite3*")) / 1e6
        report.add("storage", "database size on disk", size, "MB")
    finally:
        project.close()
