"""A vote in real browsers: the chair opens it in the demo room, three residents in their own
browser contexts vote (one against, with a reason), the chair closes it, and all three see
the result and the minority opinion — without reloading the page."""

from __future__ import annotations

import re

import pytest
import requests
from playwright.sync_api import expect

from tests.browser_helpers import api
from tests.conftest import ARTIFACTS, sign_in

pytestmark = pytest.mark.browser

RULE = "Passes if yes is more than half of all ballots, abstentions included."
REASON = "Too expensive for our building (太贵了)."


def shot(page, name):
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"motions-{name}.png"), full_page=True)


def enter_room(new_context, base, cid, username, locale="en-US", **kwargs):
    context = new_context(locale=locale, **kwargs)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    sign_in(page, base, username)
    page.goto(f"{base}/consultations/{cid}")
    page.wait_for_selector("#motions-panel")
    page.locator("#connection[data-state=connected], #connection[data-state=caught_up]").wait_for()
    page.evaluate("window.__sameLoad = 'yes'")  # gone if the page reloads
    page.errors = errors
    return page


def test_vote_in_the_room_without_reloading(demo_server, new_context):
    base = demo_server.url
    cid = next(
        c["id"]
        for c in requests.get(base + "/api/v1/communities/demo/consultations", timeout=10).json()[
            "consultations"
        ]
        if c["status"] == "live"
    )
    alice_api, bob_api = api(demo_server, "alice"), api(demo_server, "bob")
    motion = alice_api(
        "POST",
        f"/consultations/{cid}/motions",
        json={"title": "Covered bicycle shed", "text": "Build a **covered** bicycle shed."},
    )
    alice_api("POST", f"/motions/{motion['id']}/submit")
    bob_api("POST", f"/motions/{motion['id']}/second")

    chair = enter_room(new_context, base, cid, "chair", locale="zh-CN")
    residents = {
        name: enter_room(new_context, base, cid, name) for name in ("alice", "bob", "carol")
    }
    phone = residents["carol"]
    phone.set_viewport_size({"width": 360, "height": 800})

    # the chair opens the vote from the motion's card
    card = chair.locator(f"#motion-{motion['id']}")
    card.locator("details.open-vote > summary").click()
    form = card.locator("form[data-event='vote:open']")
    form.locator("select[name=threshold]").select_option("majority_cast")
    form.locator("button[type=submit]").click()
    chair.wait_for_selector(f"#motion-{motion['id']} .vote-box[data-status=open]")
    vote_id = int(chair.locator(".vote-box[data-status=open]").first.get_attribute("data-vote-id"))

    # each resident sees the ballot appear, with the rule in words, and votes
    for name, choice, reason in (("alice", "yes", ""), ("bob", "yes", ""), ("carol", "no", REASON)):
        page = residents[name]
        box = page.locator(f"#vote-{vote_id}")
        box.locator("form.ballot-form").wait_for()
        assert RULE in box.locator(".rule-text").inner_text()
        assert box.get_by_label("Yes").count() == 1 and box.get_by_label("Abstain").count() == 1
        box.locator(f"input[name=choice][value={choice}]").check()
        if reason:
            box.get_by_label(re.compile("Reason")).fill(reason)
        box.locator("form.ballot-form button[type=submit]").click()
        expect(page.locator("#motions-status")).to_contain_text("recorded")
    # live results reach the chair without reloading
    expect(chair.locator(f"#vote-{vote_id} [data-choice=yes] [data-count]")).to_have_text("2")
    shot(phone, "ballot-phone")

    # the chair closes the vote
    chair.locator(f"#vote-{vote_id} form[data-event='vote:close'] button").click()
    for name, page in residents.items():
        box = page.locator(f"#vote-{vote_id}")
        page.wait_for_selector(f"#vote-{vote_id}[data-status=closed] .vote-result")
        assert "Adopted" in box.locator(".vote-result").inner_text()
        opinion = box.locator(".minority-opinion")
        assert opinion.count() == 1
        assert REASON in opinion.inner_text()
        assert "Carol" in opinion.inner_text()
        bars = box.locator(".bar-row")
        assert bars.count() == 3
        assert "2" in box.locator("[data-choice=yes] [data-count]").inner_text()
        assert page.evaluate("window.__sameLoad") == "yes", f"{name}'s page reloaded"
        assert page.errors == [], page.errors
    chair.wait_for_selector(f"#vote-{vote_id}[data-status=closed] .minority-opinion")
    shot(residents["alice"], "result")
    shot(phone, "result-phone")

    result = requests.get(f"{base}/api/v1/votes/{vote_id}", timeout=10).json()
    assert result["result"] == "adopted" and result["counts"] == {"yes": 2, "no": 1, "abstain": 0}
    assert result["minority_opinions"][0]["author"] == "carol"
