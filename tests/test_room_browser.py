"""Two residents and the chair hold a moderated discussion in the demo room, each in their
own browser context (Playwright driving Debian's Chromium)."""

from __future__ import annotations

import re

import pytest
import requests
import socketio
from playwright.sync_api import expect

from tests.conftest import ARTIFACTS, ROOT, require, sign_in

pytestmark = pytest.mark.browser

EVIL_NAME = '<img src=x onerror="window.pwned=1">Mallory'
EVIL_BODY = '<script>window.pwned=2</script><img src=x onerror="window.pwned=3"> **still text**'


def shot(page, name):
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"room-{name}.png"), full_page=True)


def room_id(server) -> int:
    token = server.token("chair")
    found = requests.get(
        server.url + "/api/v1/communities/demo/consultations",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    ).json()["consultations"]
    return next(c["id"] for c in found if c["status"] == "live")


def open_room(new_context, server, username, locale="en-US", **options):
    context = new_context(locale=locale, **options)
    page = context.new_page()
    page.on("dialog", lambda dialog: pytest.fail(f"unexpected dialog: {dialog.message}"))
    sign_in(page, server.url, username)
    page.goto(f"{server.url}/consultations/{room_id(server)}")
    expect(page.locator("#connection")).to_have_attribute("data-state", "connected")
    return page


def send(page, text):
    page.fill("#composer-body", text)
    page.click("#composer-send")
    expect(page.locator("#composer-body")).to_have_value("")


def message(page, text):
    return page.locator("#messages li.msg", has_text=text)


def test_moderated_discussion(demo_server, new_context):
    alice = open_room(new_context, demo_server, "alice", locale="zh-CN")
    bob = open_room(new_context, demo_server, "bob", viewport={"width": 360, "height": 780})
    chair = open_room(new_context, demo_server, "chair")

    # alice speaks (with the keyboard only); bob sees it without reloading.
    alice.focus("#composer-body")
    alice.keyboard.type("Let us build the bicycle shed.")
    alice.keyboard.press("Control+Enter")
    expect(alice.locator("#composer-body")).to_have_value("")
    expect(message(bob, "Let us build the bicycle shed.")).to_have_count(1)
    expect(message(chair, "Let us build the bicycle shed.")).to_have_count(1)

    # The chair hides it with a reason, by keyboard: the button, then the dialog.
    message(chair, "Let us build the bicycle shed.").get_by_role(
        "button", name=re.compile("Hide")
    ).focus()
    chair.keyboard.press("Enter")
    expect(chair.locator("#hide-reason")).to_be_focused()
    chair.keyboard.type("Off topic for now")
    chair.keyboard.press("Enter")
    expect(chair.locator("#hide-dialog")).not_to_be_visible()
    # Both residents see it marked, and no longer its text.
    for page in (alice, bob):
        hidden = page.locator("#messages li.msg-hidden")
        expect(hidden.locator(".msg-hidden-note")).to_contain_text("Off topic for now")
        expect(hidden.locator(".msg-body-hidden")).to_have_count(1)
        expect(page.locator("#messages")).not_to_contain_text("Let us build the bicycle shed.")
    expect(chair.locator("#messages li.msg-hidden .msg-hidden-note")).to_contain_text("Off topic")

    # bob raises his hand; the chair moderates the floor and gives it to him.
    bob.click("#hand-button")
    expect(chair.locator("#hands li")).to_have_count(1)
    expect(chair.locator("#hands li")).to_contain_text("Bob")
    expect(bob.locator("#hand-button")).to_have_attribute("aria-pressed", "true")
    chair.click("#mode-moderated")
    expect(alice.locator("#composer-body")).to_be_disabled()
    expect(alice.locator("#composer-why")).to_be_visible()
    expect(bob.locator("#composer-body")).to_be_disabled()
    chair.select_option("#speaking-time", "120")
    chair.click("#give-next")
    expect(bob.locator("#composer-body")).to_be_enabled()
    expect(bob.locator("#floor-countdown")).to_be_visible()
    expect(bob.locator("#floor-countdown")).to_contain_text(re.compile(r"[12]:\d\d"))
    expect(alice.locator("#floor-holder")).to_contain_text("Bob")
    expect(chair.locator("#hands li")).to_have_count(0)
    shot(bob, "bob-holds-the-floor-360")
    assert bob.evaluate("document.documentElement.scrollWidth") <= 360  # no sideways scrolling
    send(bob, "Thank you, chair. A shed keeps bikes dry.")
    expect(message(alice, "A shed keeps bikes dry.")).to_have_count(1)
    # alice cannot post: her composer is disabled, and the server refuses her too.
    expect(alice.locator("#composer-body")).to_be_disabled()
    refused = alice.evaluate(
        """async () => {
            const room = await import("/static/js/room.js");
            return room.emit("message:send", {consultation_id: room.consultationId,
                                              body: "sneaking in", client_id: "alice-sneak"});
        }"""
    )
    assert refused["ok"] is False and refused["error"]["code"] == "floor_not_held"

    # The chair takes the floor back and opens it again: alice may post.
    chair.click("#take-floor")
    expect(bob.locator("#composer-body")).to_be_disabled()
    expect(alice.locator("#composer-body")).to_be_disabled()
    chair.click("#mode-open")
    expect(alice.locator("#composer-body")).to_be_enabled()
    send(alice, "Then I propose benches next to the shed.")
    expect(message(bob, "benches next to the shed")).to_have_count(1)
    shot(alice, "alice-zh")
    shot(chair, "chair")


def test_html_in_names_and_messages_stays_inert(demo_server, new_context):
    chair_token = demo_server.token("chair")
    created = requests.post(
        demo_server.url + "/api/v1/communities/demo/members",
        json={"username": "mallory", "display_name": EVIL_NAME, "password": "mallory-pass-1"},
        headers={"Authorization": f"Bearer {chair_token}"},
        timeout=10,
    )
    assert created.status_code == 201, created.text
    alice = open_room(new_context, demo_server, "alice")
    mallory = socketio.Client(reconnection=False)
    mallory.connect(
        demo_server.url,
        auth={"token": demo_server.token("mallory", "mallory-pass-1")},
        transports=["websocket"],
    )
    try:
        cid = room_id(demo_server)
        assert mallory.call("room:join", {"consultation_id": cid})["ok"]
        assert mallory.call(
            "message:send", {"consultation_id": cid, "body": EVIL_BODY, "client_id": "evil-1"}
        )["ok"]
    finally:
        mallory.disconnect()
    line = alice.locator("#messages li.msg", has_text="still text")
    expect(line).to_have_count(1)
    expect(line.locator(".msg-author")).to_have_text(EVIL_NAME)
    expect(line.locator(".msg-body")).to_contain_text("<script>window.pwned=2</script>")
    expect(line.locator(".msg-body strong")).to_have_text("still text")
    assert line.locator("img, script").count() == 0
    expect(alice.locator("#participants")).to_contain_text(EVIL_NAME)
    # A reload renders the same on the server side.
    alice.reload()
    line = alice.locator("#messages li.msg", has_text="still text")
    expect(line.locator(".msg-author")).to_have_text(EVIL_NAME)
    assert alice.locator("#messages img, #messages script, #participants img").count() == 0
    assert alice.evaluate("window.pwned") is None


def test_a_dropped_connection_reconnects_and_catches_up(demo_server, new_context):
    bob = open_room(new_context, demo_server, "bob")
    demo_server.stop()
    expect(bob.locator("#connection")).to_have_attribute("data-state", "reconnecting")
    expect(bob.locator("#connection")).to_be_visible()
    shot(bob, "reconnecting")
    demo_server.start()
    carol = socketio.Client(reconnection=False)
    carol.connect(
        demo_server.url, auth={"token": demo_server.token("carol")}, transports=["websocket"]
    )
    try:
        cid = room_id(demo_server)
        assert carol.call("room:join", {"consultation_id": cid})["ok"]
        assert carol.call(
            "message:send",
            {"consultation_id": cid, "body": "Said while bob was away", "client_id": "carol-1"},
        )["ok"]
    finally:
        carol.disconnect()
    expect(bob.locator("#connection")).to_have_attribute("data-state", "caught_up", timeout=30_000)
    expect(message(bob, "Said while bob was away")).to_have_count(1)


AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"


def test_room_page_has_no_accessibility_violations(demo_server, new_context):
    """axe-core (WCAG 2 A/AA and best practices) on the chair's and a resident's room at
    360 px. The checker is injected, so these contexts bypass the page's CSP."""
    require(AXE.exists(), "axe-core is not installed (npm install)")
    for name in ("chair", "alice"):
        page = open_room(
            new_context, demo_server, name, bypass_csp=True, viewport={"width": 360, "height": 800}
        )
        send(page, f"Accessible message from {name}")
        page.add_script_tag(path=str(AXE))
        violations = page.evaluate(
            """async () => (await axe.run(document, {
                runOnly: ["wcag2a", "wcag2aa", "best-practice"]})).violations
                .map(v => `${v.id}: ${v.nodes.map(n => n.target.join(" ")).join(", ")}`)"""
        )
        assert violations == [], violations
