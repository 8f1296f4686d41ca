"""Known cross-site scripting payloads, and helpers that fit them into Yiting's fields.

Each payload is posted as it is into names, titles, messages, motions, reasons, topics,
outcomes and comments (tests/test_xss_browser.py) and must come back as text: escaped in
plain fields, shown literally by the Markdown renderer (which drops raw HTML and unsafe
links). Payloads that try to run a script set ``window.__xss`` or open a dialog, so a page
that runs one is caught either way.
"""

from __future__ import annotations

from dataclasses import dataclass

MARKER = "__xss"
RLO = "\u202e"  # RIGHT-TO-LEFT OVERRIDE


@dataclass(frozen=True)
class Payload:
    name: str
    text: str
    #: what a reader sees where the text is rendered as Markdown (None: not checked, e.g.
    #: HTML entities, which Markdown decodes on purpose)
    markdown_text: str | None = ""

    @property
    def shown_in_markdown(self) -> str | None:
        return self.text if self.markdown_text == "" else self.markdown_text


CODE_LINE = "<script>alert(1)</script> " + "C" * 300

PAYLOADS: tuple[Payload, ...] = (
    Payload("script-marker", "<script>window.__xss=1</script>"),
    Payload("script-alert", "<script>alert(1)</script>"),
    Payload("img-onerror-alert", "<img src=x onerror=alert(1)>"),
    Payload("img-onerror-marker", '<img src=x onerror="window.__xss=1">'),
    Payload("svg-onload", '<svg onload="window.__xss=1">'),
    Payload("svg-script", "<svg><script>alert(1)</script></svg>"),
    Payload("details-ontoggle", '<details open ontoggle="window.__xss=1">'),
    Payload("iframe-js", '<iframe src="javascript:alert(1)"></iframe>'),
    Payload("anchor-js", '<a href="javascript:window.__xss=1">link</a>'),
    Payload("js-url", "javascript:alert(1)"),
    Payload("data-url", "data:text/html,<script>alert(1)</script>"),
    Payload("md-link-js", "[x](javascript:alert(1))"),
    Payload("md-link-js-case", "[w](JaVaScRiPt:window.__xss=1)"),
    Payload("md-link-js-entity", "[y](javascript&#58;alert(1))", None),
    Payload("md-link-data", "[z](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)"),
    Payload("md-autolink-js", "<javascript:alert(1)>"),
    Payload("md-image-js", "![p](javascript:alert(1))"),
    Payload("broken-double-quote", '"><script>window.__xss=1</script>'),
    Payload("broken-single-quote", "'><img src=x onerror=window.__xss=1>"),
    Payload("textarea-breakout", "</textarea><img src=x onerror=alert(1)>"),
    Payload("title-breakout", "</title><svg onload=alert(1)>"),
    Payload("comment-breakout", "<!-- --><img src=x onerror=alert(1)>"),
    Payload("template-jinja", "{{7*7}}"),
    Payload("template-jinja-block", "{% print 7*7 %}"),
    Payload("template-js", "${7*7}"),
    Payload("html-entities", "&lt;b&gt;not bold&lt;/b&gt; &amp;", None),
    Payload("rtl-override", RLO + "gnp.exe"),
    # Markdown that keeps long lines: a code block and a table (must scroll or wrap).
    Payload("md-code-block", CODE_LINE.join(("```\n", "\n```")), CODE_LINE),
    Payload("md-table", "| a | b |\n|---|---|\n| " + "T" * 300 + " | <b>x</b> |", None),
)

#: Yiting closes a directional override a text leaves open (one more character), so the
#: helpers leave that much room below a field's limit.
BIDI_ROOM = 1

#: A word without spaces that must wrap (SPEC: works at 360 px).
LONG_WORD_LENGTH = 5_000


def long_word(length: int = LONG_WORD_LENGTH) -> str:
    return "W" * length


def pack(limit: int, offset: int = 0, *, word: int = 0) -> str:
    """As many payloads as fit into a field of ``limit`` characters, starting at ``offset``
    in the list (so that different objects carry different ones), separated by spaces, and
    then a long word of ``word`` characters."""
    limit -= BIDI_ROOM
    budget = limit - (word + 1 if word else 0)
    parts: list[str] = []
    used = 0
    count = len(PAYLOADS)
    for index in range(count):
        text = PAYLOADS[(offset + index) % count].text
        extra = len(text) + (1 if parts else 0)
        if used + extra <= budget:
            parts.append(text)
            used += extra
    if word:
        parts.append(long_word(word))
    return " ".join(parts)


def everything(limit: int, *, word: int = LONG_WORD_LENGTH) -> str:
    """Every payload, one paragraph each, and then a long word (as long as fits)."""
    limit -= BIDI_ROOM
    body = "\n\n".join(p.text for p in PAYLOADS)
    room = limit - len(body) - 2
    assert room >= 10, f"the corpus does not fit into {limit} characters"
    return body + "\n\n" + long_word(min(room, word))


def packed_payloads(value: str) -> list[Payload]:
    """The payloads a packed value carries."""
    return [p for p in PAYLOADS if p.text in value]
