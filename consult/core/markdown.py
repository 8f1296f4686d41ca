"""Markdown rendered safely: raw HTML is never passed through, links keep only safe
schemes, and the result is sanitised once more with nh3 as a second line of defence."""

from functools import lru_cache

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup

_full = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
_full.enable("table").enable("strikethrough")

# Light Markdown for chat: emphasis, code, links and lists; no headings, images or tables.
_light = MarkdownIt("commonmark", {"html": False, "breaks": True})
_light.disable(["heading", "lheading", "image", "hr", "fence", "code", "html_block", "html_inline"])

_SAFE_SCHEMES = {"http", "https", "mailto"}
_TAGS = {
    "p", "br", "em", "strong", "code", "pre", "ul", "ol", "li", "blockquote", "a", "h1", "h2",
    "h3", "h4", "h5", "h6", "hr", "table", "thead", "tbody", "tr", "th", "td", "s", "del",
}  # fmt: skip


def _clean(html: str) -> Markup:
    cleaned = nh3.clean(
        html,
        tags=_TAGS,
        attributes={"a": {"href", "title"}, "th": {"align"}, "td": {"align"}},
        url_schemes=_SAFE_SCHEMES,
        link_rel="nofollow noopener noreferrer",
    )
    return Markup(cleaned)  # noqa: S704 — sanitised just above


def render(text: str | None) -> Markup:
    """Full Markdown (background material, motions, outcomes)."""
    return _clean(_full.render(text or ""))


@lru_cache(maxsize=8192)
def render_light(text: str | None) -> Markup:
    """Light Markdown for chat messages and comments. Remembered by text: the room's history
    (up to 200 messages) is rendered again for everyone who joins, at about 0.3 ms each."""
    return _clean(_light.render(text or ""))
