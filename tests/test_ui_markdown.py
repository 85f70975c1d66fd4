"""Comment Markdown becomes HTML that cannot run anything, whatever a customer types."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from hero_assistance.ui._markdown import render_markdown

HARMLESS = {"p", "a", "strong", "em", "code", "pre", "ul", "ol", "li", "blockquote", "br", "hr", "s", "del"}


def elements(html: str) -> list[tuple[str, list[tuple[str, str | None]]]]:
    found: list[tuple[str, list[tuple[str, str | None]]]] = []

    class Collect(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            found.append((tag, attrs))

    Collect().feed(html)
    return found


def test_markdown_renders_the_usual_things() -> None:
    html = render_markdown("**bold** _it_ `code`\n\n- one\n- two\n\n> quoted\n\n[docs](https://example.com/a?b=1&c=2)")
    assert "<strong>bold</strong>" in html and "<em>it</em>" in html and "<code>code</code>" in html
    assert "<li>one</li>" in html and "<blockquote>" in html
    assert 'href="https://example.com/a?b=1&amp;c=2"' in html
    assert 'rel="noopener noreferrer nofollow"' in html and 'target="_blank"' in html


@pytest.mark.parametrize(
    "attack",
    [
        "<script>alert(1)</script>",
        '<img src=x onerror="alert(1)">',
        "[click](javascript:alert(1))",
        "[click](JaVaScRiPt:alert(1))",
        "![x](javascript:alert(1))",
        '<a href="javascript:alert(1)">x</a>',
        "<iframe src='https://evil.example'></iframe>",
        "<svg onload=alert(1)>",
        "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
        "<style>body{display:none}</style>",
        '<div style="position:fixed">x</div>',
    ],
)
def test_nothing_executable_survives(attack: str) -> None:
    """What comes out is only harmless elements, no event handlers, no styles, only web and mail links;
    the attack's text may remain, as text."""
    html = render_markdown(attack)
    for tag, attrs in elements(html):
        assert tag in HARMLESS, (attack, html)
        for name, value in attrs:
            assert not name.startswith("on") and name != "style", (attack, html)
            if name == "href":
                assert (value or "").startswith(("http://", "https://", "mailto:")), (attack, html)


def test_images_become_links_not_requests_to_third_parties() -> None:
    html = render_markdown("![tracking pixel](https://evil.example/pixel.png)")
    assert "<img" not in html
    assert '<a href="https://evil.example/pixel.png"' in html and "tracking pixel" in html
