"""The help desk end to end, in Chromium: a customer enrolls and files a ticket with a pasted screenshot;
an agent in another browser sees it arrive live, opens it, replies and writes an internal note; the
customer sees "viewing", "replying", the reply (live) and never the note; deep links survive a reload.

Screenshots of every step land in test-artifacts/.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from typing import Any

import pytest
from PIL import Image, ImageDraw

from hero_assistance.core import Caller

from ._ui_fixtures import CHROMIUM_ARGS, StackThread, artifact, capture_magic_links, ensure_chromium, short_tmp

pytestmark = pytest.mark.browser

playwright_sync = pytest.importorskip("playwright.sync_api")

CUSTOMER = "cathy@example.com"
AGENT = "sam@helpdesk.example"
TITLE = "Printer on fire after the firmware update"
REPLY = "So sorry! Unplug it and keep a safe distance — we are sending a technician today."
NOTE = "Third fire this week: escalate to hardware QA before we answer anyone else."


def screenshot_png() -> bytes:
    img = Image.new("RGB", (320, 200), (240, 240, 245))
    draw = ImageDraw.Draw(img)
    draw.rectangle((20, 40, 300, 160), fill=(255, 255, 255), outline=(200, 0, 0), width=4)
    draw.text((40, 90), "ERROR 0x42: paper tray on fire", fill=(200, 0, 0))
    out = io.BytesIO()
    img.save(out, format="PNG")
    return out.getvalue()


@pytest.fixture(scope="module")
def stack() -> Iterator[StackThread]:
    with short_tmp() as root, capture_magic_links() as links:
        stack = StackThread(root).start()
        stack.links = links  # type: ignore[attr-defined]
        try:
            for project in ("acme", "globex"):
                stack.call(project, "user.enroll", email=AGENT, role="support", display_name="Sam Rivera")
            stack.call("acme", "user.enroll", email=CUSTOMER, role="customer", display_name="Cathy Customer")
            stack.call("globex", "user.enroll", email="gus@example.com", role="customer", display_name="Gus")
            # Something already waiting in the other project, so the inbox is a merge of two.
            stack.call(
                "globex",
                "ticket.create",
                Caller.from_user("gus@example.com"),
                title="Thermostat reads 40°C",
                body="It is not 40°C in here.",
            )
            yield stack
        finally:
            stack.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    executable = ensure_chromium()
    with playwright_sync.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


class Console:
    """Page errors and console errors (a CSP violation is one): the app should produce none."""

    def __init__(self, page: Any, name: str) -> None:
        self.name = name
        self.errors: list[str] = []
        page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))
        page.on("console", lambda msg: msg.type == "error" and self.errors.append(f"console: {msg.text}"))

    def check(self) -> None:
        assert not self.errors, f"{self.name}: {self.errors}"


def paste_image(page: Any, selector: str, png: bytes) -> None:
    """A real paste event whose clipboard holds a PNG file, as Ctrl+V of a screenshot produces."""
    page.locator(selector).focus()
    page.evaluate(
        """([selector, b64]) => {
            const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
            const file = new File([bytes], "image.png", { type: "image/png" });
            const data = new DataTransfer();
            data.items.add(file);
            const event = new ClipboardEvent("paste", { clipboardData: data, bubbles: true, cancelable: true });
            document.querySelector(selector).dispatchEvent(event);
        }""",
        [selector, base64.b64encode(png).decode()],
    )


def test_customer_and_agent_work_a_ticket_live(stack: StackThread, browser: Any) -> None:
    expect = playwright_sync.expect
    agent_ctx = browser.new_context(viewport={"width": 1440, "height": 900})
    customer_ctx = browser.new_context(viewport={"width": 1280, "height": 860}, color_scheme="dark")
    agent = agent_ctx.new_page()
    customer = customer_ctx.new_page()
    agent_console = Console(agent, "agent")
    customer_console = Console(customer, "customer")

    # The agent signs in with one link for both projects and waits in the consolidated inbox.
    agent.goto(stack.sign_in_link(AGENT, "acme", "globex"))
    expect(agent.locator(".ticket-row", has_text="Thermostat reads 40°C")).to_be_visible()
    assert "token=" not in agent.url  # the secret left the address bar at once

    # The customer enrolls: email -> "check your mail" -> the token from the operator's log, pasted.
    customer.goto(stack.url)
    customer.fill("#signin-email", CUSTOMER)
    customer.get_by_role("button", name="Email me a sign-in link").click()
    expect(customer.get_by_text("Check your email")).to_be_visible()
    customer.screenshot(path=artifact("01-customer-check-mail.png"))
    token = stack.links.wait_for(CUSTOMER, "acme")["token"]  # type: ignore[attr-defined]
    customer.fill("#signin-token", token)
    customer.locator("#signin-token").press("Enter")
    expect(customer.get_by_text("How can we help?")).to_be_visible()

    # ... and files a ticket with a screenshot pasted from the clipboard.
    customer.get_by_role("link", name="New ticket").first.click()
    customer.fill("#new-title", TITLE)
    customer.fill(".composer textarea", "It started smoking right after the **update**.")
    paste_image(customer, ".composer textarea", screenshot_png())
    expect(customer.locator(".attachment-item.state-ready img")).to_be_visible()
    customer.screenshot(path=artifact("02-customer-new-ticket-with-paste.png"))
    customer.get_by_role("button", name="Create ticket").click()
    expect(customer.locator(".ticket-heading")).to_have_text(TITLE)
    ticket_path = customer.url.split(stack.url, 1)[1]
    assert ticket_path.startswith("/tickets/acme/")

    # The agent sees it arrive in the inbox without reloading, opens it, and the screenshot is there.
    row = agent.locator(".ticket-row", has_text=TITLE)
    expect(row).to_be_visible()
    expect(row).to_have_class(_contains("unread"))
    agent.screenshot(path=artifact("03-agent-inbox-live.png"))
    row.click()
    expect(agent.locator(".ticket-heading")).to_have_text(TITLE)
    thumb = agent.locator(".comment-opening .attachment-thumb img")
    expect(thumb).to_be_visible()
    agent.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=thumb.element_handle())

    # The customer sees the agent looking at it, then typing.
    # Agents' names are public within the project, so the customer sees who it is before Sam joins.
    expect(customer.locator(".presence-item.viewing")).to_contain_text("Sam Rivera is viewing")
    agent.locator(".composer textarea").fill("So sorry!")
    expect(customer.locator(".presence-item.composing")).to_contain_text("Sam Rivera is replying")
    customer.screenshot(path=artifact("04-customer-sees-agent-replying.png"))

    # The reply appears in the customer's open page, live: the same document, never reloaded.
    # (How fast it arrives is measured by bench's browser group, not here.)
    customer.evaluate("() => { window.__sameDocument = true; }")
    agent.locator(".composer textarea").fill(REPLY)
    agent.locator(".composer").evaluate("form => form.requestSubmit()")
    expect(customer.locator(".comment", has_text=REPLY[:40])).to_be_visible()
    assert customer.evaluate("() => window.__sameDocument === true")
    expect(customer.locator(".comment", has_text=REPLY[:40])).to_have_class(_contains("comment-staff"))

    # An internal note: styled apart for agents, never shown to the customer (nor its typing indicator).
    agent.get_by_role("tab", name="Internal note").click()
    agent.locator(".composer textarea").fill(NOTE)
    agent.get_by_role("button", name="Send").click()
    note = agent.locator(".comment.comment-internal", has_text=NOTE[:30])
    expect(note).to_be_visible()
    expect(note.locator(".internal-badge")).to_have_text("Internal note")
    agent.locator("#ctl-status").select_option("pending")
    expect(customer.locator(".ticket-header .status-badge")).to_have_text("Pending")  # live, without a reload
    agent.screenshot(path=artifact("05-agent-ticket-with-note.png"))
    customer.wait_for_timeout(1000)  # time for a leak to arrive, if there were one
    assert NOTE[:30] not in customer.locator("#thread").inner_text()
    expect(customer.locator(".presence-item.composing")).to_have_count(0)
    customer.screenshot(path=artifact("06-customer-sees-reply-not-note.png"))

    # A reload on the deep link lands on the same ticket, still without the note.
    customer.reload()
    expect(customer.locator(".ticket-heading")).to_have_text(TITLE)
    expect(customer.locator(".comment", has_text=REPLY[:40])).to_be_visible()
    assert NOTE[:30] not in customer.locator("#thread").inner_text()
    fresh_tab = customer_ctx.new_page()
    fresh_tab.goto(stack.url + ticket_path)  # typed into a new tab: remembered sign-in, same ticket
    expect(fresh_tab.locator(".ticket-heading")).to_have_text(TITLE)
    fresh_tab.screenshot(path=artifact("07-customer-deep-link-reload.png"))

    agent_console.check()
    customer_console.check()
    agent_ctx.close()
    customer_ctx.close()


def _contains(cls: str) -> Any:
    import re

    return re.compile(rf"(^|\s){re.escape(cls)}(\s|$)")
