"""The closed loop in real browsers: a resident proposes a topic, two others support it, the
chair accepts it into a consultation and announces it, residents are notified live and read
the announcement, one submits a written opinion, and the room shows it when it opens."""

import re

import pytest

from tests.conftest import ARTIFACTS, sign_in

pytestmark = pytest.mark.browser

TITLE = "Covered bicycle shed by building 3"
OPINION = "Please keep two spaces for mobility scooters."


def shot(page, name):
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"topics-{name}.png"), full_page=True)


def person(new_context, base, username):
    context = new_context(locale="en-US", viewport={"width": 390, "height": 844})
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    sign_in(page, base, username)
    return page, errors


def unread(page) -> int:
    return int(page.get_attribute("#nav-notifications", "data-unread"))


def test_topic_to_announcement_to_room(demo_server, new_context):
    base = demo_server.url
    alice, alice_errors = person(new_context, base, "alice")

    # Alice proposes a topic.
    alice.goto(base + "/topics/new?community=demo")
    alice.get_by_label("Title").fill(TITLE)
    alice.locator("textarea[name=description]").fill("Bicycles rust in the rain.")
    alice.get_by_role("button", name="Post the topic").click()
    alice.wait_for_url(re.compile(r"/topics/\d+$"))
    topic_url = alice.url
    assert alice.locator("#topic-status").inner_text().strip().endswith("Open for support")

    # Bob and Carol support it.
    pages = {}
    for username in ("bob", "carol"):
        page, errors = pages[username] = person(new_context, base, username)
        page.goto(topic_url)
        page.get_by_role("button", name="I support this topic").click()
        page.wait_for_load_state()
        assert "You support this topic." in page.inner_text("main")
    bob, bob_errors = pages["bob"]

    # Alice and Bob are on their pages with live notifications connected.
    alice.goto(base + "/topics")
    bob.goto(base + "/")
    for page in (alice, bob):
        page.wait_for_selector("#nav-notifications[data-live=on]", state="attached")
    alice_before = unread(alice)
    bob_before = unread(bob)

    # The chair sees two supporters, accepts the topic and announces the consultation.
    chair, chair_errors = person(new_context, base, "chair")
    chair.goto(topic_url)
    assert "2 members support this topic" in chair.inner_text("#support-count")
    chair.get_by_role("button", name="Accept: make it a draft consultation").click()
    chair.wait_for_url(re.compile(r"/consultations/\d+$"))
    consultation_url = chair.url
    assert chair.locator("#from-topic a").inner_text() == TITLE
    # Alice, the proposer, hears that it was accepted.
    alice.wait_for_function(
        f"document.querySelector('#nav-notifications').dataset.unread == '{alice_before + 1}'"
    )
    assert "was accepted" in alice.locator("#notifications-live").inner_text()
    chair.locator("button[data-transition=announced]").click()
    chair.wait_for_load_state()
    shot(chair, "chair-announced")

    # Both residents are told live: the header count goes up and the live region says why.
    alice.wait_for_function(
        f"document.querySelector('#nav-notifications').dataset.unread == '{alice_before + 2}'"
    )
    bob.wait_for_function(
        f"document.querySelector('#nav-notifications').dataset.unread == '{bob_before + 1}'"
    )
    assert f"({bob_before + 1})" in bob.locator("#nav-notifications").inner_text()
    bob.wait_for_function(
        "document.querySelector('#notifications-live').textContent.includes('was announced')"
    )
    assert TITLE in bob.locator("#notifications-live").inner_text()
    shot(bob, "bob-notified")

    # Bob follows the notification to the announcement.
    bob.goto(base + "/notifications")
    bob.get_by_role("link", name=re.compile("was announced")).first.click()
    bob.wait_for_url(consultation_url)
    assert bob.get_by_role("heading", name="Will you attend?").is_visible()
    assert unread(bob) == 0  # the notifications page marked them read

    # Bob says he will attend and submits a written opinion.
    bob.get_by_role("button", name="Yes, I will attend").click()
    bob.wait_for_load_state()
    assert "Attending: 1" in bob.inner_text("#attendance")
    bob.get_by_label("Your written opinion").fill(OPINION)
    bob.get_by_role("button", name="Submit my written opinion").click()
    bob.wait_for_load_state()
    listed = bob.locator(".opinion-list .opinion")
    assert listed.count() == 1
    assert OPINION in listed.first.inner_text()
    assert "Bob" in listed.first.inner_text()
    shot(bob, "bob-opinion")

    # Alice, on the announcement, sees it too (and the topic it came from).
    alice.goto(consultation_url)
    assert OPINION in alice.inner_text("#written-opinions")
    assert alice.locator("#from-topic a").get_attribute("href") == topic_url.replace(base, "")

    # The chair opens the room: the written opinion is shown there, with its author.
    chair.goto(consultation_url)
    chair.locator("button[data-transition=live]").click()
    chair.wait_for_load_state()
    bob.goto(consultation_url)
    section = bob.locator("#written-opinions")
    section.wait_for()
    assert OPINION in section.inner_text()
    assert "Bob" in section.inner_text()
    shot(bob, "room-written-opinions")
    # And it can no longer be changed.
    assert bob.locator("#written-opinion-text").count() == 0

    assert alice_errors == [] and bob_errors == [] and chair_errors == []
