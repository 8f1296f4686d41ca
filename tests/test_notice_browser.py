"""The whole loop in real browsers: the demo room votes and closes; the chair drafts and
publishes the outcome; a visitor who never signed in finds it on the notice board with its
chart and the minority opinion; a resident objects and the chair answers; the outcome is
carried out and rated; the page prints on A4 without navigation; the minutes download."""

from __future__ import annotations

import re

import pytest

from tests.browser_helpers import api
from tests.conftest import ARTIFACTS, sign_in

pytestmark = pytest.mark.browser

SUMMARY = "The lot by the south gate becomes a covered bicycle shed (南门车棚)."
NO_REASON = "Too noisy at night for building 2 (夜间太吵)."
OBJECTION = "The shed must keep the fire lane clear."
ANSWER = "Agreed: the shed moves back two metres."


def shot(page, name):
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"notice-{name}.png"), full_page=True)


def person(new_context, base, username=None, **kwargs):
    context = new_context(locale="en-US", viewport={"width": 390, "height": 844}, **kwargs)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    if username:
        sign_in(page, base, username)
    return page, errors


def test_outcome_from_the_room_to_the_notice_board(demo_server, new_context):
    base = demo_server.url
    chair_api = api(demo_server, "chair")
    listing = chair_api("GET", "/communities/demo/consultations")["consultations"]
    [consultation] = [c for c in listing if c["status"] == "live"]
    cid = consultation["id"]

    # The room votes on a motion (a secret ballot with a dissenting reason) and closes.
    alice_api, bob_api = api(demo_server, "alice"), api(demo_server, "bob")
    motion = alice_api(
        "POST",
        f"/consultations/{cid}/motions",
        json={"title": "Build the shed", "text": "A covered shed."},
    )
    alice_api("POST", f"/motions/{motion['id']}/submit")
    bob_api("POST", f"/motions/{motion['id']}/second")
    vote = chair_api(
        "POST",
        f"/motions/{motion['id']}/votes",
        json={
            "kind": "yes_no_abstain",
            "secret": True,
            "threshold": "simple",
            "quorum": None,
            "results": "hidden",
        },
    )
    for username, choice, reason in (
        ("alice", "yes", None), ("bob", "yes", None), ("carol", "yes", None),
        ("dave", "no", NO_REASON), ("erin", "abstain", None),
    ):  # fmt: skip
        body = {"choice": choice, **({"reason": reason} if reason else {})}
        api(demo_server, username)("POST", f"/votes/{vote['id']}/ballots", json=body)
    chair_api("POST", f"/consultations/{cid}/transition", json={"to": "closed"})

    # The chair drafts, previews and publishes.
    chair, chair_errors = person(new_context, base, "chair")
    chair.goto(f"{base}/consultations/{cid}/outcome")
    chair.get_by_label("Summary of the outcome (Markdown)").fill(SUMMARY)
    chair.get_by_label("Who carries it out (执行主体)").fill("Property company 物业公司")
    chair.get_by_label("Due date").fill("2030-06-30")
    chair.get_by_role("button", name="Save draft and preview").click()
    chair.wait_for_load_state()
    assert NO_REASON in chair.inner_text("#preview")
    chair.get_by_role("button", name="Publish on the notice board").click()
    chair.wait_for_url(re.compile(r"/notice/\d+$"))
    notice_url = chair.url
    fingerprint = chair.inner_text("[data-fingerprint]").strip()
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", fingerprint)
    shot(chair, "published")

    # A visitor who never signed in finds it on the notice board.
    visitor, visitor_errors = person(new_context, base)
    visitor.goto(base + "/notice")
    visitor.get_by_role("link", name=re.compile("south gate")).first.click()
    visitor.wait_for_url(notice_url)
    assert visitor.locator("svg.chart").count() >= 1
    assert visitor.locator("#decision-1 svg.chart").is_visible()
    assert "Adopted" in visitor.inner_text("#decision-1")
    assert NO_REASON in visitor.inner_text(".minority")
    assert SUMMARY.split(" (")[0] in visitor.inner_text("main")
    assert visitor.inner_text("[data-fingerprint]").strip() == fingerprint

    # A resident objects; the chair answers; the visitor reads both.
    alice, alice_errors = person(new_context, base, "alice")
    alice.goto(notice_url)
    alice.get_by_label("Your objection and its reason").fill(OBJECTION)
    alice.get_by_role("button", name="File the objection").click()
    alice.wait_for_load_state()
    assert OBJECTION in alice.inner_text("#objections")
    chair.reload()
    chair.locator("#objections textarea[name=answer]").fill(ANSWER)
    chair.get_by_role("button", name="Publish the answer").click()
    chair.wait_for_load_state()
    visitor.reload()
    objections = visitor.inner_text("#objections")
    assert OBJECTION in objections and ANSWER in objections

    # Implementation, completion, a rating.
    chair.get_by_label("Progress in percent (0–100)").fill("100")
    chair.get_by_label("What was done").fill("Built and open.")
    chair.get_by_role("button", name="Post the progress report").click()
    chair.wait_for_load_state()
    chair.get_by_role("button", name="Mark as completed").click()
    chair.wait_for_load_state()
    alice.reload()
    alice.locator("fieldset.stars input[value='4']").check()
    alice.get_by_role("button", name="Send my rating").click()
    alice.wait_for_load_state()
    visitor.reload()
    assert "Average 4.0 of 5 from 1 ratings." in visitor.inner_text("#ratings")
    assert visitor.locator("#ratings svg.chart").is_visible()
    assert "Built and open." in visitor.inner_text("#progress")
    shot(visitor, "visitor")
    visitor.locator("#decision-1").screenshot(path=str(ARTIFACTS / "notice-decision.png"))

    # The print layout: no navigation, the fingerprint and the address on the page.
    visitor.emulate_media(media="print")
    assert (
        visitor.evaluate("getComputedStyle(document.querySelector('nav.site-nav')).display")
        == "none"
    )
    assert (
        visitor.evaluate("getComputedStyle(document.querySelector('header.site-header')).display")
        == "none"
    )
    assert visitor.locator("[data-fingerprint]").is_visible()
    assert visitor.locator(".print-url").is_visible()
    assert re.search(r"/notice/\d+/v/1", visitor.inner_text(".print-url"))
    visitor.emulate_media(media="screen")
    assert (
        visitor.evaluate("getComputedStyle(document.querySelector('nav.site-nav')).display")
        != "none"
    )

    # The minutes download, for anyone.
    minutes = visitor.request.get(f"{base}/consultations/{cid}/minutes.md")
    assert minutes.status == 200 and "Build the shed" in minutes.text()

    assert chair_errors == alice_errors == visitor_errors == []
