"""The room page while the message queue (Redis) between two server processes is away: it
says live updates are interrupted, and when the queue is back it says so and shows what was
said meanwhile on the other process, and the header's notification count catches up,
without a reload (Playwright driving Debian's
Chromium; two real servers sharing PostgreSQL and Redis)."""

from __future__ import annotations

import pytest
import requests
from playwright.sync_api import expect

from tests.conftest import ARTIFACTS, LiveServer, require, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.live]

ROOM = 1  # the demo's live consultation
INTERRUPTED_EN = (
    "Live updates are interrupted. What you say is still saved; the room will catch up "
    "when the connection is back."
)
INTERRUPTED_ZH = "实时更新暂时中断。您的发言仍会保存；连接恢复后，协商室会自动补上错过的内容。"
RESTORED_EN = "Live updates are back. Missed messages are shown."


@pytest.fixture
def pair(postgres, tmp_path):
    """Two server processes on one database, sharing a Redis this test stops and starts."""
    from tests.servers import Redis, redis_bin

    require(redis_bin() is not None, "Redis is not installed (apt-get install redis-server)")
    queue = Redis(tmp_path / "redis")
    queue.start()
    env = {
        "DATABASE_URL": postgres.create_database("queue_browser"),
        "SOCKETIO_MESSAGE_QUEUE": queue.url,
    }
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a = LiveServer(tmp_path / "a", "eventlet", env)
    b = LiveServer(tmp_path / "b", "eventlet", env)
    a.prepare()
    try:
        a.start()
        b.start()
        yield a, b, queue
    finally:
        b.stop()
        a.stop()
        queue.stop()


def open_room(new_context, server, username, locale):
    page = new_context(locale=locale).new_page()
    sign_in(page, server.url, username)
    page.goto(f"{server.url}/consultations/{ROOM}")
    expect(page.locator("#connection")).to_have_attribute("data-state", "connected")
    return page


def post(server: LiveServer, token: str, body: str, client_id: str) -> dict:
    response = requests.post(
        f"{server.url}/api/v1/consultations/{ROOM}/messages",
        json={"body": body, "client_id": client_id},
        headers={"Authorization": f"Bearer {token}"},
        timeout=20,
    )
    assert response.status_code < 400, response.text
    return response.json()


def announce_consultation(server: LiveServer, token: str) -> None:
    """A new open consultation of the demo community, announced: every member is told."""
    headers = {"Authorization": f"Bearer {token}"}
    response = requests.post(
        f"{server.url}/api/v1/consultations",
        json={"community": "demo", "title": "Bicycle shed 车棚", "access": "open"},
        headers=headers,
        timeout=20,
    )
    assert response.status_code == 201, response.text
    response = requests.post(
        f"{server.url}/api/v1/consultations/{response.json()['id']}/transition",
        json={"to": "announced"},
        headers=headers,
        timeout=20,
    )
    assert response.status_code == 200, response.text


def test_the_room_page_tells_of_the_outage_and_catches_up(pair, new_context):
    a, b, queue = pair
    alice = open_room(new_context, a, "alice", "en-US")
    carol = open_room(new_context, a, "carol", "zh-CN")
    bob = b.token("bob")
    post(b, bob, "Before the outage, from the other process.", "q-0")
    expect(alice.locator("#messages li.msg", has_text="Before the outage")).to_have_count(1)

    badge = alice.locator("#nav-notifications")
    expect(badge).to_have_attribute("data-live", "on")
    unread = int(badge.get_attribute("data-unread"))

    queue.stop()
    status = alice.locator("#connection")
    expect(status).to_have_attribute("data-state", "interrupted", timeout=10_000)
    expect(badge).to_have_attribute("data-live", "interrupted")
    expect(status).to_have_text(INTERRUPTED_EN)
    expect(status).to_have_attribute("role", "status")
    expect(carol.locator("#connection")).to_have_text(INTERRUPTED_ZH)
    # The page still works: alice posts, and it is kept.
    alice.fill("#composer-body", "Said by alice while it is away.")
    alice.click("#composer-send")
    expect(alice.locator("#messages li.msg", has_text="Said by alice")).to_have_count(1)
    # What bob says on the other process meanwhile is stored but does not reach alice.
    post(b, bob, "Said on the other process while it is away.", "q-1")
    # The chair announces an open consultation on the other process: alice is notified, but
    # not live.
    announce_consultation(b, b.token("chair"))
    ARTIFACTS.mkdir(exist_ok=True)
    alice.screenshot(path=str(ARTIFACTS / "room-queue-interrupted.png"), full_page=True)
    assert alice.locator("#messages li.msg", has_text="while it is away.").count() == 1

    assert badge.get_attribute("data-unread") == str(unread)

    queue.start()
    expect(status).to_have_attribute("data-state", "restored", timeout=30_000)
    expect(status).to_have_text(RESTORED_EN)
    # The header's count catches up too, without a reload.
    expect(badge).to_have_attribute("data-live", "on")
    expect(badge).to_have_attribute("data-unread", str(unread + 1))
    expect(badge.locator("[data-count]")).to_have_text(f" ({unread + 1})")
    # Caught up without a reload: bob's message is there, once, after alice's.
    said = alice.locator("#messages li.msg", has_text="Said on the other process")
    expect(said).to_have_count(1)
    expect(carol.locator("#messages li.msg", has_text="Said on the other process")).to_have_count(1)
    order = alice.locator("#messages li.msg").evaluate_all(
        "items => items.map(item => Number(item.dataset.seq))"
    )
    assert order == sorted(order) and len(order) == len(set(order))
    # Live again: the next message from the other process arrives by itself.
    post(b, bob, "After the outage, from the other process.", "q-2")
    expect(alice.locator("#messages li.msg", has_text="After the outage")).to_have_count(1)
