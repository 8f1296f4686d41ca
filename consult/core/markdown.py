"""Markdown rendered safely: raw HTML is never passed through, links keep only safe
schemes, and the result is sanitised once more with nh3 as a second line of defence."""

import re
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


#: What makes a line more than plain text to light Markdown: a character one of its rules acts
#: on or that HTML escapes (escapes, code, emphasis, links, autolinks, entities), a list or
#: quote marker at the start, or space at either end (which a paragraph drops).
_NOT_PLAIN = re.compile(r"[\\`*_\[\]<>&]|^(?:>|(?:[-+]|\d+[.)])(?: |$))|^ | $")


def is_plain(text: str) -> bool:
    """True where light Markdown would make ``text`` one paragraph of itself, unchanged: one
    line of printable characters (no line break, tab, no-break space or other special
    space) that no Markdown rule acts on. Most messages in a room are such a line."""
    return text.isprintable() and _NOT_PLAIN.search(text) is None


def render_light(text: str | None) -> Markup:
    """Light Markdown for chat messages and comments. A plain line is its own paragraph
    without parsing: most messages in a room are one, and the parser and the sanitiser were
    a tenth of a message's time in a profile of the room (docs/performance.md)."""
    if text and is_plain(text):
        return Markup(f"<p>{text}</p>\n")  # noqa: S704 — nothing in it is markup
    return _render_light(text or "")


@lru_cache(maxsize=8192)
def _render_light(text: str) -> Markup:
    """Remembered by text: the room's history (up to 200 messages) is rendered again for
    everyone who joins, at about 0.3 ms each."""
    return _clean(_light.render(text))
