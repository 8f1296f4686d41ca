"""Socket.IO events for motions and votes (through the test client): acknowledgements, errors
and what the room hears."""

import pytest
import sqlalchemy as sa
from flask import g

from consult.extensions import db, socketio
from consult.motions.models import Ballot, Motion, SecretBallot, Vote
from tests.conftest import statements_run


@pytest.fixture
def people(app, demo, auth):
    """A connected Socket.IO client per person, each in the demo room."""
    clients = {}
    cid = demo.id

    def connect(name):
        if name not in clients:
            token = auth.token(name)
            fresh()
            client = socketio.test_client(app, auth={"token": token})
            assert client.is_connected()
            ack = emit(client, "room:join", {"consultation_id": cid})
            assert ack["ok"], ack
            client.get_received()
            clients[name] = client
        return clients[name]

    yield connect
    for client in clients.values():
        if client.is_connected():
            client.disconnect()


def heard(client, event):
    return [packet["args"][0] for packet in client.get_received() if packet["name"] == event]


def fresh():
    """The tests share one application context, so Flask-Login's per-request user in ``g``
    would carry over from one client's event to the next (a server handles each event in its
    own context): forget it before each connect and event."""
    g.pop("_login_user", None)


def emit(client, event, data):
    fresh()
    return client.emit(event, data, callback=True)


def test_motion_events_reach_the_room(people, demo):
    cid = demo.id
    alice, bob, chair = people("alice"), people("bob"), people("chair")
    ack = emit(alice, "motion:create", {"consultation_id": cid, "title": "Shed", "text": "Build."})
    assert ack["ok"] and ack["motion"]["state"] == "draft"
    mid = ack["motion"]["id"]
    updates = heard(bob, "motion:updated")
    assert updates[-1]["id"] == mid and updates[-1]["state"] == "draft"
    assert updates[-1]["consultation_id"] == cid and updates[-1]["title"] == "Shed"
    assert updates[-1]["motion"]["proposer"]["username"] == "alice"
    ack = emit(alice, "motion:edit", {"motion_id": mid, "text": "Build a shed."})
    assert ack["motion"]["revision"] == 2
    assert emit(alice, "motion:submit", {"motion_id": mid})["motion"]["state"] == "submitted"
    ack = emit(alice, "motion:second", {"motion_id": mid})
    assert (
        ack == {"ok": False, "error": ack["error"]} and ack["error"]["code"] == "cannot_second_own"
    )
    assert emit(bob, "motion:second", {"motion_id": mid})["motion"]["state"] == "seconded"
    assert heard(chair, "motion:updated")[-1]["state"] == "seconded"
    ack = emit(bob, "amendment:propose", {"motion_id": mid, "text": "Build a bigger shed."})
    assert ack["ok"] and ack["amendment"]["status"] == "proposed"
    aid = ack["amendment"]["id"]
    ack = emit(bob, "amendment:accept", {"amendment_id": aid})
    assert ack["error"]["code"] == "not_chair"
    ack = emit(chair, "amendment:accept", {"amendment_id": aid})
    assert ack["ok"] and ack["motion"]["text"] == "Build a bigger shed."
    other = emit(bob, "amendment:propose", {"motion_id": mid, "text": "No shed."})["amendment"][
        "id"
    ]
    ack = emit(chair, "amendment:reject", {"amendment_id": other, "reason": "Off topic"})
    assert ack["amendment"]["reason"] == "Off topic"
    listing = emit(bob, "motions:list", {"consultation_id": cid})
    assert listing["ok"] and listing["motions"][0]["revision"] == 3
    assert [a["status"] for a in listing["motions"][0]["amendments"]] == ["accepted", "rejected"]
    ack = emit(chair, "motion:table", {"motion_id": mid, "reason": "Later"})
    assert ack["motion"]["state"] == "tabled"
    second = emit(bob, "motion:create", {"consultation_id": cid, "title": "Bins"})["motion"]
    assert (
        emit(bob, "motion:withdraw", {"motion_id": second["id"]})["motion"]["state"] == "withdrawn"
    )


def test_vote_events_open_tally_close(people, demo):
    cid = demo.id
    alice, bob, carol, chair = people("alice"), people("bob"), people("carol"), people("chair")
    mid = emit(alice, "motion:create", {"consultation_id": cid, "title": "Square"})["motion"]["id"]
    emit(alice, "motion:submit", {"motion_id": mid})
    emit(bob, "motion:second", {"motion_id": mid})
    for client in (alice, bob, carol, chair):
        client.get_received()
    refused = emit(alice, "vote:open", {"motion_id": mid, "threshold": "simple"})
    assert refused["ok"] is False and refused["error"]["code"] == "not_chair"
    ack = emit(chair, "vote:open", {"motion_id": mid, "threshold": "majority_cast",
                                    "quorum": "1/2", "results": "live", "secret": False})  # fmt: skip
    assert ack["ok"], ack
    vid = ack["vote"]["id"]
    opened = heard(carol, "vote:opened")
    assert len(opened) == 1
    payload = opened[0]
    assert (payload["id"], payload["motion_id"], payload["consultation_id"]) == (vid, mid, cid)
    assert payload["title"] == "Square" and payload["threshold"] == "majority_cast"
    assert payload["quorum"] == "1/2" and payload["secret"] is False
    assert payload["eligible_usernames"] == ["alice", "bob", "carol", "chair", "dave", "erin"]
    ack = emit(alice, "ballot:cast", {"vote_id": vid, "choice": "yes"})
    assert ack["ok"] and ack["ballot"]["status"] == "recorded"
    tally = heard(carol, "vote:tally")
    assert tally[-1]["counts"] == {"yes": 1, "no": 0, "abstain": 0}
    assert tally[-1]["ballots_cast"] == 1 and tally[-1]["id"] == vid
    emit(bob, "ballot:cast", {"vote_id": vid, "choice": "yes"})
    ack = emit(carol, "ballot:cast", {"vote_id": vid, "choice": "no", "reason": "Too noisy"})
    assert ack["ok"]
    for bad, code in (({"vote_id": vid, "choice": "perhaps"}, "invalid_choice"),
                      ({"vote_id": vid, "choice": "no", "reason": "x" * 2001}, "reason_too_long"),
                      ({"vote_id": 999, "choice": "no"}, "vote_not_found"),
                      ({"choice": "no"}, "invalid_field")):  # fmt: skip
        ack = emit(carol, "ballot:cast", bad)
        assert ack["ok"] is False and ack["error"]["code"] == code, ack
    assert emit(carol, "vote:close", {"vote_id": vid})["error"]["code"] == "not_chair"
    alice.get_received()
    ack = emit(chair, "vote:close", {"vote_id": vid})
    assert ack["ok"] and ack["vote"]["result"] == "adopted"
    closed = heard(alice, "vote:closed")
    assert len(closed) == 1
    result = closed[0]
    assert result["status"] == "closed" and result["result"] == "adopted"
    assert "ballots" not in result and len(vote_get(alice, vid)["ballots"]) == 3
    assert result["counts"] == {"yes": 2, "no": 1, "abstain": 0}
    assert result["minority_opinions"][0]["text"] == "Too noisy"
    assert result["minority_opinions"][0]["author"] == "carol"
    assert (
        emit(alice, "ballot:cast", {"vote_id": vid, "choice": "no"})["error"]["code"]
        == "vote_closed"
    )
    got = emit(alice, "vote:get", {"vote_id": vid})
    assert got["vote"]["result"] == "adopted"
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Ballot)) == 3
    assert db.session.get(Motion, mid).state == "adopted"


def test_hidden_results_send_no_tally_and_secret_ballots_answer_a_receipt(people, demo):
    cid = demo.id
    alice, bob, chair = people("alice"), people("bob"), people("chair")
    mid = emit(alice, "motion:create", {"consultation_id": cid, "title": "Secret"})["motion"]["id"]
    emit(alice, "motion:submit", {"motion_id": mid})
    emit(bob, "motion:second", {"motion_id": mid})
    vote = emit(chair, "vote:open", {"motion_id": mid, "secret": True})["vote"]
    assert vote["secret"] is True and vote["results"] == "hidden"
    bob.get_received()
    ack = emit(
        alice, "ballot:cast", {"vote_id": vote["id"], "choice": "abstain", "reason": "Private"}
    )
    assert ack["ok"] and len(ack["ballot"]["receipt"]) == 14
    again = emit(alice, "ballot:cast", {"vote_id": vote["id"], "choice": "yes"})
    assert again["error"]["code"] == "already_voted"
    assert heard(bob, "vote:tally") == []
    closing = emit(chair, "vote:close", {"vote_id": vote["id"]})
    receipts = [{"receipt": ack["ballot"]["receipt"], "choice": "abstain"}]
    assert closing["vote"]["receipts"] == receipts
    assert vote_get(bob, vote["id"])["receipts"] == receipts
    closed = heard(bob, "vote:closed")[0]
    # The room hears the result, not the lists as long as the room (fetched with vote:get).
    assert "receipts" not in closed and "ballots" not in closed
    assert closed["minority_opinions"] == [
        {"text": "Private", "choice": "abstain", "source": "ballot", "author": None,
         "author_name": None}
    ]  # fmt: skip
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(SecretBallot)) == 1


def test_events_need_a_signed_in_user(app, demo):
    client = socketio.test_client(app)
    assert not client.is_connected()


def test_ineligible_and_unknown(people, demo, make_user, app, auth):
    cid = demo.id
    make_user("frank", password="password-123", community=demo.community)
    alice, chair = people("alice"), people("chair")
    mid = emit(alice, "motion:create", {"consultation_id": cid, "title": "X"})["motion"]["id"]
    emit(alice, "motion:submit", {"motion_id": mid})
    emit(chair, "motion:second", {"motion_id": mid})
    vid = emit(chair, "vote:open", {"motion_id": mid})["vote"]["id"]
    token = auth.token("frank", "password-123")
    fresh()
    frank = socketio.test_client(app, auth={"token": token})
    ack = emit(frank, "ballot:cast", {"vote_id": vid, "choice": "yes"})
    assert ack["error"]["code"] == "not_eligible"
    assert emit(alice, "motion:second", {"motion_id": 999})["error"]["code"] == "motion_not_found"
    assert (
        emit(alice, "amendment:accept", {"amendment_id": 9})["error"]["code"]
        == "amendment_not_found"
    )
    assert emit(alice, "ballot:cast", "not an object")["error"]["code"] == "bad_payload"
    frank.disconnect()
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Ballot)) == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Vote)) == 1


def vote_get(client, vote_id):
    answer = emit(client, "vote:get", {"vote_id": vote_id})
    assert answer["ok"], answer
    return answer["vote"]


def test_a_ballot_reads_its_voter_with_the_vote_in_one_statement(people, demo):
    """The voter, the vote, its consultation, the voter's place in it and on the vote's list
    are read by the event's first statement, and not asked again; the ballot is stored."""
    import re

    cid = demo.id
    alice, bob, chair = people("alice"), people("bob"), people("chair")
    mid = emit(alice, "motion:create", {"consultation_id": cid, "title": "Bench"})["motion"]["id"]
    emit(alice, "motion:submit", {"motion_id": mid})
    emit(bob, "motion:second", {"motion_id": mid})
    vid = emit(chair, "vote:open", {"motion_id": mid})["vote"]["id"]
    db.session.remove()  # what the test has loaded is not the event's
    with statements_run() as statements:
        answer = emit(bob, "ballot:cast", {"vote_id": vid, "choice": "no"})
    assert answer["ok"] is True and answer["ballot"]["status"] == "recorded", answer
    first = statements[0]
    for joined in ("vote", "consultation", "participant", "vote_eligibility"):
        assert f"JOIN {joined} " in first, first
    reads = [s for s in statements if s.lstrip().startswith("SELECT")]
    for table in ("user", "consultation", "participant", "vote_eligibility", "membership"):
        again = [s for s in reads[1:] if re.search(rf'\bFROM "?{table}"?(\s|$)', s)]
        assert again == [], again
    db.session.rollback()
    voter = db.session.scalar(sa.select(Ballot.voter_id).where(Ballot.vote_id == vid))
    assert voter == db.session.scalar(sa.text("SELECT id FROM user WHERE username = 'bob'"))
