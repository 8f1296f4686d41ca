"""The announced stage: attendance and written opinions (书面意见), through the API and pages."""

import re

import pytest
import sqlalchemy as sa

from consult.consultations.models import Participant
from consult.extensions import db
from consult.topics.models import Attendance, WrittenOpinion
from tests.api_helpers import cached_headers, count, error


@pytest.fixture
def h(demo, auth):
    return cached_headers(auth)


def consultation(client, h, access="open", announce=True, invite=()):
    response = client.post(
        "/api/v1/consultations",
        json={"community": "demo", "title": "Bicycle shed", "access": access},
        headers=h("chair"),
    )
    assert response.status_code == 201, response.get_json()
    cid = response.get_json()["id"]
    for username, role in invite:
        response = client.post(
            f"/api/v1/consultations/{cid}/participants",
            json={"username": username, "role": role},
            headers=h("chair"),
        )
        assert response.status_code == 200, response.get_json()
    if announce:
        move(client, h, cid, "announced")
    return cid


def move(client, h, cid, to):
    response = client.post(
        f"/api/v1/consultations/{cid}/transition", json={"to": to}, headers=h("chair")
    )
    assert response.status_code == 200, response.get_json()


def opinion(client, h, cid, user, text):
    return client.post(
        f"/api/v1/consultations/{cid}/written-opinions", json={"text": text}, headers=h(user)
    )


# --- attendance -------------------------------------------------------------------------------


def test_attendance_counts_and_mine(client, h):
    cid = consultation(client, h)
    response = client.post(
        f"/api/v1/consultations/{cid}/attendance", json={"answer": "yes"}, headers=h("alice")
    )
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["counts"] == {"yes": 1, "maybe": 0, "no": 0}
    assert response.get_json()["mine"] == "yes"
    client.post(f"/api/v1/consultations/{cid}/attendance", json={"answer": "maybe"},
                headers=h("bob"))  # fmt: skip
    # Changing the answer replaces it.
    client.post(f"/api/v1/consultations/{cid}/attendance", json={"answer": "no"},
                headers=h("alice"))  # fmt: skip
    body = client.get(f"/api/v1/consultations/{cid}/attendance", headers=h("alice")).get_json()
    assert body["counts"] == {"yes": 0, "maybe": 1, "no": 1}
    assert body["mine"] == "no"
    assert count(Attendance) == 2
    # Visitors read an open consultation's counts too, without a "mine".
    body = client.get(f"/api/v1/consultations/{cid}/attendance").get_json()
    assert body["counts"] == {"yes": 0, "maybe": 1, "no": 1}
    assert body["mine"] is None


def test_the_chair_sees_who_answered_what_and_who_has_not_yet(client, h, auth):
    cid = consultation(client, h)  # open: every member of the demo community may attend
    for user, answer in (("alice", "yes"), ("bob", "no"), ("carol", "maybe"), ("dave", "yes")):
        response = client.post(
            f"/api/v1/consultations/{cid}/attendance", json={"answer": answer}, headers=h(user)
        )
        assert response.status_code == 200, response.get_json()

    def names(roll, answer):
        return [person["username"] for person in roll[answer]]

    roll = client.get(f"/api/v1/consultations/{cid}/attendance", headers=h("chair")).get_json()[
        "roll"
    ]
    assert names(roll, "yes") == ["alice", "dave"]  # by display name: 王爱丽 before 赵大伟
    assert names(roll, "maybe") == ["carol"] and names(roll, "no") == ["bob"]
    assert sorted(names(roll, "none")) == ["chair", "erin"]
    # A resident, and a visitor, get the counts and no names.
    for headers in (h("alice"), {}):
        answer = client.get(f"/api/v1/consultations/{cid}/attendance", headers=headers)
        assert answer.status_code == 200 and "roll" not in answer.get_json()

    auth.login("chair")
    page = client.get(f"/consultations/{cid}", headers={"Accept-Language": "en"})
    html = page.get_data(as_text=True)
    assert 'id="attendance-roll"' in html
    listed = {
        answer: re.findall(r"<li>([^<]+)</li>", block)
        for answer, block in re.findall(r'data-roll="(\w+)">(.*?)</ul>', html, re.S)
    }
    assert listed == {
        "yes": ["王爱丽 Alice", "赵大伟 Dave"],
        "maybe": ["陈卡罗 Carol"],
        "no": ["李博 Bob"],
        "none": sorted(listed["none"]),
    }
    assert set(listed["none"]) == {"张主任 Chair Zhang", "孙艾琳 Erin"}
    auth.logout()
    auth.login("alice")
    assert 'id="attendance-roll"' not in client.get(f"/consultations/{cid}").get_data(as_text=True)


def test_attendance_bad_input_and_wrong_stage(client, h):
    cid = consultation(client, h, announce=False)
    response = client.post(
        f"/api/v1/consultations/{cid}/attendance", json={"answer": "yes"}, headers=h("chair")
    )
    assert (response.status_code, error(response)) == (409, "not_announced")
    move(client, h, cid, "announced")
    for answer in ("perhaps", "", None):
        response = client.post(
            f"/api/v1/consultations/{cid}/attendance", json={"answer": answer}, headers=h("bob")
        )
        assert (response.status_code, error(response)) == (422, "invalid_answer")
    response = client.post(
        f"/api/v1/consultations/{cid}/attendance", json={"answer": 1}, headers=h("bob")
    )
    assert (response.status_code, error(response)) == (422, "invalid_type")
    move(client, h, cid, "live")
    response = client.post(
        f"/api/v1/consultations/{cid}/attendance", json={"answer": "yes"}, headers=h("bob")
    )
    assert (response.status_code, error(response)) == (409, "room_already_open")
    assert count(Attendance) == 0


def test_invited_consultation_attendance_is_for_participants(client, h):
    cid = consultation(client, h, access="invited", invite=[("alice", "voter")])
    response = client.post(
        f"/api/v1/consultations/{cid}/attendance", json={"answer": "yes"}, headers=h("alice")
    )
    assert response.status_code == 200
    response = client.post(
        f"/api/v1/consultations/{cid}/attendance", json={"answer": "yes"}, headers=h("bob")
    )
    assert (response.status_code, error(response)) == (403, "not_invited")
    response = client.get(f"/api/v1/consultations/{cid}/attendance", headers=h("bob"))
    assert (response.status_code, error(response)) == (403, "not_invited")
    assert count(Attendance) == 1


# --- written opinions -----------------------------------------------------------------------------


def test_written_opinion_create_edit_and_list(client, h):
    cid = consultation(client, h)
    response = opinion(client, h, cid, "alice", "A shed keeps bicycles dry.")
    assert response.status_code == 201, response.get_json()
    created = response.get_json()
    assert created["author"] == {"username": "alice", "display_name": "王爱丽 Alice"}
    response = opinion(client, h, cid, "alice", "A shed keeps bicycles dry; add lights.")
    assert response.status_code == 200
    assert response.get_json()["id"] == created["id"]
    assert opinion(client, h, cid, "bob", "A square for the elderly.").status_code == 201
    listed = client.get(
        f"/api/v1/consultations/{cid}/written-opinions", headers=h("carol")
    ).get_json()["written_opinions"]
    assert [(o["author"]["username"], o["text"]) for o in listed] == [
        ("alice", "A shed keeps bicycles dry; add lights."),
        ("bob", "A square for the elderly."),
    ]
    assert count(WrittenOpinion) == 2


def test_member_writing_on_open_consultation_becomes_participant(client, h):
    cid = consultation(client, h)
    assert opinion(client, h, cid, "dave", "Count me in.").status_code == 201
    from consult.accounts.models import User

    place = db.session.scalar(
        sa.select(Participant)
        .join(User, Participant.user_id == User.id)
        .where(Participant.consultation_id == cid, User.username == "dave")
    )
    assert place is not None and place.role == "voter"


def test_written_opinion_refused_after_the_room_opened(client, h):
    cid = consultation(client, h)
    assert opinion(client, h, cid, "alice", "Before the meeting.").status_code == 201
    move(client, h, cid, "live")
    response = opinion(client, h, cid, "alice", "Changed my mind.")
    assert response.status_code == 409
    assert error(response) == "room_already_open"
    response = opinion(client, h, cid, "bob", "Too late?")
    assert (response.status_code, error(response)) == (409, "room_already_open")
    db.session.expire_all()
    texts = db.session.scalars(sa.select(WrittenOpinion.text)).all()
    assert texts == ["Before the meeting."]
    # Still readable once live (the room shows them).
    listed = client.get(f"/api/v1/consultations/{cid}/written-opinions", headers=h("carol"))
    assert [o["text"] for o in listed.get_json()["written_opinions"]] == ["Before the meeting."]


def test_written_opinion_refusals(client, h, make_user, auth):
    cid = consultation(client, h, announce=False)
    response = opinion(client, h, cid, "chair", "Draft stage")
    assert (response.status_code, error(response)) == (409, "not_announced")
    move(client, h, cid, "announced")
    for text, code in (("", "text_required"), ("  ", "text_required"),
                       ("t" * 5001, "text_too_long"), ("a\x00b", "invalid_text")):  # fmt: skip
        response = opinion(client, h, cid, "alice", text)
        assert (response.status_code, error(response)) == (422, code)
    response = opinion(client, h, cid, "alice", ["list"])
    assert (response.status_code, error(response)) == (422, "invalid_type")
    # Invited consultation: non-participants are refused; observers only read.
    invited = consultation(
        client, h, access="invited", invite=[("alice", "voter"), ("erin", "observer")]
    )
    response = opinion(client, h, invited, "bob", "Let me write")
    assert (response.status_code, error(response)) == (403, "not_invited")
    response = opinion(client, h, invited, "erin", "Observer here")
    assert (response.status_code, error(response)) == (403, "observer_read_only")
    assert opinion(client, h, invited, "alice", "Invited voter").status_code == 201
    # A signed-in non-member of an open consultation is not a participant.
    make_user("stranger")
    response = client.post(
        f"/api/v1/consultations/{cid}/written-opinions",
        json={"text": "Hello"},
        headers=auth.headers("stranger", "password-123"),
    )
    assert (response.status_code, error(response)) == (403, "not_participant")
    response = client.post(f"/api/v1/consultations/{cid}/written-opinions", json={"text": "x"})
    assert (response.status_code, error(response)) == (401, "unauthorized")
    response = opinion(client, h, 99999, "alice", "Nowhere")
    assert (response.status_code, error(response)) == (404, "consultation_not_found")
    assert count(WrittenOpinion) == 1


# --- pages ----------------------------------------------------------------------------------------


def test_announcement_page_shows_question_and_opinion_form(client, h, auth):
    cid = consultation(client, h)
    opinion(client, h, cid, "bob", "Bob's view, written ahead.")
    auth.login("alice")
    page = client.get(f"/consultations/{cid}", headers={"Accept-Language": "en"}).get_data(
        as_text=True
    )
    assert "Will you attend?" in page
    assert 'name="answer" value="yes"' in page
    assert 'id="written-opinion-text"' in page
    assert "Bob&#39;s view, written ahead." in page
    response = client.post(f"/consultations/{cid}/attendance", data={"answer": "maybe"})
    assert response.status_code == 302
    response = client.post(
        f"/consultations/{cid}/written-opinion", data={"text": "Alice's view from the form."}
    )
    assert response.status_code == 302
    page = client.get(f"/consultations/{cid}", headers={"Accept-Language": "en"}).get_data(
        as_text=True
    )
    assert "Maybe: 1" in page
    assert 'aria-pressed="true"' in page
    assert "Alice&#39;s view from the form." in page
    assert "Update my written opinion" in page
    # After the room opens the form refuses with a message, and nothing changes.
    move(client, h, cid, "live")
    response = client.post(
        f"/consultations/{cid}/written-opinion", data={"text": "Late edit"},
        headers={"Accept-Language": "en"}, follow_redirects=False,
    )  # fmt: skip
    assert response.status_code == 302
    db.session.expire_all()
    assert sorted(db.session.scalars(sa.select(WrittenOpinion.text)).all()) == [
        "Alice's view from the form.",
        "Bob's view, written ahead.",
    ]


def test_visitor_sees_counts_and_a_sign_in_prompt(client, h):
    cid = consultation(client, h)
    page = client.get(f"/consultations/{cid}", headers={"Accept-Language": "en"})
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Will you attend?" in text
    assert "Sign in to say whether you will attend." in text
    assert 'name="answer"' not in text
    assert 'id="written-opinion-text"' not in text
