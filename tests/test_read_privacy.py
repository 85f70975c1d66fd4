"""Reads and events never disagree: no read returns the id of something the caller may not see.

The leak that started this: ``presence.list`` showed customer Bob the id of Alice's ticket that an
agent was viewing, while the ``presence.viewing`` event correctly hid it. One test per read path
that returns another object's id.
"""

from __future__ import annotations

from typing import Any

import pytest

from hero_assistance.core import Project, RpcError

from .conftest import Desk, b64, png_bytes


async def code(project: Project, person: Any, method: str, **params: Any) -> int | None:
    try:
        await person.call(project, method, **params)
    except RpcError as err:
        return err.code
    return None


@pytest.fixture
async def scene(project: Project, desk: Desk) -> dict[str, Any]:
    """Alice's ticket with an image, a public reply and an internal note with an image; Sam views it."""
    image = await desk.alice.call(
        project, "attachment.upload", filename="a.png", content_type="image/png", data=b64(png_bytes(color="red"))
    )
    ticket = await desk.alice.call(
        project, "ticket.create", title="zebra printer", body="zebra", attachment_ids=[image["id"]]
    )
    await desk.sam.call(project, "comment.create", ticket_id=ticket["id"], body="public zebra reply")
    note_image = await desk.sam.call(
        project, "attachment.upload", filename="n.png", content_type="image/png", data=b64(png_bytes(color="blue"))
    )
    note = await desk.sam.call(
        project,
        "comment.create",
        ticket_id=ticket["id"],
        body="internal okapi note",
        internal=True,
        attachment_ids=[note_image["id"]],
    )
    await desk.sam.call(project, "presence.set_viewing_ticket", ticket_id=ticket["id"])
    return {"ticket": ticket, "image": image, "note": note, "note_image": note_image}


async def test_presence_list_hides_the_ticket_a_customer_may_not_read(
    project: Project, desk: Desk, scene: dict[str, Any]
) -> None:
    ticket_id = scene["ticket"]["id"]

    def viewing_of_sam(page: dict[str, Any]) -> Any:
        return next(p["viewing_ticket_id"] for p in page["items"] if p["user_id"] == desk.sam.user_id)

    assert viewing_of_sam(await desk.bob.call(project, "presence.list")) is None
    assert viewing_of_sam(await desk.alice.call(project, "presence.list")) == ticket_id
    assert viewing_of_sam(await desk.ada.call(project, "presence.list")) == ticket_id


async def test_a_deleted_ticket_is_not_shown_as_viewed(project: Project, desk: Desk, scene: dict[str, Any]) -> None:
    await desk.ada.call(project, "ticket.delete", id=scene["ticket"]["id"])
    page = await desk.ada.call(project, "presence.list")
    assert all(p["viewing_ticket_id"] is None for p in page["items"])


@pytest.mark.parametrize(
    ("method", "params"),
    [
        ("ticket.get", lambda s: {"id": s["ticket"]["id"]}),
        ("ticket.history", lambda s: {"id": s["ticket"]["id"]}),
        ("ticket.member.list", lambda s: {"ticket_id": s["ticket"]["id"]}),
        ("comment.list", lambda s: {"ticket_id": s["ticket"]["id"]}),
        ("attachment.get", lambda s: {"id": s["image"]["id"]}),
        ("attachment.get", lambda s: {"id": s["note_image"]["id"]}),
        ("presence.set_viewing_ticket", lambda s: {"ticket_id": s["ticket"]["id"]}),
        ("presence.set_composing", lambda s: {"ticket_id": s["ticket"]["id"]}),
    ],
)
async def test_another_customers_things_are_not_found(
    project: Project, desk: Desk, scene: dict[str, Any], method: str, params: Any
) -> None:
    assert await code(project, desk.bob, method, **params(scene)) == -32003


async def test_user_records_of_other_customers_are_not_found(
    project: Project, desk: Desk, scene: dict[str, Any]
) -> None:
    assert await code(project, desk.bob, "user.get", id=desk.alice.user_id) == -32003
    assert await code(project, desk.bob, "user.get", id=desk.sam.user_id) is None  # agents are public
    assert await code(project, desk.alice, "user.get", id=desk.bob.user_id) == -32003


async def test_search_and_listing_return_no_foreign_ids(project: Project, desk: Desk, scene: dict[str, Any]) -> None:
    assert (await desk.bob.call(project, "search.query", q="zebra"))["items"] == []
    assert (await desk.bob.call(project, "ticket.list"))["items"] == []
    assert (await desk.bob.call(project, "ticket.list", query="zebra"))["items"] == []
    # Alice finds her ticket, never the internal note (nor its id).
    hits = (await desk.alice.call(project, "search.query", q="okapi"))["items"]
    assert hits == []
    assert scene["note"]["id"] not in [
        h["comment_id"] for h in (await desk.alice.call(project, "search.query", q="zebra"))["items"]
    ]


async def test_internal_notes_leave_no_ids_in_a_customers_reads(
    project: Project, desk: Desk, scene: dict[str, Any]
) -> None:
    note_id, note_image = scene["note"]["id"], scene["note_image"]["id"]
    history = await desk.alice.call(project, "ticket.history", id=scene["ticket"]["id"])
    assert note_id not in [e.get("detail", {}).get("comment_id") for e in history["items"]]
    comments = await desk.alice.call(project, "comment.list", ticket_id=scene["ticket"]["id"])
    assert note_id not in [c["id"] for c in comments["items"]]
    assert all(a["id"] != note_image for c in comments["items"] for a in c["attachments"])
    assert await code(project, desk.alice, "attachment.get", id=note_image) == -32003
    ticket = await desk.alice.call(project, "ticket.get", id=scene["ticket"]["id"])
    assert [a["id"] for a in ticket["attachments"]] == [scene["image"]["id"]]
