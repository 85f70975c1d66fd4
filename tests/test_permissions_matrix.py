"""For every method and every role, the outcome; and no customer ever sees what is not theirs.

Each case runs on a fresh help desk with the same little world: Alice's ticket (with an image, an
agent's public reply and an internal note) and Bob's ticket. Bob is the outsider for Alice's
things. Markers planted in what Alice owns and in internal notes must never appear in anything
Bob receives, and internal markers never in anything a customer receives.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import attrs
import pytest

from hero_assistance.core import Project, RpcError
from hero_assistance.core._methods import methods

from .conftest import Desk, b64, png_bytes

ALICE_SECRET = "ALICE-SECRET-7f3a"
BOB_SECRET = "BOB-SECRET-91c2"
INTERNAL = "INTERNAL-NOTE-55e1"
ROLES = ("anon", "alice", "bob", "sam", "ada")


@attrs.define
class World:
    desk: Desk
    ticket_a: int
    ticket_b: int
    public_comment: int
    internal_comment: int
    attachment_a: int
    invite_token: str


async def build_world(project: Project, desk: Desk) -> World:
    upload = await desk.alice.call(
        project, "attachment.upload", filename="a.png", content_type="image/png", data=b64(png_bytes())
    )
    ticket_a = await desk.alice.call(
        project,
        "ticket.create",
        title=f"Printer {ALICE_SECRET}",
        body=f"It smokes {ALICE_SECRET}",
        attachment_ids=[upload["id"]],
    )
    ticket_b = await desk.bob.call(project, "ticket.create", title=f"Login {BOB_SECRET}", body=BOB_SECRET)
    public = await desk.sam.call(project, "comment.create", ticket_id=ticket_a["id"], body=f"On it {ALICE_SECRET}")
    internal = await desk.sam.call(
        project, "comment.create", ticket_id=ticket_a["id"], body=f"{INTERNAL} printer", internal=True
    )
    await desk.sam.call(project, "presence.set_composing", ticket_id=ticket_a["id"], internal=True)
    await desk.alice.call(project, "presence.update", status="online", status_text=ALICE_SECRET)
    invite = await project.call("auth.issue_magic_link", email="alice@example.com")
    return World(desk, ticket_a["id"], ticket_b["id"], public["id"], internal["id"], upload["id"], invite["token"])


Params = Callable[[World], dict[str, Any]]
OK = "ok"


@attrs.frozen
class Case:
    method: str
    params: Params
    outcomes: dict[str, str | int]
    label: str = ""

    @property
    def id(self) -> str:
        return self.method + (f"[{self.label}]" if self.label else "")


def everyone(outcome: str | int = OK, **overrides: str | int) -> dict[str, str | int]:
    return {role: overrides.get(role, outcome) for role in ROLES}


def users(outcome: str | int = OK, **overrides: str | int) -> dict[str, str | int]:
    return everyone(outcome, anon=-32001, **overrides)


def staff_only(customer: int = -32002) -> dict[str, str | int]:
    return users(alice=customer, bob=customer)


def admin_only() -> dict[str, str | int]:
    return users(alice=-32002, bob=-32002, sam=-32002)


def alice_not_bob(**overrides: str | int) -> dict[str, str | int]:
    return users(bob=-32003, **overrides)


CASES = [
    Case("rpc.discover", lambda w: {}, everyone()),
    Case("project.info", lambda w: {}, everyone()),
    Case("auth.request_magic_link", lambda w: {"email": "alice@example.com"}, everyone()),
    Case("auth.consume_magic_link", lambda w: {"token": w.invite_token}, everyone()),
    Case("auth.consume_magic_link", lambda w: {"token": "forged"}, everyone(-32007), "forged"),
    Case("auth.issue_magic_link", lambda w: {"email": "alice@example.com"}, admin_only()),
    Case("auth.whoami", lambda w: {}, everyone()),
    Case("device.list", lambda w: {}, users()),
    Case("device.list", lambda w: {"user_id": w.desk.alice.user_id}, users(bob=-32002, sam=-32002), "other"),
    Case("device.unbind", lambda w: {}, users()),
    Case("device.unbind", lambda w: {"key": "400::a"}, users(bob=-32003, sam=-32003), "other"),
    Case("user.enroll", lambda w: {"email": "new@example.com", "role": "customer"}, staff_only()),
    Case(
        "user.enroll",
        lambda w: {"email": "new@example.com", "role": "support"},
        users(alice=-32002, bob=-32002, sam=-32002),
        "agent",
    ),
    Case("user.list", lambda w: {}, staff_only()),
    Case("user.get", lambda w: {"id": w.desk.alice.user_id}, alice_not_bob()),
    Case("user.get", lambda w: {"id": w.desk.sam.user_id}, users(), "agent"),
    Case("user.get", lambda w: {"id": w.desk.bob.user_id}, users(alice=-32003), "other customer"),
    Case("user.update", lambda w: {"id": w.desk.alice.user_id, "display_name": "Al"}, alice_not_bob(sam=-32002)),
    Case(
        "user.update",
        lambda w: {"id": w.desk.alice.user_id, "role": "support"},
        users(alice=-32002, bob=-32003, sam=-32002),
        "role",
    ),
    Case("ticket.create", lambda w: {"title": "New", "body": "x"}, users()),
    Case("ticket.get", lambda w: {"id": w.ticket_a}, alice_not_bob()),
    Case("ticket.list", lambda w: {}, users()),
    Case("ticket.list", lambda w: {"query": "printer"}, users(), "query"),
    Case("ticket.update", lambda w: {"id": w.ticket_a, "title": "Renamed"}, alice_not_bob()),
    Case("ticket.update", lambda w: {"id": w.ticket_a, "priority": "urgent"}, alice_not_bob(alice=-32002), "priority"),
    Case("ticket.update", lambda w: {"id": w.ticket_a, "status": "closed"}, alice_not_bob(alice=-32002), "close"),
    Case(
        "ticket.update",
        lambda w: {"id": w.ticket_a, "assignee_id": w.desk.sam.user_id},
        alice_not_bob(alice=-32002),
        "assign",
    ),
    Case("ticket.archive", lambda w: {"id": w.ticket_a}, staff_only()),
    Case("ticket.unarchive", lambda w: {"id": w.ticket_a}, staff_only()),
    Case("ticket.delete", lambda w: {"id": w.ticket_a}, admin_only()),
    Case("ticket.history", lambda w: {"id": w.ticket_a}, alice_not_bob()),
    Case("ticket.member.list", lambda w: {"ticket_id": w.ticket_a}, alice_not_bob()),
    Case("ticket.member.add", lambda w: {"ticket_id": w.ticket_a, "user_id": w.desk.bob.user_id}, staff_only()),
    Case("ticket.member.remove", lambda w: {"ticket_id": w.ticket_a, "user_id": w.desk.alice.user_id}, staff_only()),
    Case("comment.create", lambda w: {"ticket_id": w.ticket_a, "body": "thanks"}, alice_not_bob()),
    Case(
        "comment.create",
        lambda w: {"ticket_id": w.ticket_a, "body": "note", "internal": True},
        alice_not_bob(alice=-32002),
        "internal",
    ),
    Case("comment.list", lambda w: {"ticket_id": w.ticket_a}, alice_not_bob()),
    Case(
        "comment.update", lambda w: {"id": w.public_comment, "body": "edited"}, alice_not_bob(alice=-32002, ada=-32002)
    ),
    Case(
        "comment.update",
        lambda w: {"id": w.internal_comment, "body": "edited"},
        alice_not_bob(alice=-32003, ada=-32002),
        "internal",
    ),
    Case("comment.delete", lambda w: {"id": w.public_comment}, alice_not_bob(alice=-32002)),
    Case("comment.delete", lambda w: {"id": w.internal_comment}, alice_not_bob(alice=-32003), "internal"),
    Case(
        "attachment.upload",
        lambda w: {"filename": "x.png", "content_type": "image/png", "data": b64(png_bytes())},
        users(),
    ),
    Case("attachment.get", lambda w: {"id": w.attachment_a}, alice_not_bob()),
    Case("attachment.cleanup_pending", lambda w: {"older_than_s": 0}, staff_only()),
    Case("presence.update", lambda w: {"status": "away"}, users()),
    Case("presence.list", lambda w: {}, users()),
    Case("presence.set_viewing_ticket", lambda w: {"ticket_id": w.ticket_a}, alice_not_bob()),
    Case("presence.set_viewing_ticket", lambda w: {"ticket_id": None}, users(), "none"),
    Case("presence.set_composing", lambda w: {"ticket_id": w.ticket_a}, alice_not_bob()),
    Case(
        "presence.set_composing",
        lambda w: {"ticket_id": w.ticket_a, "internal": True},
        alice_not_bob(alice=-32002),
        "internal",
    ),
    Case("search.query", lambda w: {"q": "printer OR smokes OR login"}, users()),
]


def test_the_matrix_covers_every_method() -> None:
    assert {case.method for case in CASES} == {spec.name for spec in methods}


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
@pytest.mark.parametrize("role", ROLES)
async def test_outcome(project: Project, desk: Desk, case: Case, role: str) -> None:
    world = await build_world(project, desk)
    person = desk.roles()[role]
    expected = case.outcomes[role]
    try:
        result = await person.call(project, case.method, **case.params(world))
    except RpcError as err:
        assert err.code == expected, f"{role} {case.id}: got {err!r}, expected {expected}"
        return
    assert expected == OK, f"{role} {case.id}: succeeded, expected {expected}"
    text = json.dumps(result)
    if role == "bob":
        assert ALICE_SECRET not in text, f"bob saw alice's data through {case.id}"
    if role == "alice":
        assert BOB_SECRET not in text, f"alice saw bob's data through {case.id}"
    if role in ("bob", "alice", "anon"):
        assert INTERNAL not in text, f"{role} saw an internal note through {case.id}"
    if role == "anon":
        assert ALICE_SECRET not in text and BOB_SECRET not in text


async def test_a_customer_never_sees_foreign_presence_or_internal_composing(project: Project, desk: Desk) -> None:
    world = await build_world(project, desk)
    await desk.bob.call(project, "presence.update", status="online", status_text=BOB_SECRET)
    seen_by_alice = await desk.alice.call(project, "presence.list")
    users_seen = {p["user_id"] for p in seen_by_alice["items"]}
    assert desk.bob.user_id not in users_seen
    assert desk.alice.user_id in users_seen
    assert desk.sam.user_id in users_seen  # agents' presence is visible to customers
    staff_view = await desk.sam.call(project, "presence.list")
    assert {desk.alice.user_id, desk.bob.user_id} <= {p["user_id"] for p in staff_view["items"]}
    assert project.services.presence.get_composing(project.resolve(desk.alice.caller), world.ticket_a) == []
    assert project.services.presence.get_composing(project.resolve(desk.ada.caller), world.ticket_a) == [
        desk.sam.user_id
    ]


async def test_dev_mode_lets_every_bound_user_through(tmp_path: Any, clock: Any) -> None:
    from hero_assistance.core import ProjectConfig, open_project

    from .conftest import enroll_on_device

    async with open_project(ProjectConfig(name="dev", data_dir=tmp_path, auth_mode="dev", clock=clock)) as project:
        carol = await enroll_on_device(project, "carol@example.com", "customer", "400::c")
        await project.call("ticket.create", title="someone else's", body="x")
        listed = await carol.call(project, "ticket.list")
        assert len(listed["items"]) == 1
        assert (await carol.call(project, "auth.whoami"))["auth_mode"] == "dev"
        anon = await project.call("auth.whoami", __import__("hero_assistance.core").core.Caller.anonymous())
        assert anon["user"] is None
