"""Language completeness: every user-facing string has a Simplified Chinese translation (the
English is the source text), no template holds untranslated literal text, and both languages
are served."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
CATALOG = ROOT / "consult" / "translations" / "zh" / "LC_MESSAGES" / "messages.po"
KEYWORDS = {
    "_": None, "gettext": None, "_l": None, "lazy_gettext": None,
    "ngettext": (1, 2), "lazy_ngettext": (1, 2),
    "pgettext": ((1, "c"), 2), "lazy_pgettext": ((1, "c"), 2),
}  # fmt: skip
METHODS = [
    ("consult/**.py", "python"),
    ("voting/**.py", "python"),
    ("templates/**.html", "jinja2"),
]
#: Literal text that is the same in both languages.
SAME_IN_BOTH = {"Yiting", "议厅", "English", "中文", "Markdown", "CSV", "JSON", "Atom", "SHA-256",
                "A4", "API", "ID", "UTC"}  # fmt: skip
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]|%[sd]")


def extracted() -> dict[tuple[str, str | None], str]:
    """Every message in the code and templates: ``(msgid, context)`` → where it is."""
    found = {}
    for filename, lineno, message, _comments, context in extract_from_dir(
        str(ROOT), METHODS, keywords=KEYWORDS, comment_tags=()
    ):
        msgid = message[0] if isinstance(message, tuple) else message
        found.setdefault((msgid, context), f"{filename}:{lineno}")
    return found


def test_every_message_has_a_chinese_translation():
    with CATALOG.open("rb") as handle:
        catalog = read_po(handle, locale="zh")
    missing, fuzzy, placeholders = [], [], []
    for (msgid, context), where in sorted(extracted().items(), key=lambda kv: kv[1]):
        entry = catalog.get(msgid, context=context)
        if entry is None or not entry.string or (isinstance(entry.string, tuple)
                                                 and not all(entry.string)):  # fmt: skip
            missing.append(f"{where}: {msgid!r}")
            continue
        if entry.fuzzy:
            fuzzy.append(f"{where}: {msgid!r}")
        translated = entry.string if isinstance(entry.string, str) else entry.string[0]
        if sorted(PLACEHOLDER.findall(msgid)) != sorted(PLACEHOLDER.findall(translated)):
            placeholders.append(f"{where}: {msgid!r} -> {translated!r}")
    assert not missing, f"{len(missing)} messages lack Chinese:\n" + "\n".join(missing[:60])
    assert not fuzzy, "fuzzy translations:\n" + "\n".join(fuzzy[:60])
    assert not placeholders, "placeholders differ:\n" + "\n".join(placeholders[:60])


_JINJA = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.S)
_WORDS = re.compile(r"[A-Za-z\u4e00-\u9fff]{2,}")
_TEXT_ATTRS = {"aria-label", "title", "placeholder", "alt"}


class _TextFinder(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self.skip = 0

    def _check(self, text: str) -> None:
        for chunk in text.split("\x00"):
            chunk = chunk.strip(" \t\n·:|/()—-–,.;")
            if chunk and _WORDS.search(chunk) and chunk not in SAME_IN_BOTH:
                self.found.append(chunk)

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self.skip += 1
        for name, value in attrs:
            if name in _TEXT_ATTRS and value:
                self._check(value)

    def handle_endtag(self, tag):
        if tag in ("script", "style") and self.skip:
            self.skip -= 1

    def handle_data(self, data):
        if not self.skip:
            self._check(data)


def literal_text(source: str) -> list[str]:
    """Text a person would read that is written literally in a template (not translated)."""
    finder = _TextFinder()
    finder.feed(_JINJA.sub("\x00", source))
    finder.close()
    return finder.found


def test_templates_have_no_untranslated_literal_text():
    problems = []
    for path in sorted((ROOT / "templates").rglob("*.html")):
        for text in literal_text(path.read_text(encoding="utf-8")):
            problems.append(f"{path.relative_to(ROOT)}: {text!r}")
    assert not problems, "literal text in templates:\n" + "\n".join(problems[:80])


def test_the_checker_finds_literal_text():
    assert literal_text("<p>Hello there</p>") == ["Hello there"]
    assert literal_text('<button aria-label="Close">{{ _("Close") }}</button>') == ["Close"]
    assert literal_text("<p>{{ _('Hello') }} · {{ name }}</p>") == []


def test_both_languages_are_served(client):
    chinese = client.get("/login", headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    english = client.get("/login", headers={"Accept-Language": "en-US,en;q=0.9"})
    assert 'lang="zh-Hans"' in chinese.get_data(as_text=True)
    assert "登录" in chinese.get_data(as_text=True)
    assert 'lang="en"' in english.get_data(as_text=True)
    assert "Sign in" in english.get_data(as_text=True)


def test_the_header_names_yiting_once_in_chinese_and_beside_its_english_name(client):
    brand = re.compile(r'<a class="brand"[^>]*>(.*?)</a>', re.S)
    chinese = client.get("/login", headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    english = client.get("/login", headers={"Accept-Language": "en-US,en;q=0.9"})
    assert brand.search(chinese.get_data(as_text=True)).group(1) == "议厅"
    assert brand.search(english.get_data(as_text=True)).group(1) == (
        'Yiting <span lang="zh-Hans">议厅</span>'
    )


def test_wtforms_own_messages_are_translated_from_a_catalogue_read_once(app, monkeypatch):
    """A field's built-in message is in the reader's language; WTForms' catalogue is read
    once per language, not for every request (each Socket.IO event is one)."""
    from babel import support
    from flask_babel import refresh
    from werkzeug.datastructures import MultiDict
    from wtforms import IntegerField

    from consult.core import forms

    class Number(forms.Form):
        number = IntegerField("Number")  # a label of its own: none to translate

    def error(language):
        with app.test_request_context(headers={"Accept-Language": language}):
            refresh()  # the locale is found again for this request
            form = Number(formdata=MultiDict({"number": "seven"}), meta={"csrf": False})
            assert not form.validate()
            return form.errors["number"][0]

    forms._catalogue.cache_clear()
    loads = []
    real_load = support.Translations.load

    def counted_load(*args, **kwargs):
        loads.append(args)
        return real_load(*args, **kwargs)

    monkeypatch.setattr(support.Translations, "load", counted_load)
    assert [error("zh"), error("zh"), error("en"), error("zh")] == [
        "不是有效的整数。", "不是有效的整数。", "Not a valid integer value.", "不是有效的整数。"
    ]  # fmt: skip
    assert len(loads) == 2  # zh, en

    # The language is looked up when a message is made, not for a form that needs none.
    looked_up = []
    real_get_locale = forms.get_locale
    monkeypatch.setattr(forms, "get_locale", lambda: looked_up.append(1) or real_get_locale())
    with app.test_request_context(headers={"Accept-Language": "zh"}):
        refresh()
        valid = Number(formdata=MultiDict({"number": "7"}), meta={"csrf": False})
        assert valid.validate() and valid.number.data == 7
        assert looked_up == []
        invalid = Number(formdata=MultiDict({"number": "7.5"}), meta={"csrf": False})
        assert not invalid.validate() and invalid.errors["number"] == ["不是有效的整数。"]
        assert looked_up == [1]


def test_a_template_finds_its_languages_texts_once_and_again_when_the_language_changes(
    app, monkeypatch
):
    from flask import render_template_string
    from flask_babel import force_locale, refresh

    from consult.web import i18n

    found = []
    real = i18n.get_translations
    monkeypatch.setattr(i18n, "get_translations", lambda: found.append(1) or real())
    sign_in = "{{ _('Sign in') }} · {{ ngettext('%(num)d vote', '%(num)d votes', 2) }}"
    with app.test_request_context(headers={"Accept-Language": "zh"}):
        refresh()
        chinese = [render_template_string(sign_in) for _ in range(3)]
        assert len(set(chinese)) == 1 and chinese[0].startswith("登录 · ")
        assert len(found) == 1  # once for the request, not for every text
        with force_locale("en"):
            assert render_template_string(sign_in) == "Sign in · 2 votes"
        assert render_template_string(sign_in) == chinese[0]
        refresh()  # the locale is found again (as after a change of language)
        assert render_template_string(sign_in) == chinese[0]
        assert len(found) == 4
