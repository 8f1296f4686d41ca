"""The room over HTTP: the transcript page by page (``?after=``), posting, the room's state;
and the room page at ``/consultations/<id>``, which reads without JavaScript."""

from __future__ import annotations

import re

import pytest

from consult.accounts.service import find_user
from consult.consultations import service as consultations
from consult.room import service


@pytest.fixture
def room(demo):
    return demo.id


def post(room_id, name, body, client_id):
    return service.post_message(
        find_user(name), consultations.get_consultation(room_id), body, client_id
    )


def test_messages_after(client, auth, room):
    bodies = [post(room, "alice", f"m{n}", f"c{n}").body for n in range(5)]
    headers = auth.headers("bob")
    everything = client.get(f"/api/v1/consultations/{room}/messages", headers=headers).get_json()
    ours = [m for m in everything["messages"] if m["kind"] == "message"]
    assert [m["body"] for m in ours] == bodies
    assert everything["last_seq"] == everything["messages"][-1]["id"]
    assert everything["room_last_seq"] == everything["last_seq"] and not everything["has_more"]
    pivot = ours[1]["id"]
    after = client.get(f"/api/v1/consultations/{room}/messages?after={pivot}", headers=headers)
    assert after.status_code == 200
    assert [m["body"] for m in after.get_json()["messages"]] == ["m2", "m3", "m4"]
    page = client.get(
        f"/api/v1/consultations/{room}/messages?after={pivot}&limit=2", headers=headers
    ).get_json()
    assert [m["body"] for m in page["messages"]] == ["m2", "m3"] and page["has_more"] is True
    rest = client.get(
        f"/api/v1/consultations/{room}/messages?after={page['last_seq']}", headers=headers
    ).get_json()
    assert [m["body"] for m in rest["messages"]] == ["m4"] and rest["has_more"] is False
    end = client.get(
        f"/api/v1/consultations/{room}/messages?after={rest['last_seq']}", headers=headers
    ).get_json()
    assert end["messages"] == [] and end["last_seq"] == rest["last_seq"]


def test_messages_errors(client, auth, room, make_user):
    url = f"/api/v1/consultations/{room}/messages"
    assert client.get(url).status_code == 401
    headers = auth.headers("bob")
    for bad in ("after=-1", "after=abc", "limit=0", "limit=100000"):
        response = client.get(f"{url}?{bad}", headers=headers)
        assert response.status_code == 422, bad
        assert response.get_json()["error"]["code"] == "invalid_field"
    missing = client.get("/api/v1/consultations/424242/messages", headers=headers)
    assert missing.status_code == 404
    assert missing.get_json()["error"]["code"] == "consultation_not_found"
    make_user("mallory", password="password-123")
    outsider = auth.headers("mallory", "password-123")
    refused = client.get(url, headers=outsider)
    assert refused.status_code == 403
    assert refused.get_json()["error"]["code"] == "not_participant"


def test_post_message_over_http(client, auth, room):
    headers = auth.headers("alice")
    url = f"/api/v1/consultations/{room}/messages"
    created = client.post(url, json={"body": "From a kiosk", "client_id": "k-1"}, headers=headers)
    assert created.status_code == 201
    message = created.get_json()["message"]
    again = client.post(url, json={"body": "From a kiosk", "client_id": "k-1"}, headers=headers)
    assert again.status_code == 200 and again.get_json()["duplicate"] is True
    assert again.get_json()["message"]["id"] == message["id"]
    too_long = client.post(url, json={"body": "x" * 2001, "client_id": "k-2"}, headers=headers)
    assert too_long.status_code == 422
    assert too_long.get_json()["error"]["code"] == "message_too_long"
    wrong = client.post(url, json={"body": ["x"], "client_id": "k-3"}, headers=headers)
    assert wrong.get_json()["error"]["code"] == "invalid_type"


def test_a_member_posting_over_http_takes_part_as_a_voter(client, auth, room, make_user):
    from consult.communities.service import get_community

    make_user("newbie", password="password-123", community=get_community("demo"))
    headers = auth.headers("newbie", "password-123")
    url = f"/api/v1/consultations/{room}/messages"
    created = client.post(
        url, json={"body": "First time here", "client_id": "n-1"}, headers=headers
    )
    assert created.status_code == 201
    assert created.get_json()["message"]["author"]["role"] == "voter"
    role = consultations.role_of(find_user("newbie"), consultations.get_consultation(room))
    assert role == "voter"


def test_room_snapshot_and_floor_opinions(client, auth, room):
    message = post(room, "bob", "Not with my money.", "b1")
    service.record_floor_opinion(
        find_user("chair"), consultations.get_consultation(room), message_id=message.seq
    )
    headers = auth.headers("alice")
    snapshot = client.get(f"/api/v1/consultations/{room}/room", headers=headers).get_json()
    assert snapshot["me"]["username"] == "alice" and snapshot["floor"]["mode"] == "open"
    assert {p["username"] for p in snapshot["participants"]} >= {"chair", "alice", "bob"}
    opinions = client.get(
        f"/api/v1/consultations/{room}/floor-opinions", headers=headers
    ).get_json()["opinions"]
    assert [(o["text"], o["author"], o["source"]) for o in opinions] == [
        ("Not with my money.", "bob", "floor")
    ]


# --- the page -----------------------------------------------------------------------------


def page(client, room):
    response = client.get(f"/consultations/{room}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_room_page_renders_history_safely(client, auth, room):
    from consult.extensions import db

    bob = find_user("bob")
    bob.display_name = '<img src=x onerror="alert(1)">Bob'
    db.session.commit()
    post(room, "bob", "**Bold** <script>alert('x')</script> [link](javascript:alert(1))", "x1")
    auth.login("alice")
    html = page(client, room)
    assert 'role="log"' in html and 'aria-live="polite"' in html
    assert '<label for="composer-body">' in html
    assert "<strong>Bold</strong>" in html
    assert "<script>alert" not in html and 'href="javascript:' not in html
    assert "&lt;script&gt;alert" in html  # shown as text
    assert '<img src=x onerror="alert(1)">' not in html
    assert "&lt;img src=x onerror=" in html
    assert 'src="/static/js/room.js"' in html and 'type="module"' in html
    # The chair's controls are not in a resident's page.
    assert 'id="chair-controls"' not in html
    data = re.search(r'<script type="application/json" id="room-data">(.*?)</script>', html, re.S)
    assert data and "<img" not in data.group(1) and "<script" not in data.group(1)


def test_room_page_for_the_chair_and_the_closed_room(client, auth, room):
    auth.login("chair")
    html = page(client, room)
    assert 'id="chair-controls"' in html and 'id="minority-controls"' in html
    assert f'action="/consultations/{room}/transition"' in html  # close the room from it
    closed = client.post(f"/consultations/{room}/transition", data={"to": "closed"})
    assert closed.status_code == 302
    html = page(client, room)
    assert 'id="composer"' not in html and 'id="chair-controls"' not in html
    assert 'class="connection" data-state="closed"' in html


def test_other_statuses_keep_the_consultation_page(client, auth, demo):
    chair = find_user("chair")
    draft = consultations.create_consultation(chair, demo.community, title="Later")
    consultations.transition(chair, draft, "announced")
    auth.login("alice")
    html = page(client, draft.id)
    assert 'role="log"' not in html and "Later" in html


def test_composer_works_without_javascript(client, auth, room):
    auth.login("alice")
    response = client.post(
        f"/consultations/{room}/messages",
        data={"body": "Posted without script", "client_id": "nojs-1"},
    )
    assert response.status_code == 302 and response.location.endswith("#composer")
    again = client.post(
        f"/consultations/{room}/messages",
        data={"body": "Posted without script", "client_id": "nojs-1"},
    )
    assert again.status_code == 302
    html = page(client, room)
    assert html.count("Posted without script") == 1
    refused = client.post(
        f"/consultations/{room}/messages", data={"body": " ", "client_id": "nojs-2"}
    )
    assert refused.status_code == 302
    assert "flash-error" in page(client, room)
