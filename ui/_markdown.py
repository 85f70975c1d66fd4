"""Comment Markdown to HTML that is safe to put into the page.

Two layers, on purpose: markdown-it runs with raw HTML disabled (``<b>`` in a comment stays text),
and nh3 then allow-lists the result, so a parser bug cannot smuggle a script or an event handler
through. Images become links: an ``<img>`` pointing elsewhere would tell a third party who read the
comment (the page's CSP blocks them anyway); screenshots travel as attachments instead.
"""

from __future__ import annotations

from functools import lru_cache

import nh3
from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml
from markdown_it.token import Token

_TAGS = {
    "a",
    "b",
    "blockquote",
    "br",
    "code",
    "del",
    "em",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "i",
    "li",
    "ol",
    "p",
    "pre",
    "s",
    "strong",
    "table",
    "tbody",
    "td",
    "th",
    "thead",
    "tr",
    "ul",
}
_ATTRIBUTES = {"a": {"href", "title"}, "th": {"align"}, "td": {"align"}, "code": {"class"}}
_URL_SCHEMES = {"http", "https", "mailto"}

_md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False, "breaks": True}).enable(
    ["table", "strikethrough"]
)


def _image_as_link(self: object, tokens: list[Token], idx: int, options: object, env: object) -> str:
    token = tokens[idx]
    src = escapeHtml(str(token.attrGet("src") or ""))
    alt = escapeHtml(token.content or "image")
    return f'<a href="{src}">{alt}</a>'


_md.add_render_rule("image", _image_as_link)


@lru_cache(maxsize=4096)
def render_markdown(text: str) -> str:
    """Sanitised HTML for one comment or ticket body (cached: the same text renders the same)."""
    html = _md.render(text)
    return nh3.clean(
        html,
        tags=_TAGS,
        attributes=_ATTRIBUTES,
        url_schemes=_URL_SCHEMES,
        link_rel="noopener noreferrer nofollow",
        set_tag_attribute_values={"a": {"target": "_blank"}},
        strip_comments=True,
    )
