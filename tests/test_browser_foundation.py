"""In a real browser (Debian's Chromium): the chair signs in, creates a consultation from the
community page, invites alice, announces it; alice signs in and sees it and opens it; bob, not
invited, does not see it. Once in English and once in Chinese (selected by stable attributes,
not by English text, in the Chinese run)."""

from __future__ import annotations

import re

import pytest

from tests.conftest import ARTIFACTS, sign_in

pytestmark = pytest.mark.browser

PHONE = {"width": 360, "height": 740}


def no_horizontal_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


@pytest.mark.parametrize(
    ("locale", "lang", "title"),
    [
        ("en-US", "en", "Covered bicycle shed <by the east gate>"),
        ("zh-CN", "zh-Hans", "东门非机动车棚 <加盖雨棚>"),
    ],
)
def test_chair_prepares_and_announces_alice_sees_it(demo_server, new_context, locale, lang, title):
    base = demo_server.url
    english = lang == "en"

    # --- the chair, on a phone ---------------------------------------------------------------
    chair = new_context(locale=locale, viewport=PHONE).new_page()
    sign_in(chair, base, "chair")
    chair.goto(base + "/communities/demo")
    assert chair.locator("html").get_attribute("lang") == lang
    assert no_horizontal_scroll(chair)
    new_link = chair.locator('a[href="/communities/demo/consultations/new"]')
    if english:
        assert new_link.inner_text().strip() == "New consultation"
    new_link.click()
    chair.wait_for_url(re.compile(r"/communities/demo/consultations/new$"))

    form = chair.locator("form:has(input[name=title])")
    form.locator("input[name=title]").fill(title)
    form.locator("textarea[name=description]").fill(
        "**Why**: bicycles get wet.\n\n- 12 places\n- a roof"
    )
    form.locator("select[name=access]").select_option("invited")
    form.locator("input[name=place]").fill("Community centre")
    form.locator("textarea[name=agenda]").fill("Plan\nCosts\nVote")
    form.locator("button").click()
    chair.wait_for_url(re.compile(r"/consultations/\d+$"))
    consultation_url = chair.url
    assert chair.locator("h1").inner_text() == title
    assert chair.locator(".badge.status-draft").count() == 1
    assert chair.locator(".prose strong").inner_text() == "Why"
    assert chair.locator("ol.agenda li").all_inner_texts() == ["Plan", "Costs", "Vote"]

    # Invite alice as a voter.
    invite = chair.locator('form[action$="/participants"]')
    invite.locator("input[name=username]").fill("alice")
    invite.locator("select[name=role]").select_option("voter")
    if english:
        assert invite.locator("button").inner_text().strip() == "Invite"
    invite.locator("button").click()
    chair.wait_for_load_state()
    people = chair.locator("#participants ul.people")
    assert people.locator("li", has_text="Alice").locator(".role-voter").count() == 1

    # Announce it.
    announce = chair.locator("button[data-transition=announced]")
    if english:
        assert announce.inner_text().strip() == "Announce"
    announce.click()
    chair.wait_for_load_state()
    assert chair.locator(".badge.status-announced").count() == 1
    assert chair.locator("button[data-transition=live]").count() == 1
    assert no_horizontal_scroll(chair)
    ARTIFACTS.mkdir(exist_ok=True)
    chair.screenshot(path=str(ARTIFACTS / f"foundation-announced-{lang}-360.png"), full_page=True)

    # --- alice, invited, in her own browser ----------------------------------------------------
    alice = new_context(locale=locale).new_page()
    sign_in(alice, base, "alice")
    alice.goto(base + "/communities/demo")
    assert alice.locator("html").get_attribute("lang") == lang
    card = alice.locator("li.card", has_text=title)
    assert card.count() == 1
    assert card.locator(".badge.status-announced").count() == 1
    card.locator("a.card-link").click()
    alice.wait_for_url(consultation_url)
    assert alice.locator("h1").inner_text() == title
    assert alice.locator(".badge.status-announced").count() == 1
    # She sees no chair's controls.
    assert alice.locator("button[data-transition]").count() == 0
    assert alice.locator('form[action$="/participants"]').count() == 0

    # --- bob, a member but not invited ---------------------------------------------------------
    bob = new_context(locale=locale).new_page()
    sign_in(bob, base, "bob")
    bob.goto(base + "/communities/demo")
    assert bob.locator("li.card", has_text=title).count() == 0
    response = bob.goto(consultation_url)
    assert response.status == 403
    assert bob.locator("code", has_text="not_invited").count() == 1
