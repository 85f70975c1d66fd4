"""Tickets and comments: validation, keyset paging, threads, image-only replies, reopen rules, history."""

from __future__ import annotations

import pytest

from hero_assistance.core import Forbidden, InvalidParams, Project

from .conftest import Desk, b64, png_bytes


async def test_titles_are_trimmed_unicode_up_to_200_characters(project: Project, desk: Desk) -> None:
    title = "🔥" * 200
    ticket = await desk.alice.call(project, "ticket.create", title=f"  {title}  ")
    assert ticket["title"] == title
    with pytest.raises(InvalidParams) as err:
        await desk.alice.call(project, "ticket.create", title="é" * 201)
    assert err.value.data == {"field": "title", "reason": "1 to 200 characters after trimming"}
    with pytest.raises(InvalidParams):
        await desk.alice.call(project, "ticket.create", title="ok", body="€" * 30000)  # 90 KB of UTF-8


async def test_ticket_list_pages_with_keyset_cursors(project: Project, desk: Desk) -> None:
    created = [(await desk.alice.call(project, "ticket.create", title=f"ticket {i}"))["id"] for i in range(120)]
    seen: list[int] = []
    cursor = None
    while True:
        page = await desk.alice.call(project, "ticket.list", limit=50, cursor=cursor)
        seen += [t["id"] for t in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(created))
    # A write between pages does not shift or repeat the rest (no OFFSET).
    first = await desk.alice.call(project, "ticket.list", limit=10)
    await desk.alice.call(project, "ticket.create", title="newcomer")
    second = await desk.alice.call(project, "ticket.list", limit=10, cursor=first["next_cursor"])
    assert [t["id"] for t in second["items"]] == list(reversed(created))[10:20]
    with pytest.raises(InvalidParams) as err:
        await desk.alice.call(project, "ticket.list", cursor="not-a-cursor")
    assert err.value.data["field"] == "cursor"
    with pytest.raises(InvalidParams):
        await desk.alice.call(project, "ticket.list", limit=201)


async def test_ticket_list_filters(project: Project, desk: Desk) -> None:
    a = await desk.alice.call(project, "ticket.create", title="printer")
    b = await desk.bob.call(project, "ticket.create", title="scanner")
    await desk.sam.call(project, "ticket.update", id=a["id"], status="pending", assignee_id=desk.sam.user_id)
    await desk.sam.call(project, "ticket.archive", id=b["id"])
    assert [t["id"] for t in (await desk.sam.call(project, "ticket.list", status="pending"))["items"]] == [a["id"]]
    assert [t["id"] for t in (await desk.sam.call(project, "ticket.list", mine=True))["items"]] == [a["id"]]
    assert [t["id"] for t in (await desk.sam.call(project, "ticket.list", archived=True))["items"]] == [b["id"]]
    assert [t["id"] for t in (await desk.sam.call(project, "ticket.list"))["items"]] == [a["id"]]
    assert [t["id"] for t in (await desk.sam.call(project, "ticket.list", assignee_id=desk.sam.user_id))["items"]] == [
        a["id"]
    ]
    assert [t["id"] for t in (await desk.sam.call(project, "ticket.list", query="printer"))["items"]] == [a["id"]]
    with pytest.raises(InvalidParams):
        await desk.sam.call(project, "ticket.list", query='"unterminated')


async def test_customers_edit_their_own_ticket_and_may_only_reopen(project: Project, desk: Desk) -> None:
    ticket = await desk.alice.call(project, "ticket.create", title="help")
    await desk.sam.call(project, "ticket.member.add", ticket_id=ticket["id"], user_id=desk.bob.user_id)
    with pytest.raises(Forbidden):  # a member who did not open it
        await desk.bob.call(project, "ticket.update", id=ticket["id"], title="mine now")
    await desk.sam.call(project, "ticket.update", id=ticket["id"], status="resolved")
    with pytest.raises(Forbidden):
        await desk.alice.call(project, "ticket.update", id=ticket["id"], status="closed")
    reopened = await desk.alice.call(project, "ticket.update", id=ticket["id"], status="open", title="still broken")
    assert (reopened["status"], reopened["title"]) == ("open", "still broken")
    unchanged = await desk.alice.call(project, "ticket.update", id=ticket["id"], status="open")
    assert unchanged["updated_at"] == reopened["updated_at"]


async def test_assignee_must_be_an_agent_and_becomes_a_member(project: Project, desk: Desk) -> None:
    ticket = await desk.alice.call(project, "ticket.create", title="help")
    with pytest.raises(InvalidParams):
        await desk.sam.call(project, "ticket.update", id=ticket["id"], assignee_id=desk.bob.user_id)
    assigned = await desk.sam.call(
        project, "ticket.update", id=ticket["id"], assignee_id=desk.sam.user_id, tags=["Printer", "printer", " urgent "]
    )
    assert assigned["assignee_id"] == desk.sam.user_id
    assert desk.sam.user_id in assigned["members"]
    assert assigned["tags"] == ["printer", "urgent"]
    unassigned = await desk.sam.call(project, "ticket.update", id=ticket["id"], assignee_id=None)
    assert unassigned["assignee_id"] is None


async def test_threads_internal_notes_and_image_only_replies(project: Project, desk: Desk) -> None:
    ticket = await desk.alice.call(project, "ticket.create", title="help")
    question = await desk.alice.call(project, "comment.create", ticket_id=ticket["id"], body="is it plugged in?")
    answer = await desk.sam.call(
        project, "comment.create", ticket_id=ticket["id"], body="yes", parent_id=question["id"]
    )
    assert answer["parent_id"] == question["id"]
    note = await desk.sam.call(project, "comment.create", ticket_id=ticket["id"], body="hmm", internal=True)
    with pytest.raises(InvalidParams):
        await desk.sam.call(project, "comment.create", ticket_id=ticket["id"], body="x", parent_id=note["id"])
    with pytest.raises(InvalidParams):  # Alice cannot even point at the note
        await desk.alice.call(project, "comment.create", ticket_id=ticket["id"], body="x", parent_id=note["id"])
    with pytest.raises(InvalidParams):
        await desk.alice.call(project, "comment.create", ticket_id=ticket["id"], body="   ")
    image = await desk.alice.call(
        project, "attachment.upload", filename="s.png", content_type="image/png", data=b64(png_bytes())
    )
    image_only = await desk.alice.call(
        project, "comment.create", ticket_id=ticket["id"], body="", attachment_ids=[image["id"]]
    )
    assert [a["id"] for a in image_only["attachments"]] == [image["id"]]
    with pytest.raises(InvalidParams):  # an attachment is used once
        await desk.alice.call(
            project, "comment.create", ticket_id=ticket["id"], body="again", attachment_ids=[image["id"]]
        )
    listed = await desk.alice.call(project, "comment.list", ticket_id=ticket["id"])
    assert [c["id"] for c in listed["items"]] == [question["id"], answer["id"], image_only["id"]]
    staff_listed = await desk.sam.call(project, "comment.list", ticket_id=ticket["id"])
    assert note["id"] in [c["id"] for c in staff_listed["items"]]
    # Deleting a comment moves its replies up a level.
    await desk.alice.call(project, "comment.delete", id=question["id"])
    refreshed = await desk.alice.call(project, "comment.list", ticket_id=ticket["id"])
    assert [c["parent_id"] for c in refreshed["items"] if c["id"] == answer["id"]] == [None]
    # answer and image-only reply: the deleted question and the internal note are not counted
    assert (await desk.alice.call(project, "ticket.get", id=ticket["id"]))["comment_count"] == 2


async def test_a_customer_reply_reopens_a_pending_ticket(project: Project, desk: Desk) -> None:
    ticket = await desk.alice.call(project, "ticket.create", title="help")
    await desk.sam.call(project, "ticket.update", id=ticket["id"], status="pending")
    await desk.sam.call(project, "comment.create", ticket_id=ticket["id"], body="agent reply keeps it pending")
    assert (await desk.alice.call(project, "ticket.get", id=ticket["id"]))["status"] == "pending"
    await desk.alice.call(project, "comment.create", ticket_id=ticket["id"], body="here is the info")
    assert (await desk.alice.call(project, "ticket.get", id=ticket["id"]))["status"] == "open"


async def test_history_records_every_change_and_hides_internal_entries(project: Project, desk: Desk) -> None:
    ticket = await desk.alice.call(project, "ticket.create", title="help")
    await desk.sam.call(project, "ticket.update", id=ticket["id"], priority="high")
    await desk.sam.call(project, "comment.create", ticket_id=ticket["id"], body="note", internal=True)
    await desk.sam.call(project, "comment.create", ticket_id=ticket["id"], body="reply")
    customer = [h["action"] for h in (await desk.alice.call(project, "ticket.history", id=ticket["id"]))["items"]]
    agent = [h["action"] for h in (await desk.sam.call(project, "ticket.history", id=ticket["id"]))["items"]]
    assert customer == ["ticket.created", "ticket.updated", "comment.created"]
    assert agent == ["ticket.created", "ticket.updated", "comment.created", "comment.created"]
    change = (await desk.sam.call(project, "ticket.history", id=ticket["id"]))["items"][1]
    assert change["detail"] == {"priority": {"from": "normal", "to": "high"}}


async def test_delete_removes_the_ticket_its_comments_and_unshared_files(project: Project, desk: Desk) -> None:
    image = await desk.alice.call(
        project, "attachment.upload", filename="s.png", content_type="image/png", data=b64(png_bytes(color="blue"))
    )
    ticket = await desk.alice.call(project, "ticket.create", title="gone soon", attachment_ids=[image["id"]])
    await desk.alice.call(project, "comment.create", ticket_id=ticket["id"], body="searchable words")
    path = project.services.attachments.path_for(image["sha256"])
    assert path.exists()
    await desk.ada.call(project, "ticket.delete", id=ticket["id"])
    assert not path.exists()
    assert (await desk.ada.call(project, "search.query", q="searchable"))["items"] == []
    assert project.storage.scalar("SELECT count(*) FROM comments") == 0


async def test_internal_notes_leave_no_trace_in_what_customers_see(project: Project, desk: Desk) -> None:
    ticket = await desk.alice.call(project, "ticket.create", title="help")
    before = await desk.alice.call(project, "ticket.get", id=ticket["id"])
    note = await desk.sam.call(project, "comment.create", ticket_id=ticket["id"], body="hm", internal=True)
    after = await desk.alice.call(project, "ticket.get", id=ticket["id"])
    assert (after["comment_count"], after["last_activity_at"]) == (before["comment_count"], before["last_activity_at"])
    await desk.sam.call(project, "comment.delete", id=note["id"])
    await desk.sam.call(project, "comment.create", ticket_id=ticket["id"], body="public")
    assert (await desk.alice.call(project, "ticket.get", id=ticket["id"]))["comment_count"] == 1
