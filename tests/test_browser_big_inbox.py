"""A big inbox: 10,000 tickets over two projects, shown a page at a time (paged from the servers, never
loaded whole), counted exactly, searched on the servers, and walked with j/k/Enter from the keyboard.

How quickly the first page appears is measured by bench's browser group (``python -m bench --only browser``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from hero_assistance.core import Caller

from ._ui_fixtures import CHROMIUM_ARGS, StackThread, artifact, ensure_chromium, short_tmp

pytestmark = [pytest.mark.browser, pytest.mark.slow]

playwright_sync = pytest.importorskip("playwright.sync_api")

PER_PROJECT = 5_000
AGENT = "ada@helpdesk.example"


@pytest.fixture(scope="module")
def big_stack() -> Iterator[StackThread]:
    with short_tmp() as root:
        stack = StackThread(root).start()
        try:
            for project in ("acme", "globex"):
                stack.call(project, "user.enroll", email=AGENT, role="support", display_name="Ada Agent")
                stack.call(project, "user.enroll", email="many@example.com", role="customer", display_name="Many")

            async def fill() -> None:
                # Alternating, so the most recent page of the merged inbox holds tickets of both projects.
                customer = Caller.from_user("many@example.com")
                for i in range(PER_PROJECT):
                    for project in ("acme", "globex"):
                        await stack.servers[project].project.call(
                            "ticket.create",
                            customer,
                            title=f"{project} ticket number {i}",
                            body="Something is wrong.",
                            priority=("low", "normal", "high", "urgent")[i % 4],
                        )

            stack.run(fill)
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


def test_ten_thousand_tickets_page_from_the_servers(big_stack: StackThread, browser: Any) -> None:
    expect = playwright_sync.expect
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    page.goto(big_stack.sign_in_link(AGENT, "acme", "globex"))
    expect(page.locator(".ticket-row").first).to_be_visible()

    page.goto(big_stack.url + "/")  # a returning agent's load
    expect(page.locator(".ticket-row:not(.placeholder-glow)").first).to_be_visible()
    rows = page.locator(".ticket-row")
    assert rows.count() == 50  # one page, merged from both projects, not the whole inbox
    expect(page.locator("[data-preset=all] .nav-count")).to_have_text("10000")
    projects = set(rows.evaluate_all("rows => rows.map(r => r.dataset.project)"))
    assert projects == {"acme", "globex"}
    page.screenshot(path=artifact("10-big-inbox.png"))

    # The keyboard: j / k move the selection, Enter opens it, Escape goes back.
    page.keyboard.press("j")
    page.keyboard.press("j")
    page.keyboard.press("k")
    selected = page.locator(".ticket-row.selected")
    expect(selected).to_have_count(1)
    title = selected.locator(".ticket-title").inner_text()
    page.keyboard.press("Enter")
    expect(page.locator(".ticket-heading")).to_have_text(title)
    page.keyboard.press("Escape")
    expect(page).to_have_url(big_stack.url + "/")

    # Scrolling to the end fetches the next page.
    page.locator(".list-scroll").evaluate("el => el.scrollTo(0, el.scrollHeight)")
    expect(rows).to_have_count(100)

    # Search runs on the servers (full text) and merges both projects' hits; "/" focuses it.
    page.keyboard.press("/")
    page.keyboard.type("number 4321")
    expect(rows).to_have_count(2)
    assert sorted(rows.evaluate_all("rows => rows.map(r => r.dataset.project)")) == ["acme", "globex"]
    expect(page.locator(".list-title")).to_have_text("Search: “number 4321”")
    context.close()
