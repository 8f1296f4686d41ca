"""Only the keyboard: a resident signs in, goes to the live room, posts a message, casts a
ballot with a reason and reads the result — with Tab, Shift+Tab, typing, Enter, Space and
the arrow keys, never the mouse. Every element that takes the focus on the way must show it
(an outline or a focus ring)."""

from __future__ import annotations

import re
import time

import pytest
import requests
from playwright.sync_api import expect

from tests.conftest import ARTIFACTS
from tests.test_a11y_browser import Api, shared_world

pytestmark = pytest.mark.browser

USER = "dave"
MESSAGE = "I can take part with the keyboard alone. 我只用键盘。"
REASON = "The shed should wait until the lamps are fixed (先修路灯)."

FOCUS = """
(selector) => {
  const el = document.activeElement;
  if (!el || el === document.body || el === document.documentElement) return {none: true};
  const style = getComputedStyle(el);
  const box = el.getBoundingClientRect();
  const outline = style.outlineStyle !== "none" && parseFloat(style.outlineWidth) >= 2
    && !/rgba\\(.*, 0\\)$/.test(style.outlineColor) && style.outlineColor !== "transparent";
  const ring = style.boxShadow && style.boxShadow !== "none";
  return {
    none: false,
    matches: el.matches(selector),
    visible: (outline || ring) && box.width > 0 && box.height > 0,
    what: el.outerHTML.slice(0, 120),
    outline: `${style.outlineStyle} ${style.outlineWidth} ${style.outlineColor}`,
  };
}
"""


class Keyboard:
    """Moves the focus with Tab and checks that every focused element shows it."""

    def __init__(self, page):
        self.page = page
        self.steps = 0

    def tab_to(self, selector: str, limit: int = 250, backwards: bool = False) -> None:
        key = "Shift+Tab" if backwards else "Tab"
        for _ in range(limit):
            self.page.keyboard.press(key)
            self.steps += 1
            state = self.page.evaluate(FOCUS, selector)
            if state["none"]:
                continue  # the focus left the page for the browser's own controls
            assert state["visible"], (
                f"the focus is not visible ({state['outline']}): {state['what']}"
            )
            if state["matches"]:
                return
        raise AssertionError(f"{selector} is not reachable with {key} in {limit} steps")

    def focused(self, selector: str) -> bool:
        return self.page.evaluate("(s) => document.activeElement?.matches(s) ?? false", selector)


@pytest.fixture(scope="module")
def world(request, tmp_path_factory):
    return shared_world(request, tmp_path_factory)


@pytest.fixture
def vote(world):
    """A motion in the live room with a vote open, on which dave has not voted."""
    server, live = world.server, world.ids["live"]
    carol, erin, chair = Api(server, "carol"), Api(server, "erin"), Api(server, "chair")
    motion = carol(
        "POST",
        f"/consultations/{live}/motions",
        json={"title": "Bicycle racks at building 3", "text": "Put up two racks."},
    )
    carol("POST", f"/motions/{motion['id']}/submit")
    erin("POST", f"/motions/{motion['id']}/second")
    opened = chair(
        "POST",
        f"/motions/{motion['id']}/votes",
        json={"secret": False, "threshold": "simple", "quorum": None, "results": "live"},
    )
    for username in ("carol", "erin"):
        Api(server, username)("POST", f"/votes/{opened['id']}/ballots", json={"choice": "yes"})
    return {"motion": motion["id"], "vote": opened["id"], "chair": chair}


@pytest.mark.parametrize("locale", ["zh-CN", "en-US"])
def test_sign_in_speak_vote_and_read_the_result_with_the_keyboard(world, vote, new_context, locale):
    started = time.monotonic()
    base, live, vote_id = world.base, world.ids["live"], vote["vote"]
    context = new_context(locale=locale)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    keys = Keyboard(page)

    # From the start page to the sign-in form, and signed in.
    page.goto(base + "/")
    keys.tab_to("a[href='/login']")
    page.keyboard.press("Enter")
    page.wait_for_url(base + "/login")
    keys.tab_to("input[name=username]")
    page.keyboard.type(USER)
    keys.tab_to("input[name=password]")
    page.keyboard.type("yiting-demo")
    page.keyboard.press("Enter")
    page.wait_for_url(base + "/")
    assert page.locator(".site-header .who").inner_text().strip() != ""

    # To the community, then into the live room.
    keys.tab_to("a[href='/communities/demo']")
    page.keyboard.press("Enter")
    page.wait_for_url(base + "/communities/demo")
    keys.tab_to(f"a[href='/consultations/{live}']")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{base}/consultations/{live}")
    page.locator("#connection[data-state=connected], #connection[data-state=caught_up]").wait_for()
    page.wait_for_load_state("networkidle")

    # A message: type it, Tab to Send, Enter.
    message = f"{MESSAGE} ({locale})"
    keys.tab_to("#composer-body")
    page.keyboard.type(message)
    keys.tab_to("#composer-send")
    page.keyboard.press("Enter")
    page.locator("#messages .msg", has_text=message).wait_for()
    expect(page.locator("#composer-body")).to_have_value("")  # sent, and the box is cleared

    # The ballot: Tab into the choices, the arrow key picks "no", a reason, Enter.
    box = f"#vote-{vote_id}"
    keys.tab_to(f"{box} input[name=choice]")
    page.keyboard.press("Space")
    assert page.locator(f"{box} input[name=choice][value=yes]").is_checked()
    page.keyboard.press("ArrowDown")
    assert page.locator(f"{box} input[name=choice][value=no]").is_checked()
    assert keys.focused(f"{box} input[name=choice][value=no]")
    keys.tab_to(f"{box} textarea[name=reason]")
    page.keyboard.type(REASON)
    keys.tab_to(f"{box} form.ballot-form button[type=submit]")
    page.keyboard.press("Enter")
    page.locator(f"{box} .my-ballot").wait_for()
    mine = requests.get(
        f"{base}/api/v1/votes/{vote_id}",
        headers={"Authorization": f"Bearer {world.server.token(USER)}"},
        timeout=10,
    ).json()["me"]
    assert (mine["voted"], mine["choice"], mine["reason"]) == (True, "no", REASON)

    # The chair closes the vote; the result arrives without reloading, and is announced.
    vote["chair"]("POST", f"/votes/{vote_id}/close")
    page.locator(f"{box}[data-status=closed] .vote-result").wait_for()
    closed = requests.get(
        f"{base}/api/v1/votes/{vote_id}", headers={"Accept-Language": locale}, timeout=10
    ).json()
    assert closed["result"] == "adopted"
    label = closed["result_label"]
    assert label in page.locator(f"{box} .vote-result").inner_text()
    assert label in page.locator("#motions-status").inner_text()  # role=status: read out
    ARTIFACTS.mkdir(exist_ok=True)
    page.locator(box).screenshot(path=str(ARTIFACTS / "keyboard-result.png"))

    # Reading it on the motion's own page, reached with the keyboard.
    keys.tab_to(f"a[href='/motions/{vote['motion']}']", backwards=True)
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(rf"/motions/{vote['motion']}$"))
    result = page.locator(f"#vote-{vote_id} .vote-result").inner_text()
    assert label in result
    assert REASON in page.locator(f"#vote-{vote_id} .minority-opinion").inner_text()
    assert errors == [], errors
    print(f"\nkeyboard: {keys.steps} key presses of Tab in {time.monotonic() - started:.1f}s")
