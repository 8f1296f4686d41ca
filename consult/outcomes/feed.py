"""The notice board as an Atom feed (RFC 4287), one per community or for all of them.

Built with ElementTree, so every text is escaped by the serializer: summaries travel as
plain text in ``<summary>`` and as sanitised HTML (the site's Markdown renderer, which keeps
no script, no raw HTML and no ``javascript:`` link) in ``<content type="html">``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from consult.core.markdown import render
from consult.core.time import isoformat, utcnow

ATOM = "http://www.w3.org/2005/Atom"
ET.register_namespace("", ATOM)


def _el(parent, tag: str, text: str | None = None, **attrs) -> ET.Element:
    element = ET.SubElement(parent, f"{{{ATOM}}}{tag}", {k: str(v) for k, v in attrs.items()})
    if text is not None:
        element.text = text
    return element


def _plain(summary: str, limit: int = 400) -> str:
    text = " ".join((summary or "").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def build_feed(items, *, feed_url: str, site_url: str, title: str, author: str,
               entry_url, status_label) -> bytes:  # fmt: skip
    """The Atom document for ``items`` (notice board lines, newest first).

    ``entry_url(item)`` gives each outcome's absolute permanent address.
    """
    feed = ET.Element(f"{{{ATOM}}}feed")
    feed.set("{http://www.w3.org/XML/1998/namespace}lang", "zh-Hans")
    _el(feed, "id", feed_url)
    _el(feed, "title", title)
    updated = max((item.updated_at for item in items), default=None) or utcnow()
    _el(feed, "updated", isoformat(updated))
    _el(feed, "link", rel="self", type="application/atom+xml", href=feed_url)
    _el(feed, "link", rel="alternate", type="text/html", href=site_url)
    who = _el(feed, "author")
    _el(who, "name", author)
    _el(feed, "generator", "Yiting")
    for item in items:
        entry = _el(feed, "entry")
        url = entry_url(item)
        _el(entry, "id", url)
        _el(entry, "title", item.title)
        _el(entry, "updated", isoformat(item.updated_at))
        _el(entry, "published", isoformat(item.published_at))
        _el(entry, "link", rel="alternate", type="text/html", href=url)
        entry_author = _el(entry, "author")
        _el(entry_author, "name", item.community_name)
        if item.category:
            _el(entry, "category", term=item.category)
        _el(entry, "summary", _plain(f"[{status_label(item)}] {item.summary}"))
        _el(entry, "content", str(render(item.summary)), type="html")
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True)
