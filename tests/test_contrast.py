"""Contrast of Yiting's colours by the WCAG 2.2 formula (relative luminance), read from the
style sheets themselves: text at least 4.5:1 (1.4.3, AA), the borders of form fields and the
focus ring at least 3:1 against what surrounds them (1.4.11, AA). The rendered pages are
checked as well, by axe-core's color-contrast rule in tests/test_a11y_browser.py."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CSS = ROOT / "static" / "css"
TEXT, NON_TEXT = 4.5, 3.0

#: (foreground, background) custom properties of site.css that are text on a surface.
TEXT_PAIRS = [
    *[(fg, bg) for fg in ("--fg", "--muted", "--accent", "--danger", "--ok", "--warn")
      for bg in ("--bg", "--panel")],
    ("--accent-fg", "--accent"),  # the text of a button
    ("--accent-fg", "--danger"),  # the text of a dangerous button
]  # fmt: skip
#: Non-text: what identifies a control or its state, against the page around it.
NON_TEXT_PAIRS = [
    ("--field", "--bg"), ("--field", "--panel"),    # the border of a text field
    ("--focus", "--bg"), ("--focus", "--panel"),    # the focus ring
    ("--accent", "--bg"), ("--accent", "--panel"),  # a button's own edge
]  # fmt: skip


def channel(value: int) -> float:
    c = value / 255
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def luminance(colour: str) -> float:
    digits = colour.lstrip("#")
    if len(digits) == 3:
        digits = "".join(d * 2 for d in digits)
    if not re.fullmatch(r"[0-9a-fA-F]{6}", digits):
        raise ValueError(f"not a #rgb or #rrggbb colour: {colour}")
    r, g, b = (channel(int(digits[i : i + 2], 16)) for i in (0, 2, 4))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    light, dark = sorted((luminance(a), luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def without_comments(text: str) -> str:
    return re.sub(r"/\*.*?\*/", "", text, flags=re.S)


def custom_properties() -> dict[str, str]:
    """The colours of the ``:root`` rule of site.css."""
    css = without_comments((CSS / "site.css").read_text())
    root = re.search(r":root\s*\{([^}]*)\}", css)
    assert root, "site.css has no :root rule"
    return {
        name: value.strip()
        for name, value in re.findall(r"(--[\w-]+)\s*:\s*([^;]+);", root.group(1))
        if value.strip().startswith("#")
    }


def resolve(value: str, properties: dict[str, str]) -> str | None:
    value = value.replace("!important", "").strip()
    found = re.fullmatch(r"var\((--[\w-]+)\)", value)
    if found:
        return properties.get(found.group(1))
    return value if re.fullmatch(r"#[0-9a-fA-F]{3}|#[0-9a-fA-F]{6}", value) else None


def rules_with_text_on_a_background():
    """Every rule of every style sheet that sets both a text colour and a plain background."""
    properties = custom_properties()
    for sheet in sorted(CSS.glob("*.css")):
        css = without_comments(sheet.read_text())
        for selector, body in re.findall(r"([^{}]+)\{([^{}]*)\}", css):
            declarations = dict(
                (name.strip(), value.strip())
                for name, value in (d.split(":", 1) for d in body.split(";") if ":" in d)
            )
            background = declarations.get("background-color") or declarations.get("background")
            if "color" not in declarations or not background:
                continue
            fg, bg = resolve(declarations["color"], properties), resolve(background, properties)
            if fg and bg:
                yield f"{sheet.name}: {' '.join(selector.split())}", fg, bg


def test_the_formula():
    assert contrast("#000", "#fff") == pytest.approx(21.0)
    assert contrast("#fff", "#fff") == pytest.approx(1.0)
    assert contrast("#767676", "#fff") == pytest.approx(4.54, abs=0.01)  # the lightest AA grey
    assert contrast("#777777", "#ffffff") < TEXT
    assert contrast("#0b5cad", "#fff") == pytest.approx(contrast("#fff", "#0b5cad"))
    with pytest.raises(ValueError):
        luminance("blue")


def test_site_colours_are_defined():
    properties = custom_properties()
    needed = {name for pair in TEXT_PAIRS + NON_TEXT_PAIRS for name in pair}
    assert needed <= properties.keys(), needed - properties.keys()


@pytest.mark.parametrize(("fg", "bg"), TEXT_PAIRS)
def test_text_colours_have_aa_contrast(fg, bg):
    properties = custom_properties()
    ratio = contrast(properties[fg], properties[bg])
    print(f"{fg} {properties[fg]} on {bg} {properties[bg]}: {ratio:.2f}:1")
    assert ratio >= TEXT, f"{fg} on {bg}: {ratio:.2f}:1 < {TEXT}:1"


@pytest.mark.parametrize(("fg", "bg"), NON_TEXT_PAIRS)
def test_field_borders_and_focus_ring_have_aa_contrast(fg, bg):
    properties = custom_properties()
    ratio = contrast(properties[fg], properties[bg])
    assert ratio >= NON_TEXT, f"{fg} against {bg}: {ratio:.2f}:1 < {NON_TEXT}:1"


def test_fields_and_focus_use_those_colours():
    site = without_comments((CSS / "site.css").read_text())
    fields = re.search(r"input, select, textarea \{([^}]*)\}", site)
    assert fields and "var(--field)" in fields.group(1)
    focus = re.search(r"a:focus-visible[^{]*\{([^}]*)\}", site)
    assert focus and "var(--focus)" in focus.group(1)
    for sheet in CSS.glob("*.css"):
        for rule in re.findall(
            r":focus(?:-visible)?[^{]*\{([^}]*)\}", without_comments(sheet.read_text())
        ):
            colour = re.search(r"outline:[^;]*?(#[0-9a-fA-F]{3,6})", rule)
            if colour:
                assert contrast(colour.group(1), "#ffffff") >= NON_TEXT, (sheet.name, rule)


def test_every_text_on_a_background_in_the_style_sheets_has_aa_contrast():
    checked, weak = [], []
    for where, fg, bg in rules_with_text_on_a_background():
        ratio = contrast(fg, bg)
        checked.append(where)
        if ratio < TEXT:
            weak.append(f"{where}: {fg} on {bg} is {ratio:.2f}:1")
    assert len(checked) >= 5, checked  # buttons, fields, the page, warnings…
    assert not weak, "\n".join(weak)
