"""A big inbox stays quick: 10,000 tickets over two projects, first page on screen in under a second
(paged from the servers, never loaded whole), and j/k/Enter walk it from the keyboard."""

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

# Records when the first real ticket row appears, measured from the start of navigation.
FIRST_ROW_PROBE = """
new MutationObserver((_, observer) => {
  if (document.querySelector(".ticket-row:not(.placeholder-glow)")) {
    window.__firstRowAt = performance.now();
    observer.disconnect();
  }
}).observe(document, { childList: true, subtree: true });
"""


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


def test_ten_thousand_tickets_first_page_under_a_second(big_stack: StackThread, browser: Any) -> None:
    expect = playwright_sync.expect
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    page.goto(big_stack.sign_in_link(AGENT, "acme", "globex"))
    expect(page.locator(".ticket-row").first).to_be_visible()

    page.add_init_script(FIRST_ROW_PROBE)
    timings = []
    for _ in range(3):  # a returning agent's loads; the typical one must be quick (the box may be busy)
        page.goto(big_stack.url + "/")
        page.wait_for_function("() => window.__firstRowAt !== undefined")
        timings.append(page.evaluate("() => window.__firstRowAt"))
    print(f"first page of 10,000 tickets on screen after {timings} ms")
    assert sorted(timings)[1] < 1000, timings
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
