"""The demo's help desks: two products, their people, and tickets in every state of a real queue.

``seed(url, desk)`` fills a fresh project through its public JSON-RPC API, acting as each person
in turn over the project's Unix socket (``X-Hero-User``), so the demo exercises the same paths a
real client does. Screenshots are drawn with Pillow at seeding time.
"""

from __future__ import annotations

import base64
import io
from typing import Any, Literal

import attrs
from PIL import Image, ImageDraw, ImageFont

from hero_assistance.transport import Client

Role = Literal["customer", "support", "admin"]


@attrs.frozen
class Person:
    email: str
    name: str
    role: Role


@attrs.frozen
class Reply:
    by: str  # email
    body: str
    internal: bool = False
    image: str | None = None  # a caption drawn into a generated screenshot
    reply_to: int | None = None  # index of an earlier reply in the same ticket


@attrs.frozen
class TicketSpec:
    by: str
    title: str
    body: str
    priority: str = "normal"
    tags: tuple[str, ...] = ()
    image: str | None = None
    replies: tuple[Reply, ...] = ()
    status: str = "open"
    assignee: str | None = None
    archived: bool = False


@attrs.frozen
class Desk:
    name: str
    title: str
    people: tuple[Person, ...]
    tickets: tuple[TicketSpec, ...]


SAM = Person("sam@helpdesk.example", "Sam Rivera", "support")
CAROL = Person("carol@example.com", "Carol Diaz", "customer")

#: Who the demo prints one-click sign-in links for: present in every desk, so one link signs into all.
DEMO_AGENT = SAM
DEMO_CUSTOMER = CAROL

ACME = Desk(
    name="acme",
    title="Acme Cloud Storage",
    people=(
        SAM,
        Person("priya@helpdesk.example", "Priya Natarajan", "support"),
        CAROL,
        Person("ben@example.org", "Ben Okafor", "customer"),
        Person("lena@example.net", "Lena Fischer", "customer"),
    ),
    tickets=(
        TicketSpec(
            by="lena@example.net",
            title="Can't log in after resetting my password",
            body="I reset my password this morning and now the login page says **invalid credentials**.\n\n"
            "I tried twice, same result. I need my files for a meeting at 3pm!",
            priority="urgent",
            tags=("login",),
            status="resolved",
            assignee="priya@helpdesk.example",
            replies=(
                Reply(
                    "priya@helpdesk.example",
                    "Sorry about that, Lena! Password resets take up to two minutes "
                    "to reach every region. Could you try once more now?",
                ),
                Reply("lena@example.net", "That worked, thank you so much!"),
                Reply(
                    "priya@helpdesk.example",
                    "Great to hear. I'll mark this as resolved — reply here if it happens again.",
                ),
            ),
        ),
        TicketSpec(
            by="carol@example.com",
            title="Feature request: dark mode for the web app",
            body="Working late, the web app is *very* bright. A dark theme would be lovely.",
            priority="low",
            tags=("feature-request",),
            status="closed",
            assignee="sam@helpdesk.example",
            replies=(
                Reply(
                    "sam@helpdesk.example",
                    "Thanks Carol! Dark mode shipped in version 4.2 — it follows your system setting. Enjoy!",
                ),
            ),
        ),
        TicketSpec(
            by="ben@example.org",
            title="Invoice shows the wrong VAT number",
            body="Our invoice INV-2291 lists VAT number DE811907980, but ours is DE811907908 (last two digits "
            "swapped). Accounting needs a corrected invoice.",
            tags=("billing",),
            status="pending",
            assignee="priya@helpdesk.example",
            replies=(
                Reply(
                    "priya@helpdesk.example",
                    "Thanks Ben. I've asked billing to reissue INV-2291. Could you "
                    "confirm the company address should stay the same?",
                ),
                Reply(
                    "priya@helpdesk.example",
                    "Billing needs the customer's confirmation before reissuing; set to pending.",
                    internal=True,
                ),
            ),
        ),
        TicketSpec(
            by="lena@example.net",
            title="Uploads are very slow from Singapore",
            body="Since Monday, uploading a 200 MB video takes over an hour from our Singapore office. "
            "From Berlin it takes two minutes.",
            priority="urgent",
            tags=("performance",),
            assignee="sam@helpdesk.example",
            replies=(
                Reply(
                    "sam@helpdesk.example",
                    "Ops confirmed packet loss on the SIN-2 edge since the weekend "
                    "maintenance. Incident INC-771 is open.",
                    internal=True,
                ),
                Reply(
                    "sam@helpdesk.example",
                    "Hi Lena, we found a network problem on our Singapore edge and "
                    "are fixing it. I'll update you here within the hour.",
                ),
            ),
        ),
        TicketSpec(
            by="carol@example.com",
            title="How do I export all my files?",
            body="We're archiving a finished project. Is there a way to download everything at once, with "
            "the folder structure?",
            priority="low",
            status="pending",
            assignee="sam@helpdesk.example",
            replies=(
                Reply(
                    "sam@helpdesk.example",
                    "Yes! Go to **Settings → Data → Export** and pick the folder. You "
                    "get a zip with the structure kept.\n\nDid that work for you?",
                ),
            ),
        ),
        TicketSpec(
            by="ben@example.org",
            title="Shared folder link returns 404",
            body="Links to our shared folder `/clients/2026` stopped working for external people. Internal "
            "users can still open it.",
            tags=("sharing",),
        ),
        TicketSpec(
            by="carol@example.com",
            title="Sync stuck at 99% on my MacBook",
            body="The desktop app has been stuck at **99%** since yesterday. I restarted it twice.\n\n"
            "- macOS 15.2\n- Acme Drive 4.3.1\n\nScreenshot attached.",
            priority="high",
            tags=("sync", "macos"),
            image="Sync failed: permission denied (0x80070005)",
            assignee="sam@helpdesk.example",
            replies=(
                Reply(
                    "sam@helpdesk.example",
                    "Hi Carol, thanks for the screenshot! Could you send the log from **Help → Export diagnostics**?",
                ),
                Reply(
                    "sam@helpdesk.example",
                    "Same error code as the inode bug in 4.3.x — ENG-4211. Fix is in 4.3.2, releasing Thursday.",
                    internal=True,
                ),
                Reply(
                    "carol@example.com",
                    "Here you go, this is what the diagnostics window shows.",
                    image="Diagnostics: 1 file locked by another process",
                    reply_to=0,
                ),
            ),
        ),
        TicketSpec(
            by="ben@example.org",
            title="Test ticket, please ignore",
            body="Just checking the new support form works.",
            priority="low",
            status="closed",
            archived=True,
        ),
    ),
)

GLOBEX = Desk(
    name="globex",
    title="Globex Smart Thermostat",
    people=(
        SAM,
        Person("marcus@globex.example", "Marcus Webb", "admin"),
        CAROL,
        Person("tom@example.com", "Tom Hughes", "customer"),
        Person("yuki@example.jp", "Yuki Tanaka", "customer"),
    ),
    tickets=(
        TicketSpec(
            by="yuki@example.jp",
            title="Request: HomeKit support",
            body="Would love to control the thermostat from the Home app on my iPhone.",
            priority="low",
            tags=("feature-request",),
            status="closed",
            assignee="marcus@globex.example",
            replies=(
                Reply(
                    "marcus@globex.example",
                    "Thanks Yuki — HomeKit is on our roadmap for the autumn. I'm "
                    "closing this request, we'll announce it in the app.",
                ),
            ),
        ),
        TicketSpec(
            by="tom@example.com",
            title="Battery drains in two weeks",
            body="The batteries in the wall unit used to last a year. Now they're flat after two weeks.",
            tags=("battery", "hardware"),
            status="resolved",
            assignee="sam@helpdesk.example",
            replies=(
                Reply(
                    "sam@helpdesk.example",
                    "Firmware 2.8 polls Wi-Fi too often. Version 2.8.1 fixes it and "
                    "is rolling out now — your unit updates tonight.",
                ),
                Reply("tom@example.com", "Updated and the battery indicator is stable. Thanks!"),
            ),
        ),
        TicketSpec(
            by="yuki@example.jp",
            title="Wi-Fi pairing fails with a WPA3 router",
            body="Pairing stops at step 3 of 4 with *network not supported*. My router is WPA3-only.",
            tags=("wifi",),
            status="pending",
            assignee="sam@helpdesk.example",
            replies=(
                Reply(
                    "sam@helpdesk.example",
                    "Hardware rev A only supports WPA2; rev B does WPA3. Ask for the serial number to tell which.",
                    internal=True,
                ),
                Reply(
                    "sam@helpdesk.example",
                    "Hi Yuki, could you tell me the serial number on the back of the unit? It starts with GX-.",
                ),
            ),
        ),
        TicketSpec(
            by="carol@example.com",
            title="App crashes when opening the energy report",
            body="The iOS app closes immediately when I tap **Energy → Monthly report**.",
            tags=("ios", "crash"),
        ),
        TicketSpec(
            by="carol@example.com",
            title="Schedule ignores the daylight saving change",
            body="Since the clocks changed, the heating starts an hour early every morning.",
            priority="high",
            tags=("schedule",),
            assignee="marcus@globex.example",
            replies=(
                Reply("marcus@globex.example", "Hi Carol, which time zone is set under **Settings → Home**?"),
                Reply("carol@example.com", "It says Europe/Madrid, which is right.", reply_to=0),
                Reply(
                    "marcus@globex.example",
                    "Reproduced on a test unit: the DST table in 2.8.1 is stale. Escalating to firmware.",
                    internal=True,
                ),
            ),
        ),
        TicketSpec(
            by="tom@example.com",
            title="Thermostat shows E42 after the firmware update",
            body="After last night's update the display shows **E42** and the heating is off. It's 14°C "
            "inside. Photo of the display attached.",
            priority="urgent",
            tags=("firmware", "hardware"),
            image="E42  sensor calibration lost",
        ),
    ),
)

DESKS = (ACME, GLOBEX)


def screenshot(caption: str, app: str, *, width: int = 720, height: int = 420) -> bytes:
    """A plausible screenshot: ``app``'s window with an error dialog carrying ``caption``."""
    img = Image.new("RGB", (width, height), (236, 239, 244))
    draw = ImageDraw.Draw(img)
    title = ImageFont.load_default(size=16)
    body = ImageFont.load_default(size=18)
    small = ImageFont.load_default(size=14)
    draw.rectangle((0, 0, width, 34), fill=(52, 58, 70))
    for i, colour in enumerate(((255, 95, 86), (255, 189, 46), (39, 201, 63))):
        draw.ellipse((14 + i * 22, 11, 26 + i * 22, 23), fill=colour)
    draw.text((width // 2, 17), app, font=title, fill=(230, 232, 236), anchor="mm")
    for row in range(5):  # a file list behind the dialog
        y = 60 + row * 34
        draw.rectangle((30, y, width - 30, y + 24), fill=(248, 249, 251))
        draw.rectangle((40, y + 6, 52, y + 18), fill=(120, 144, 200))
        draw.rectangle((64, y + 8, 64 + 120 + row * 30, y + 16), fill=(200, 205, 214))
    box = (110, 130, width - 110, height - 90)
    draw.rounded_rectangle((box[0] + 4, box[1] + 6, box[2] + 4, box[3] + 6), 12, fill=(180, 186, 196))
    draw.rounded_rectangle(box, 12, fill=(255, 255, 255), outline=(210, 214, 222))
    draw.ellipse((box[0] + 24, box[1] + 30, box[0] + 72, box[1] + 78), fill=(220, 53, 69))
    draw.text((box[0] + 42, box[1] + 38), "!", font=ImageFont.load_default(size=30), fill=(255, 255, 255))
    draw.text((box[0] + 92, box[1] + 34), caption, font=body, fill=(33, 37, 41))
    draw.text((box[0] + 92, box[1] + 64), "Contact support if this keeps happening.", font=small, fill=(108, 117, 125))
    draw.rounded_rectangle((box[2] - 110, box[3] - 52, box[2] - 24, box[3] - 18), 8, fill=(79, 70, 229))
    draw.text((box[2] - 82, box[3] - 45), "OK", font=body, fill=(255, 255, 255))
    out = io.BytesIO()
    img.save(out, format="PNG", optimize=True)
    return out.getvalue()


async def _upload(client: Client, caption: str, app: str) -> int:
    data = base64.b64encode(screenshot(caption, app)).decode()
    attachment = await client.call("attachment.upload", filename="screenshot.png", content_type="image/png", data=data)
    return int(attachment["id"])


async def seed(url: str, desk: Desk) -> None:
    """Enroll the desk's people and replay its tickets, oldest first, as the people who wrote them."""
    async with Client(url) as operator:
        for person in desk.people:
            await operator.call("user.enroll", email=person.email, role=person.role, display_name=person.name)
        users = {u["email"]: u for u in (await operator.call("user.list", limit=200))["items"]}
    clients: dict[str, Client] = {}
    try:
        for person in desk.people:
            clients[person.email] = Client(url, as_user=person.email)
        fallback_agent = next(p.email for p in desk.people if p.role != "customer")
        for spec in desk.tickets:
            await _seed_ticket(clients, users, spec, fallback_agent, desk.title)
        for person in desk.people:
            if person.role != "customer":
                await clients[person.email].call("presence.update", status="online", status_text="")
    finally:
        for client in clients.values():
            await client.aclose()


async def _seed_ticket(
    clients: dict[str, Client], users: dict[str, Any], spec: TicketSpec, fallback_agent: str, app: str
) -> None:
    author = clients[spec.by]
    attachments = [await _upload(author, spec.image, app)] if spec.image else []
    ticket = await author.call(
        "ticket.create",
        title=spec.title,
        body=spec.body,
        priority=spec.priority,
        attachment_ids=attachments,
    )
    agent_email = spec.assignee or next(
        (r.by for r in spec.replies if users[r.by]["role"] != "customer"), fallback_agent
    )
    agent = clients[agent_email]
    changes: dict[str, Any] = {}
    if spec.tags:
        changes["tags"] = list(spec.tags)
    if spec.assignee:
        changes["assignee_id"] = users[spec.assignee]["id"]
    if changes:
        await agent.call("ticket.update", id=ticket["id"], **changes)
    comment_ids: list[int] = []
    for reply in spec.replies:
        client = clients[reply.by]
        ids = [await _upload(client, reply.image, app)] if reply.image else []
        params: dict[str, Any] = {"ticket_id": ticket["id"], "body": reply.body, "internal": reply.internal}
        if ids:
            params["attachment_ids"] = ids
        if reply.reply_to is not None:
            params["parent_id"] = comment_ids[reply.reply_to]
        comment = await client.call("comment.create", **params)
        comment_ids.append(comment["id"])
    if spec.status != "open":
        await agent.call("ticket.update", id=ticket["id"], status=spec.status)
    if spec.archived:
        await agent.call("ticket.archive", id=ticket["id"])
