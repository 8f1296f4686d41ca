"""Phones and large text, in a real browser, on every page of Yiting in both languages.

At 360×740 no page scrolls sideways, no visible control is smaller than 44×44 px, and no
page asks the server for anything it refuses nor shows an error in the console. The
rule for the size of a control (WCAG 2.5.5, with the inline exception of 2.5.8):

- the controls are ``a[href]``, ``button``, ``input`` (not hidden), ``select``,
  ``textarea``, ``summary`` and ``[role=button]`` that are rendered and enabled;
- a radio button or checkbox is measured by its label (a click on the label works it);
- exempt are a link inside running text (an inline link whose block has text of its own
  besides the link), and what is hidden from sight (a box of 1 px or less, such as
  ``.visually-hidden``; the skip link while it waits off-screen).

Large text: the "larger text" switch is on every page and is remembered (a cookie) from
page to page. "200 % text" is the larger-text mode with the browser's text zoomed further,
so that the root text is twice the site's normal size (36 px: ``font-size: 225%`` of the
16 px default instead of 112.5 %). There the live room and the ballot stay usable, on a
phone (360 px) and on a desktop (1280 px): no sideways scrolling, every control inside the
window, and every button's label fits inside the button without a word broken in two.

Screenshots of the live room, the ballot (a vote open, as an eligible voter) and the
notice page at phone size are saved in ``test-artifacts/phone/``.
"""

from __future__ import annotations

import time

import pytest

from tests.conftest import ARTIFACTS
from tests.test_a11y_browser import HTML_LANG, People, shared_world, visit, wait_for_room

pytestmark = pytest.mark.browser

PHONE = {"width": 360, "height": 740}
DESKTOP = {"width": 1280, "height": 800}
SHOTS = ARTIFACTS / "phone"
DOUBLE_TEXT = "html.text-large { font-size: 225%; }"  # twice the normal 112.5 %

SMALL_TARGETS = """
() => {
  const MIN = 44 - 0.5;  // CSS pixels; half a pixel for sub-pixel layout
  const text = (node) => (node.textContent || "").replace(/\\s+/g, " ").trim();
  const blockOf = (node) => {
    let parent = node.parentElement;
    while (parent && getComputedStyle(parent).display.startsWith("inline")) parent = parent.parentElement;
    return parent;
  };
  const found = [];
  const controls = 'a[href], button, input:not([type=hidden]), select, textarea, summary, [role=button]';
  for (const el of document.querySelectorAll(controls)) {
    if (el.disabled || !el.checkVisibility({ checkOpacity: true, checkVisibilityCSS: true })) continue;
    let box = el.getBoundingClientRect();
    if (box.width <= 1 || box.height <= 1) continue;  // visually hidden
    if (box.right + window.scrollX <= 0 || box.bottom + window.scrollY <= 0) continue;  // off-screen
    let target = el;
    if (el.matches("input[type=radio], input[type=checkbox]")) {
      const label = el.closest("label") || (el.id && document.querySelector(`label[for="${el.id}"]`));
      if (label) { target = label; box = label.getBoundingClientRect(); }
    }
    if (el.tagName === "A" && getComputedStyle(el).display === "inline") {
      const block = blockOf(el);
      if (block && text(block).length > text(el).length) continue;  // a link in a sentence
    }
    if (box.width < MIN || box.height < MIN)
      found.push(`${Math.round(box.width)}×${Math.round(box.height)} px: ${target.outerHTML.slice(0, 140)}`);
  }
  return found;
}
"""

CLIPPED = """
() => {
  const width = document.documentElement.clientWidth;
  const px = (value) => parseFloat(value) || 0;
  const problems = [];
  for (const el of document.querySelectorAll("button, .button, summary, label.check, select, input, textarea")) {
    if (!el.checkVisibility({ checkOpacity: true, checkVisibilityCSS: true })) continue;
    const box = el.getBoundingClientRect();
    if (box.width <= 1 || box.height <= 1) continue;
    const name = el.outerHTML.slice(0, 120);
    if (box.left < -0.5 || box.right > width + 0.5) problems.push(`outside the window: ${name}`);
    if (el.matches("select, input, textarea")) continue;
    // The label must fit inside the control with words kept whole: the page breaks a word
    // that is too long rather than let it stick out, which keeps it visible but unreadable.
    el.style.overflowWrap = "normal";
    const style = getComputedStyle(el);
    const left = box.left + px(style.borderLeftWidth) + px(style.paddingLeft) - 1;
    const right = box.right - px(style.borderRightWidth) - px(style.paddingRight) + 1;
    const range = document.createRange();
    range.selectNodeContents(el);
    const label = range.getBoundingClientRect();
    el.style.overflowWrap = "";
    if (label.width > 0 && (label.left < left || label.right > right))
      problems.push(`label does not fit (${Math.round(label.width)} px in ${Math.round(right - left)} px): ${name}`);
  }
  return {scrollWidth: document.documentElement.scrollWidth, problems};
}
"""


def scroll_width(page) -> int:
    return page.evaluate("document.documentElement.scrollWidth")


@pytest.fixture(scope="module")
def world(request, tmp_path_factory):
    return shared_world(request, tmp_path_factory)


@pytest.fixture(scope="module")
def phones(browser, world):
    crowd = People(browser, world.base, viewport=PHONE)
    yield crowd
    crowd.close()


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_page_fits_a_phone(world, phones, lang):
    started = time.monotonic()
    SHOTS.mkdir(parents=True, exist_ok=True)
    problems, count = [], 0
    for who in ("visitor", "alice", "chair"):
        page = phones.page(who, lang)
        for name, path in world.pages(who):
            visit(page, world.base + path)
            wait_for_room(page)
            count += 1
            width = scroll_width(page)
            if width > PHONE["width"]:
                problems.append(f"{who}/{lang} {name} ({path}): scrolls sideways, {width} px wide")
            for small in page.evaluate(SMALL_TARGETS):
                problems.append(f"{who}/{lang} {name} ({path}): control too small: {small}")
            if who == "alice" and name == "live room":
                ballot = page.locator(f"#vote-{world.ids['open_vote']} form.ballot-form")
                assert ballot.is_visible(), "alice has a vote: the ballot is in the room"
                page.screenshot(path=str(SHOTS / f"room-{lang}.png"), full_page=True)
                page.locator(f"#vote-{world.ids['open_vote']}").screenshot(
                    path=str(SHOTS / f"ballot-{lang}.png")
                )
            if who == "visitor" and name == "notice detail":
                page.screenshot(path=str(SHOTS / f"notice-{lang}.png"), full_page=True)
        assert page.errors == [], page.errors
        assert page.failed == [], page.failed
    print(f"\nphone, {lang}: {count} pages in {time.monotonic() - started:.1f}s")
    for shot in ("room", "ballot", "notice"):
        assert (SHOTS / f"{shot}-{lang}.png").stat().st_size > 5_000, shot
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_larger_text_is_on_every_page_and_remembered(world, browser, lang):
    crowd = People(browser, world.base, viewport=PHONE)
    try:
        page = crowd.page("alice", lang)
        visit(page, world.base + "/notice")
        normal = page.evaluate("parseFloat(getComputedStyle(document.documentElement).fontSize)")
        page.locator(".prefs a[href^='/text/large']").click()
        page.wait_for_url(world.base + "/notice")
        assert page.evaluate("document.documentElement.classList.contains('text-large')")
        large = page.evaluate("parseFloat(getComputedStyle(document.documentElement).fontSize)")
        assert large >= normal * 1.3, (normal, large)
        assert {c["name"]: c["value"] for c in page.context.cookies()}.get("text") == "large"

        problems = []
        for name, path in world.pages("alice"):
            visit(page, world.base + path)
            wait_for_room(page)
            assert page.get_attribute("html", "lang") == HTML_LANG[lang]
            # remembered: every page comes large, and offers the way back
            assert page.evaluate("document.documentElement.classList.contains('text-large')"), name
            assert page.locator(".prefs a[href^='/text/normal']").count() == 1, name
            width = scroll_width(page)
            if width > PHONE["width"]:
                problems.append(
                    f"{lang} {name} ({path}): scrolls sideways at larger text, {width} px"
                )
            problems += [f"{lang} {name}: {p}" for p in page.evaluate(CLIPPED)["problems"]]
        assert not problems, "\n".join(problems)

        page.locator(".prefs a[href^='/text/normal']").click()
        page.wait_for_load_state()
        assert not page.evaluate("document.documentElement.classList.contains('text-large')")
        assert page.locator(".prefs a[href^='/text/large']").count() == 1
    finally:
        crowd.close()


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_room_and_ballot_at_200_percent_text(world, browser, lang):
    """Twice the normal text size: the room and the ballot still work on a phone and a desktop."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    ids = world.ids
    problems = []
    for viewport in (PHONE, DESKTOP):
        # bypass_csp: the extra text zoom is a style the test adds to the page
        crowd = People(browser, world.base, viewport=viewport, bypass_csp=True)
        try:
            for who, path in (
                ("alice", f"/consultations/{ids['live']}"),
                ("alice", f"/motions/{ids['open_motion']}"),
                ("chair", f"/consultations/{ids['live']}"),
            ):
                page = crowd.page(who, lang)
                visit(page, f"{world.base}/text/large?next={path}")
                assert page.evaluate("document.documentElement.classList.contains('text-large')")
                page.add_style_tag(content=DOUBLE_TEXT)
                wait_for_room(page)
                size = page.evaluate("getComputedStyle(document.documentElement).fontSize")
                assert size == "36px", size
                ballot = page.locator(f"#vote-{ids['open_vote']} form.ballot-form")
                if who == "alice":
                    assert ballot.is_visible()
                result = page.evaluate(CLIPPED)
                where = f"{who}/{lang} {path} at {viewport['width']} px"
                if result["scrollWidth"] > viewport["width"]:
                    problems.append(f"{where}: scrolls sideways, {result['scrollWidth']} px")
                problems += [f"{where}: {p}" for p in result["problems"]]
                if who == "alice" and viewport is PHONE and "consultations" in path:
                    page.locator(f"#vote-{ids['open_vote']}").screenshot(
                        path=str(SHOTS / f"ballot-200-percent-{lang}.png")
                    )
                assert page.errors == [], page.errors
        finally:
            crowd.close()
    assert not problems, "\n".join(problems)
