"""Minutes (会议纪要) of a closed consultation: a page, a Markdown and a JSON download, with
attendance, agenda, written opinions, the transcript (hidden text for chair and secretary
only), motions with revisions and amendments, votes and minority opinions."""

from __future__ import annotations

import json

import pytest

from .test_outcomes_support import user

SECRET_WORDS = "隐藏的粗话 rude words that were hidden"
WRITTEN = "书面意见：请考虑老人停车。Written: think of older residents' parking."


@pytest.fixture
def meeting(app, demo):
    """A consultation taken through every stage: written opinion while announced, a room with
    a visit, messages (one hidden), a motion edited and amended, a vote, then closed."""
    from consult.consultations import service as consultations
    from consult.motions import service as motions
    from consult.room import service as room
    from consult.topics import announcement

    chair, alice, bob, carol = (user(n) for n in ("chair", "alice", "bob", "carol"))
    c = consultations.create_consultation(
        chair,
        demo.community,
        title="路灯维修 Street lights",
        description="Background",
        agenda=["介绍 Intro", "表决 Vote"],
        access="open",
    )
    for person in (alice, bob, carol):
        consultations.set_participant(chair, c, person.username, "voter")
    consultations.set_participant(chair, c, "dave", "secretary")
    consultations.transition(chair, c, "announced")
    announcement.submit_written_opinion(alice, c, WRITTEN)
    consultations.transition(chair, c, "live")

    room.join_room(alice, c, sid="sid-alice")
    room.post_message(alice, c, "大家好 Hello all", client_id="a1")
    rude = room.post_message(bob, c, SECRET_WORDS, client_id="b1")
    room.hide_message(chair, c, rude.seq, "离题 Off topic")

    motion = motions.create_motion(alice, c, "修路灯 Fix the lights", "Fix three lights.")
    motions.edit_motion(alice, motion, text="Fix all five lights.")
    amendment = motions.propose_amendment(carol, motion, "Fix all five lights by May.")
    motions.accept_amendment(chair, amendment)
    motions.submit_motion(alice, motion)
    motions.second_motion(bob, motion)
    vote = motions.open_vote(
        chair, motion, kind="yes_no_abstain", secret=False, threshold="simple", quorum=None
    )
    motions.cast_ballot(alice, vote, "yes")
    motions.cast_ballot(bob, vote, "no", "太贵 Too expensive")
    motions.cast_ballot(carol, vote, "yes")
    consultations.transition(chair, c, "closed")
    return c


def test_minutes_wait_for_the_room_to_close(demo, client):
    response = client.get(f"/consultations/{demo.id}/minutes.json")
    assert response.status_code == 409
    assert "consultation_not_closed" in response.get_data(as_text=True)
    assert client.get(f"/consultations/{demo.id}/minutes").status_code == 409
    assert client.get("/consultations/9999/minutes.md").status_code == 404


def test_minutes_json_for_a_visitor(meeting, client):
    response = client.get(f"/consultations/{meeting.id}/minutes.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert "attachment" in response.headers["Content-Disposition"]
    data = json.loads(response.data)
    assert data["agenda"] == ["介绍 Intro", "表决 Vote"]
    assert data["consultation"]["closed_at"] and data["consultation"]["opened_at"]
    [alice] = [a for a in data["attendance"] if a["username"] == "alice"]
    assert alice["joined_at"].endswith("Z")
    assert [o["text"] for o in data["written_opinions"]] == [WRITTEN]
    bodies = [m.get("body") for m in data["transcript"]]
    assert "大家好 Hello all" in bodies
    [hidden] = [m for m in data["transcript"] if m.get("hidden")]
    assert hidden["body"] is None and hidden["hidden_reason"] == "离题 Off topic"
    assert SECRET_WORDS not in response.get_data(as_text=True)
    [motion] = data["motions"]
    assert [r["number"] for r in motion["revisions"]] == [1, 2, 3]
    assert motion["amendments"][0]["status"] == "accepted"
    [vote] = data["votes"]
    assert vote["counts"] == {"yes": 2, "no": 1, "abstain": 0}
    assert vote["result"] == "adopted" and vote["secret"] is False and vote["threshold"] == "simple"
    assert {"text": "太贵 Too expensive", "author": "bob"}.items() <= data["minority_opinions"][
        0
    ].items()


def test_hidden_text_only_for_chair_and_secretary(meeting, client, auth):
    auth.login("alice")
    assert SECRET_WORDS not in client.get(f"/consultations/{meeting.id}/minutes.md").get_data(
        as_text=True
    )
    assert SECRET_WORDS not in client.get(f"/consultations/{meeting.id}/minutes").get_data(
        as_text=True
    )
    auth.logout()
    for privileged in ("dave", "chair"):  # secretary, chair
        auth.login(privileged)
        md = client.get(f"/consultations/{meeting.id}/minutes.md").get_data(as_text=True)
        assert SECRET_WORDS in md, privileged
        page = client.get(f"/consultations/{meeting.id}/minutes").get_data(as_text=True)
        assert SECRET_WORDS in page
        auth.logout()


def test_minutes_markdown_and_page(meeting, client):
    response = client.get(
        f"/consultations/{meeting.id}/minutes.md", headers={"Accept-Language": "en"}
    )
    assert response.status_code == 200
    assert response.mimetype == "text/markdown"
    md = response.get_data(as_text=True)
    assert md.startswith("# Minutes: 路灯维修 Street lights")
    for heading in (
        "## Agenda",
        "## Attendance",
        "## Written opinions",
        "## Transcript",
        "## Motions",
        "## Votes",
        "## Minority opinions",
    ):
        assert heading in md
    assert "1. 介绍 Intro" in md
    assert "[hidden by the chair] (离题 Off topic)" in md
    assert "Fix all five lights by May." in md
    assert "| Yes | 2 |" in md
    assert "太贵 Too expensive" in md
    assert WRITTEN in md

    page = client.get(f"/consultations/{meeting.id}/minutes", headers={"Accept-Language": "en"})
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "/static/css/notice.css" in html
    assert f"/consultations/{meeting.id}/minutes.md" in html
    assert "[hidden by the chair]" in html and "Fix all five lights by May." in html


def test_minutes_of_an_invited_consultation_are_for_its_participants(demo, client, auth, make_user):
    from consult.consultations import service as consultations

    chair = user("chair")
    c = consultations.create_consultation(
        chair, demo.community, title="Closed door", access="invited"
    )
    consultations.transition(chair, c, "announced")
    consultations.transition(chair, c, "live")
    consultations.transition(chair, c, "closed")
    assert client.get(f"/consultations/{c.id}/minutes.json").status_code == 404
    auth.login("alice")
    assert client.get(f"/consultations/{c.id}/minutes.json").status_code == 403
