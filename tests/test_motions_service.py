"""Motion and vote services against a real SQLite file: the lifecycle, revisions and diffs,
amendments, seconding, ballots (open and secret), closing, deadlines, minority opinions and
the integrity the schema keeps by itself."""

import pytest

from consult.consultations import service as consultations
from consult.extensions import db
from consult.motions import service
from consult.motions.models import (
    Motion,
)
from tests.motions_helpers import code_of, count, seconded_motion, user

pytestmark = pytest.mark.usefixtures("english")


# --- motions -----------------------------------------------------------------------------


def test_motion_lifecycle_draft_to_seconded(demo):
    alice = user("alice")
    motion = service.create_motion(alice, demo, "  Square  ", "Build it.")
    assert (motion.state, motion.title, motion.revision) == ("draft", "Square", 1)
    assert code_of(lambda: service.second_motion(user("bob"), motion)) == "illegal_motion_state"
    service.submit_motion(alice, motion)
    assert motion.state == "submitted"
    assert code_of(lambda: service.submit_motion(alice, motion)) == "illegal_motion_state"
    assert code_of(lambda: service.second_motion(alice, motion)) == "cannot_second_own"
    service.second_motion(user("bob"), motion)
    assert motion.state == "seconded"
    assert code_of(lambda: service.second_motion(user("bob"), motion)) == "already_seconded"
    service.second_motion(user("carol"), motion)  # more seconders are welcome
    data = service.motion_to_dict(motion)
    assert [s["username"] for s in data["seconders"]] == ["bob", "carol"]
    assert data["state"] == "seconded"


def test_seconds_required_per_consultation(demo):
    demo.seconds_required = 2
    db.session.commit()
    motion = service.create_motion(user("alice"), demo, "Bins", "More bins.")
    service.submit_motion(user("alice"), motion)
    service.second_motion(user("bob"), motion)
    assert motion.state == "submitted"
    assert code_of(lambda: service.open_vote(user("chair"), motion)) == "not_enough_seconders"
    service.second_motion(user("carol"), motion)
    assert motion.state == "seconded"


def test_no_seconder_needed_goes_straight_to_seconded(demo):
    demo.seconds_required = 0
    db.session.commit()
    motion = service.create_motion(user("alice"), demo, "Bins", "More bins.")
    service.submit_motion(user("alice"), motion)
    assert motion.state == "seconded"


def test_drafting_needs_speaking_rights(demo, make_user):
    consultations.set_participant(user("chair"), demo, "erin", "observer")
    assert code_of(lambda: service.create_motion(user("erin"), demo, "X", "")) == (
        "no_speaking_rights"
    )
    consultations.set_participant(user("chair"), demo, "erin", "speaker")
    assert service.create_motion(user("erin"), demo, "X", "").state == "draft"
    stranger = make_user("stranger")
    assert code_of(lambda: service.create_motion(stranger, demo, "X", "")) == "not_participant"
    assert count(Motion) == 1


def test_motion_text_limits(demo):
    alice = user("alice")
    assert code_of(lambda: service.create_motion(alice, demo, "  ", "x")) == "title_required"
    assert code_of(lambda: service.create_motion(alice, demo, "t" * 201, "")) == "title_too_long"
    assert code_of(lambda: service.create_motion(alice, demo, "t", "x" * 20_001)) == (
        "text_too_long"
    )
    assert code_of(lambda: service.create_motion(alice, demo, "t\x00", "")) == "invalid_text"
    assert count(Motion) == 0


def test_every_edit_is_a_new_revision_with_a_diff(demo):
    alice = user("alice")
    motion = service.create_motion(alice, demo, "Square", "Build a small square.\nPlant trees.")
    service.edit_motion(alice, motion, text="Build a small square.\nPlant ten trees.")
    service.edit_motion(user("chair"), motion, title="Leisure square")
    service.edit_motion(alice, motion, title="Leisure square")  # no change: no revision
    assert motion.revision == 3
    assert [r.number for r in motion.revisions] == [1, 2, 3]
    assert motion.revisions[0].text == "Build a small square.\nPlant trees."
    diff = service.diff(motion, 1, 2)
    assert diff["segments"] == [
        {"op": "equal", "text": "Build a small square.\nPlant"},
        {"op": "insert", "text": " ten"},
        {"op": "equal", "text": " trees."},
    ]
    assert "+Plant ten trees." in diff["unified"]
    title = service.diff(motion)  # default: previous → current
    assert (title["from"], title["to"], title["title"]["changed"]) == (2, 3, True)
    assert code_of(lambda: service.diff(motion, 1, 9)) == "revision_not_found"
    assert code_of(lambda: service.edit_motion(user("bob"), motion, text="x")) == "not_proposer"


def test_chinese_text_diff_is_by_character():
    segments = service.text_diff("小区南门外建设休闲广场。", "小区南门外建设自行车棚。")
    assert {"op": "delete", "text": "休闲广场"} in segments
    assert {"op": "insert", "text": "自行车棚"} in segments


def test_withdraw_and_table(demo):
    alice = user("alice")
    first = service.create_motion(alice, demo, "One", "")
    assert code_of(lambda: service.withdraw_motion(user("chair"), first)) == "not_proposer"
    service.withdraw_motion(alice, first, "Merged with another")
    assert (first.state, first.state_reason) == ("withdrawn", "Merged with another")
    assert code_of(lambda: service.submit_motion(alice, first)) == "illegal_motion_state"
    second = seconded_motion(demo)
    assert code_of(lambda: service.table_motion(alice, second)) == "not_chair"
    service.table_motion(user("chair"), second)
    assert second.state == "tabled"
    third = seconded_motion(demo)
    service.open_vote(user("chair"), third)
    assert code_of(lambda: service.table_motion(user("chair"), third)) == "illegal_motion_state"
    assert code_of(lambda: service.withdraw_motion(alice, third)) == "illegal_motion_state"


# --- amendments --------------------------------------------------------------------------


def test_amendment_accepted_becomes_next_revision(demo):
    motion = seconded_motion(demo, text="Build a square.")
    amendment = service.propose_amendment(user("carol"), motion, "Build a square with benches.")
    assert amendment.status == "proposed" and amendment.base_revision == 1
    assert code_of(lambda: service.accept_amendment(user("alice"), amendment)) == "not_chair"
    service.accept_amendment(user("chair"), amendment)
    assert (amendment.status, amendment.revision) == ("accepted", 2)
    assert motion.text == "Build a square with benches."
    assert motion.revisions[-1].amendment_id == amendment.id
    assert code_of(lambda: service.accept_amendment(user("chair"), amendment)) == (
        "illegal_amendment_state"
    )
    assert code_of(lambda: service.propose_amendment(user("carol"), motion, motion.text)) == (
        "amendment_unchanged"
    )


def test_amendment_rejected_needs_a_reason(demo):
    motion = seconded_motion(demo)
    amendment = service.propose_amendment(user("carol"), motion, "Something else.")
    assert code_of(lambda: service.reject_amendment(user("chair"), amendment, " ")) == (
        "reason_required"
    )
    assert code_of(lambda: service.reject_amendment(user("chair"), amendment, "x" * 2001)) == (
        "reason_too_long"
    )
    service.reject_amendment(user("chair"), amendment, "Out of budget")
    data = service.motion_to_dict(motion)["amendments"][0]
    assert (data["status"], data["reason"], data["decided_by"]) == (
        "rejected",
        "Out of budget",
        "chair",
    )
    assert motion.revision == 1


def test_amendment_put_to_its_own_vote(demo):
    motion = seconded_motion(demo, text="Build a square.")
    amendment = service.propose_amendment(user("carol"), motion, "Build a bicycle shed.")
    vote = service.open_amendment_vote(user("chair"), amendment, threshold="simple")
    assert amendment.status == "voting" and vote.amendment_id == amendment.id
    assert vote.text == "Build a bicycle shed."
    # the motion itself cannot be voted on meanwhile
    assert code_of(lambda: service.open_vote(user("chair"), motion)) == "vote_in_progress"
    for name, choice in (("alice", "yes"), ("bob", "yes"), ("carol", "no")):
        service.cast_ballot(user(name), vote, choice)
    service.close_vote(user("chair"), vote)
    assert vote.result == "adopted"
    assert (amendment.status, amendment.decided_by) == ("accepted", "vote")
    assert motion.text == "Build a bicycle shed." and motion.revision == 2
    assert motion.state == "seconded"  # the motion itself is still to be voted on
    assert service.vote_to_dict(vote)["title"].startswith("Amendment")


def test_amendment_rejected_by_vote(demo):
    motion = seconded_motion(demo, text="Build a square.")
    amendment = service.propose_amendment(user("carol"), motion, "Build a shed.")
    vote = service.open_amendment_vote(user("chair"), amendment)
    service.cast_ballot(user("alice"), vote, "no")
    service.close_vote(user("chair"), vote)
    assert amendment.status == "rejected" and motion.text == "Build a square."
