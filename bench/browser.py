"""The browser app's speed, in Chromium: a big inbox's first page, and a live reply's latency.

The tests prove these behaviours (``tests/test_browser_big_inbox.py``, ``tests/test_browser_support_flow.py``);
how fast they happen is measured here, where a busy machine makes a figure late instead of a build red.
The stack (two real project servers and the real ui in one trio loop, in a thread) and Chromium (Debian's,
installed with apt-get when missing) are the browser tests' own.

- **First page of 10,000 tickets**: an agent of two projects of 5,000 tickets each reloads the inbox; the time
  from the start of navigation to the first real ticket row on screen (``performance.now()``), median of the
  loads. Target: under 1 s.
- **Live reply latency**: an agent and a customer (two browser contexts) have the same ticket open; the agent
  sends a reply, the customer's page sees its text appear (a ``MutationObserver`` on the thread). Both pages
  share one clock (``Date.now()`` in one Chromium process). Target: median under 300 ms.
"""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

from hero_assistance.core import Caller
from tests._ui_fixtures import CHROMIUM_ARGS, StackThread, install_chromium, short_tmp

from ._report import Report, percentile

GROUP = "browser"
PER_PROJECT = 5_000
AGENT = "ada@helpdesk.example"
CUSTOMER = "many@example.com"
FIRST_PAGE_TARGET_MS = 1000.0
REPLY_TARGET_MS = 300.0

#: Records when the first real ticket row appears, measured from the start of navigation.
FIRST_ROW_PROBE = """
new MutationObserver((_, observer) => {
  if (document.querySelector(".ticket-row:not(.placeholder-glow)")) {
    window.__firstRowAt = performance.now();
    observer.disconnect();
  }
}).observe(document, { childList: true, subtree: true });
"""

#: Arms a probe that records when ``text`` first shows in the thread.
REPLY_PROBE = """(text) => {
    window.__replySeenAt = null;
    const thread = document.getElementById("thread");
    const observer = new MutationObserver(() => {
        if (thread.textContent.includes(text)) {
            window.__replySeenAt = Date.now();
            observer.disconnect();
        }
    });
    observer.observe(thread, { childList: true, subtree: true, characterData: true });
}"""


def _seed(stack: StackThread) -> int:
    """10,000 tickets, alternating projects; returns one of the customer's acme tickets."""
    for project in ("acme", "globex"):
        stack.call(project, "user.enroll", email=AGENT, role="support", display_name="Ada Agent")
        stack.call(project, "user.enroll", email=CUSTOMER, role="customer", display_name="Many")
    customer = Caller.from_user(CUSTOMER)

    async def fill() -> int:
        last = 0
        for i in range(PER_PROJECT):
            for project in ("acme", "globex"):
                ticket = await stack.servers[project].project.call(
                    "ticket.create", customer, title=f"{project} ticket number {i}", body="Something is wrong."
                )
                if project == "acme":
                    last = ticket["id"]
        return last

    return int(stack.run(fill))


def _first_page(browser: Any, stack: StackThread, loads: int) -> list[float]:
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    try:
        page = context.new_page()
        page.goto(stack.sign_in_link(AGENT, "acme", "globex"))
        page.wait_for_selector(".ticket-row:not(.placeholder-glow)")
        page.add_init_script(FIRST_ROW_PROBE)
        timings = []
        for _ in range(loads):
            page.goto(stack.url + "/")
            page.wait_for_function("() => window.__firstRowAt !== undefined")
            timings.append(float(page.evaluate("() => window.__firstRowAt")))
        return timings
    finally:
        context.close()


def _reply_latency(browser: Any, stack: StackThread, ticket_id: int, replies: int) -> list[float]:
    agent_ctx = browser.new_context()
    customer_ctx = browser.new_context()
    try:
        agent, customer = agent_ctx.new_page(), customer_ctx.new_page()
        agent.goto(stack.sign_in_link(AGENT, "acme"))
        customer.goto(stack.sign_in_link(CUSTOMER, "acme"))
        for page in (agent, customer):
            page.wait_for_selector(".ticket-row:not(.placeholder-glow)")
            page.goto(f"{stack.url}/tickets/acme/{ticket_id}")
            page.wait_for_selector(".composer textarea")
        samples = []
        for n in range(replies):
            text = f"Reply number {n} from the help desk, on its way."
            customer.evaluate(REPLY_PROBE, text)
            agent.locator(".composer textarea").fill(text)
            sent_at = agent.evaluate(
                "() => { const t = Date.now(); document.querySelector('.composer').requestSubmit(); return t; }"
            )
            customer.wait_for_function("() => window.__replySeenAt !== null")
            samples.append(float(customer.evaluate("() => window.__replySeenAt")) - sent_at)
            agent.wait_for_function("() => !document.querySelector('.composer textarea').value")  # sent, cleared
        return samples
    finally:
        agent_ctx.close()
        customer_ctx.close()


def run(report: Report, workdir: Path, *, quick: bool) -> None:
    del workdir  # the stack lives in a short folder of its own: Unix socket paths must fit in 108 bytes
    from playwright.sync_api import sync_playwright

    executable = install_chromium()
    loads, replies = (3, 5) if quick else (7, 20)
    with short_tmp() as root:
        stack = StackThread(root).start()
        try:
            ticket_id = _seed(stack)
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
                try:
                    timings = _first_page(browser, stack, loads)
                    latencies = _reply_latency(browser, stack, ticket_id, replies)
                finally:
                    browser.close()
        finally:
            stack.stop()
    first = statistics.median(timings)
    report.add(
        GROUP,
        f"first page of 10,000 tickets (median of {loads} loads)",
        first,
        "ms",
        target=f"< {FIRST_PAGE_TARGET_MS:.0f} ms",
        ok=first < FIRST_PAGE_TARGET_MS,
    )
    median = statistics.median(latencies)
    report.add(
        GROUP,
        f"live reply latency (median of {replies})",
        median,
        "ms",
        target=f"< {REPLY_TARGET_MS:.0f} ms",
        ok=median < REPLY_TARGET_MS,
    )
    report.add(GROUP, f"live reply latency (p95 of {replies})", percentile(latencies, 95), "ms")
