"""In-app notifications: live over Socket.IO, persisted for the next sign-in, the API, the
header count and the delivery seam for other channels."""

import re

import pytest
import sqlalchemy as sa

from consult.core import notify
from consult.extensions import db, socketio
from consult.topics import notifications
from consult.topics.models import Notification
from tests.api_helpers import cached_headers, error


@pytest.fixture
def h(demo, auth):
    return cached_headers(auth)


def user_id(username):
    from consult.accounts.models import User

    return db.session.scalar(sa.select(User.id).where(User.username == username))


def kinds_of(username, unread_only=False):
    db.session.expire_all()
    query = sa.select(Notification.kind).where(Notification.user_id == user_id(username))
    if unread_only:
        query = query.where(Notification.read_at.is_(None))
    return db.session.scalars(query.order_by(Notification.id)).all()


def new_consultation(client, h, access="open", invite=()):
    response = client.post(
        "/api/v1/consultations",
        json={"community": "demo", "title": "Bicycle shed 车棚", "access": access},
        headers=h("chair"),
    )
    cid = response.get_json()["id"]
    for username, role in invite:
        client.post(
            f"/api/v1/consultations/{cid}/participants",
            json={"username": username, "role": role},
            headers=h("chair"),
        )
    return cid


def move(client, h, cid, to):
    response = client.post(
        f"/api/v1/consultations/{cid}/transition", json={"to": to}, headers=h("chair")
    )
    assert response.status_code == 200, response.get_json()


def received(socket_client, name="notification:new"):
    return [p["args"][0] for p in socket_client.get_received() if p["name"] == name]


def test_live_delivery_when_the_chair_announces(app, client, h, auth):
    alice = socketio.test_client(app, auth={"token": auth.token("alice")})
    assert alice.is_connected()
    alice.get_received()
    already = len(kinds_of("alice", unread_only=True))
    cid = new_consultation(client, h)
    assert received(alice) == []  # drafts notify nobody
    move(client, h, cid, "announced")
    events = received(alice)
    assert len(events) == 1
    event = events[0]
    assert event["kind"] == "consultation_announced"
    assert event["link"] == f"/consultations/{cid}"
    assert event["unread"] == already + 1
    assert "Bicycle shed 车棚" in event["text"]
    assert "Bicycle shed 车棚" in event["texts"]["en"]
    assert event["texts"]["en"].startswith("“Bicycle shed 车棚” was announced")
    assert set(event["texts"]) == {"zh", "en"}
    stored = db.session.get(Notification, event["id"])
    assert stored.user_id == user_id("alice") and stored.consultation_id == cid
    move(client, h, cid, "live")
    events = received(alice)
    assert [e["kind"] for e in events] == ["consultation_live"]
    assert events[0]["unread"] == already + 2
    alice.disconnect()


def test_chair_is_not_notified_of_own_action(client, h):
    before = kinds_of("chair")
    cid = new_consultation(client, h)
    move(client, h, cid, "announced")
    assert kinds_of("chair") == before
    assert kinds_of("erin")[-1] == "consultation_announced"


def test_persisted_and_shown_on_next_sign_in(client, h, auth):
    cid = new_consultation(client, h)
    client.post("/api/v1/notifications/read", headers=h("bob"))  # start from zero
    move(client, h, cid, "announced")
    # Bob was not connected. He signs in later and sees it in the header and on the page.
    auth.login("bob")
    page = client.get("/", headers={"Accept-Language": "en"}).get_data(as_text=True)
    nav = re.search(r'<a [^>]*id="nav-notifications"[^>]*>(.*?)</a>', page, re.S)
    assert nav is not None
    assert 'data-unread="1"' in nav.group(0)
    assert re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", nav.group(1))).strip() == (
        "Notifications (1)"
    )
    body = client.get("/api/v1/notifications").get_json()
    assert body["unread"] == 1
    newest = body["notifications"][0]
    assert newest["kind"] == "consultation_announced"
    assert newest["read"] is False
    assert newest["link"] == f"/consultations/{cid}"
    page = client.get("/notifications", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "“Bicycle shed 车棚” was announced" in page
    assert f'href="/consultations/{cid}"' in page
    assert "New" in page
    # Opening the page marked them as read: the header count is gone.
    page = client.get("/", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert 'data-unread="0"' in page
    assert client.get("/api/v1/notifications").get_json()["unread"] == 0


def test_invited_consultation_notifies_only_participants(client, h):
    cid = new_consultation(client, h, access="invited", invite=[("carol", "voter")])
    before_dave = kinds_of("dave")
    move(client, h, cid, "announced")
    move(client, h, cid, "live")
    assert kinds_of("carol")[-2:] == ["consultation_announced", "consultation_live"]
    assert kinds_of("dave") == before_dave


def test_open_consultation_notifies_every_member(client, h, make_user):
    from consult.communities.service import get_community

    make_user("newcomer", community=get_community("demo"))
    cid = new_consultation(client, h)
    move(client, h, cid, "announced")
    assert kinds_of("newcomer") == ["consultation_announced"]


def test_vote_opened_notifies_the_eligible(app, demo, auth):
    cid = demo.id  # the socket connect below ends the session (the instance detaches)
    carol = socketio.test_client(app, auth={"token": auth.token("carol")})
    carol.get_received()
    before_dave = kinds_of("dave")
    notify.announce(
        "vote:opened",
        {
            "consultation_id": cid,
            "id": 7,
            "title": "Build the shed?",
            "eligible_usernames": ["alice", "carol", "nobody-such"],
        },
        room=notify.room_name(cid),
    )
    assert kinds_of("alice")[-1] == "vote_opened"
    assert kinds_of("carol")[-1] == "vote_opened"
    assert kinds_of("dave") == before_dave
    event = [e for e in received(carol) if e["kind"] == "vote_opened"][0]
    assert event["link"] == f"/consultations/{cid}#vote-7"
    assert "Build the shed?" in event["texts"]["en"]
    carol.disconnect()


def test_opening_a_real_vote_notifies_its_eligible_voters(client, h, make_user):
    """Through the motions API: a motion is submitted, seconded and put to the vote."""
    from consult.communities.service import get_community

    make_user("bystander", community=get_community("demo"))  # a member, not a voter here
    cid = client.get("/api/v1/communities/demo/consultations", headers=h("chair")).get_json()[
        "consultations"
    ][0]["id"]
    motion = client.post(
        f"/api/v1/consultations/{cid}/motions",
        json={"title": "Build the shed", "text": "Build a covered shed."},
        headers=h("alice"),
    ).get_json()
    assert client.post(f"/api/v1/motions/{motion['id']}/submit", headers=h("alice")).status_code
    client.post(f"/api/v1/motions/{motion['id']}/second", headers=h("bob"))
    response = client.post(
        f"/api/v1/motions/{motion['id']}/votes",
        json={"kind": "yes_no_abstain", "secret": False, "threshold": "simple",
              "quorum": None, "results": "live"},
        headers=h("chair"),
    )  # fmt: skip
    assert response.status_code in (200, 201), response.get_json()
    vote_id = response.get_json()["id"]
    for username in ("alice", "bob", "carol", "dave", "erin"):
        assert kinds_of(username)[-1] == "vote_opened", username
    assert "vote_opened" not in kinds_of("bystander")
    body = client.get("/api/v1/notifications", headers=h("carol")).get_json()
    assert body["notifications"][0]["link"] == f"/consultations/{cid}#vote-{vote_id}"


def test_outcome_published_notifies_the_community(demo):
    notify.announce(
        "outcome:published",
        {"community": "demo", "id": 3, "title": "South gate lot", "consultation_id": demo.id},
    )
    for username in ("chair", "alice", "erin"):
        assert kinds_of(username)[-1] == "outcome_published"
    stored = db.session.scalar(
        sa.select(Notification).where(Notification.user_id == user_id("erin"))
        .order_by(Notification.id.desc())
    )  # fmt: skip
    assert stored.outcome_id == 3
    assert notifications.link(stored) == "/notice/3"


def test_publishing_a_real_outcome_notifies_the_community(client, h):
    """Through the outcomes API: the room closes, the chair drafts and publishes."""
    cid = client.get("/api/v1/communities/demo/consultations", headers=h("chair")).get_json()[
        "consultations"
    ][0]["id"]
    client.post(f"/api/v1/consultations/{cid}/transition", json={"to": "closed"},
                headers=h("chair"))  # fmt: skip
    response = client.post(
        f"/api/v1/consultations/{cid}/outcome",
        json={"summary": "A covered shed will be built."},
        headers=h("chair"),
    )
    assert response.status_code in (200, 201), response.get_json()
    outcome_id = response.get_json()["id"]
    response = client.post(f"/api/v1/outcomes/{outcome_id}/publish", headers=h("chair"))
    assert response.status_code in (200, 201), response.get_json()
    for username in ("alice", "erin"):
        assert kinds_of(username)[-1] == "outcome_published"
    assert "outcome_published" not in kinds_of("chair")  # the publisher's own action
    body = client.get("/api/v1/notifications", headers=h("erin")).get_json()
    assert body["notifications"][0]["link"] == f"/notice/{outcome_id}"


def test_malformed_announcements_are_ignored(demo):
    before = db.session.scalar(sa.select(sa.func.count()).select_from(Notification))
    notify.announce("vote:opened", {"consultation_id": "x", "eligible_usernames": "alice"})
    notify.announce("vote:opened", {"consultation_id": 10**30, "eligible_usernames": ["alice"]})
    notify.announce("outcome:published", {"community": ["demo"], "id": 1})
    notify.announce("outcome:published", {"community": "nowhere", "id": 1})
    notify.announce("message:new", {"id": 1})
    after = db.session.scalar(sa.select(sa.func.count()).select_from(Notification))
    assert after == before


def test_proposer_hears_when_the_topic_is_decided(client, h):
    accepted = client.post(
        "/api/v1/communities/demo/topics", json={"title": "Bench"}, headers=h("dave")
    ).get_json()["id"]
    declined = client.post(
        "/api/v1/communities/demo/topics", json={"title": "Fountain"}, headers=h("dave")
    ).get_json()["id"]
    client.post(f"/api/v1/topics/{accepted}/accept", headers=h("chair"))
    client.post(
        f"/api/v1/topics/{declined}/decline", json={"reason": "No water supply."},
        headers=h("chair"),
    )  # fmt: skip
    items = client.get("/api/v1/notifications", headers=h("dave")).get_json()["notifications"]
    assert [(n["kind"], n["link"]) for n in items[:2]] == [
        ("topic_declined", f"/topics/{declined}"),
        ("topic_accepted", f"/topics/{accepted}"),
    ]
    assert "No water supply." in items[0]["text"]


def test_mark_read_api(client, h):
    cid = new_consultation(client, h)
    move(client, h, cid, "announced")
    move(client, h, cid, "live")
    body = client.get("/api/v1/notifications", headers=h("erin")).get_json()
    ids = [n["id"] for n in body["notifications"]]
    assert body["unread"] == len(ids) == 4  # the demo's two, and these two
    assert ids == sorted(ids, reverse=True)
    # Somebody else's ids are not touched.
    response = client.post("/api/v1/notifications/read", json={"ids": ids}, headers=h("alice"))
    assert response.get_json()["marked"] == 0
    response = client.post("/api/v1/notifications/read", json={"ids": ids[:1]}, headers=h("erin"))
    assert response.get_json() == {"marked": 1, "unread": 3}
    for bad in ("all", [True], ["1"], [0]):
        response = client.post("/api/v1/notifications/read", json={"ids": bad},
                               headers=h("erin"))  # fmt: skip
        assert (response.status_code, error(response)) == (422, "invalid_ids")
    response = client.post("/api/v1/notifications/read", headers=h("erin"))
    assert response.get_json() == {"marked": 3, "unread": 0}
    page = client.get(f"/api/v1/notifications?before={ids[1]}&limit=1", headers=h("erin"))
    assert [n["id"] for n in page.get_json()["notifications"]] == [ids[2]]
    response = client.get("/api/v1/notifications?limit=500", headers=h("erin"))
    assert (response.status_code, error(response)) == (422, "invalid_limit")
    response = client.get("/api/v1/notifications")
    assert (response.status_code, error(response)) == (401, "unauthorized")


def test_deliver_calls_every_channel_and_survives_a_failing_one(client, h):
    seen = []

    def broken_channel(notification):
        raise RuntimeError("SMS gateway down")

    def sms_channel(notification):
        seen.append((notification.user_id, notification.kind, notifications.render(notification)))

    notifications.add_channel(broken_channel)
    notifications.add_channel(sms_channel)
    notifications.add_channel(sms_channel)  # registering twice keeps one
    try:
        cid = new_consultation(client, h)
        move(client, h, cid, "announced")
    finally:
        notifications._channels.remove(broken_channel)
        notifications._channels.remove(sms_channel)
    assert sorted(uid for uid, _kind, _text in seen) == sorted(
        user_id(u) for u in ("alice", "bob", "carol", "dave", "erin")
    )
    assert {kind for _uid, kind, _text in seen} == {"consultation_announced"}
    assert kinds_of("alice")[-1] == "consultation_announced"


def test_text_follows_the_viewer_language(client, h, auth):
    cid = new_consultation(client, h)
    move(client, h, cid, "announced")
    auth.login("alice")
    english = client.get("/api/v1/notifications", headers={"Accept-Language": "en"})
    assert english.get_json()["notifications"][0]["text"].startswith(
        "“Bicycle shed 车棚” was announced"
    )
    stored = db.session.get(Notification, english.get_json()["notifications"][0]["id"])
    assert notifications.render(stored, "en") == english.get_json()["notifications"][0]["text"]


def test_visitor_has_no_badge_and_no_script(client):
    page = client.get("/").get_data(as_text=True)
    assert "nav-notifications" not in page
    assert "notifications.js" not in page
