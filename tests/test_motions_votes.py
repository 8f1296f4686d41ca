"""Vote services against a real SQLite file: opening, ballots (open and secret), closing,
deadlines, minority opinions and the integrity the schema keeps by itself; and on
PostgreSQL, where ballots of one vote are cast side by side, what that must not change."""

import threading
import time
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from consult.consultations import service as consultations
from consult.core.time import utcnow
from consult.extensions import db
from consult.motions import service, tasks
from consult.motions.models import (
    Ballot,
    BallotChange,
    MinorityOpinion,
    Motion,
    MotionRevision,
    RecordChangeError,
    SecretBallot,
    Vote,
    VoteEligibility,
    VoterMark,
)
from tests.conftest import in_threads
from tests.motions_helpers import code_of, count, open_vote, seconded_motion, user

pytestmark = pytest.mark.usefixtures("english")


# --- opening a vote ------------------------------------------------------------------------


def test_open_vote_freezes_settings_and_eligibility(demo):
    vote = open_vote(demo, secret=False, threshold="two_thirds", quorum="2/3", results="hidden")
    assert (vote.status, vote.threshold, vote.quorum, vote.results) == (
        "open", "two_thirds", "2/3", "hidden"
    )  # fmt: skip
    assert vote.motion.state == "voting"
    eligible = set(
        db.session.scalars(
            sa.select(VoteEligibility.user_id).where(VoteEligibility.vote_id == vote.id)
        )
    )
    assert eligible == {user(n).id for n in ("chair", "alice", "bob", "carol", "dave", "erin")}
    assert vote.eligible_count == 6
    # a role changed after opening changes nothing in this vote
    consultations.set_participant(user("chair"), demo, "erin", "observer")
    service.cast_ballot(user("erin"), vote, "yes")
    assert count(Ballot, vote_id=vote.id) == 1


def test_open_vote_defaults_come_from_the_consultation(demo):
    demo.default_threshold, demo.default_quorum, demo.default_secret = (
        "majority_eligible",
        "1/2",
        True,
    )
    db.session.commit()
    vote = open_vote(demo)
    assert (vote.threshold, vote.quorum, vote.secret, vote.results) == (
        "majority_eligible", "1/2", True, "hidden"
    )  # fmt: skip
    explicit_none = service.open_vote(user("chair"), seconded_motion(demo), quorum=None)
    assert explicit_none.quorum is None


@pytest.mark.parametrize(
    ("settings", "code"),
    [
        ({"kind": "ranked"}, "invalid_kind"),
        ({"kind": "options", "options": ["Only one"]}, "invalid_options"),
        ({"kind": "options", "options": [str(n) for n in range(11)]}, "invalid_options"),
        ({"kind": "options", "options": ["A", "A"]}, "invalid_options"),
        ({"options": ["A", "B"]}, "invalid_options"),
        ({"threshold": "most"}, "invalid_threshold"),
        ({"threshold": "plurality"}, "invalid_threshold"),
        ({"kind": "options", "options": ["A", "B"], "threshold": "simple"}, "invalid_threshold"),
        ({"quorum": "0.5"}, "invalid_quorum"),
        ({"quorum": "3/2"}, "invalid_quorum"),
        ({"quorum": "0/2"}, "invalid_quorum"),
        ({"results": "sometimes"}, "invalid_results"),
        ({"secret": True, "results": "live"}, "invalid_results"),
        ({"secret": "yes"}, "invalid_secret"),
    ],
)
def test_open_vote_refuses_bad_settings(demo, settings, code):
    motion = seconded_motion(demo)
    assert code_of(lambda: service.open_vote(user("chair"), motion, **settings)) == code
    assert count(Vote) == 0
    assert db.session.get(Motion, motion.id).state == "seconded"


def test_open_vote_deadline_must_be_in_the_future(demo):
    motion = seconded_motion(demo)
    past = utcnow() - timedelta(minutes=1)
    far = utcnow() + timedelta(days=31)
    assert code_of(lambda: service.open_vote(user("chair"), motion, deadline=past)) == (
        "invalid_deadline"
    )
    assert code_of(lambda: service.open_vote(user("chair"), motion, deadline=far)) == (
        "invalid_deadline"
    )


def test_open_vote_only_by_chair_on_a_seconded_motion_in_a_live_room(demo):
    motion = service.create_motion(user("alice"), demo, "Draft", "")
    assert code_of(lambda: service.open_vote(user("alice"), motion)) == "not_chair"
    assert code_of(lambda: service.open_vote(user("chair"), motion)) == "illegal_motion_state"
    seconded = seconded_motion(demo)
    service.open_vote(user("chair"), seconded)
    assert code_of(lambda: service.open_vote(user("chair"), seconded)) == "illegal_motion_state"
    other = seconded_motion(demo)
    consultations.transition(user("chair"), demo, "closed")
    assert code_of(lambda: service.open_vote(user("chair"), other)) == "room_closed"
    assert code_of(lambda: service.create_motion(user("alice"), demo, "Late", "")) == "room_closed"


def test_one_open_vote_per_motion_is_kept_by_the_schema(demo):
    vote = open_vote(demo)
    db.session.add(
        Vote(
            consultation_id=demo.id, motion_id=vote.motion_id, title="again", kind="yes_no_abstain",
            threshold="simple", opened_by_id=user("chair").id,
        )
    )  # fmt: skip
    with pytest.raises(IntegrityError):
        db.session.flush()
    db.session.rollback()


# --- ballots -------------------------------------------------------------------------------


def test_open_ballot_may_change_until_close_and_keeps_history(demo):
    vote = open_vote(demo)
    alice = user("alice")
    first = service.cast_ballot(alice, vote, "no", "Too loud")
    assert first["status"] == "recorded"
    again = service.cast_ballot(alice, vote, "no", "Too loud")
    assert again["status"] == "unchanged"
    changed = service.cast_ballot(alice, vote, "yes", "Convinced")
    assert changed["status"] == "changed"
    assert count(Ballot, vote_id=vote.id) == 1
    ballot = db.session.scalar(sa.select(Ballot).where(Ballot.vote_id == vote.id))
    assert (ballot.choice, ballot.reason) == ("yes", "Convinced")
    assert [(c.choice, c.reason) for c in ballot.changes] == [
        ("no", "Too loud"),
        ("yes", "Convinced"),
    ]
    data = service.vote_to_dict(vote, alice)
    assert data["counts"] == {"yes": 1, "no": 0, "abstain": 0}
    assert data["me"] == {"eligible": True, "voted": True, "choice": "yes", "reason": "Convinced"}


def test_ballot_refusals_record_nothing(demo, make_user):
    vote = open_vote(demo)
    stranger = make_user("stranger", community=demo.community)
    assert code_of(lambda: service.cast_ballot(stranger, vote, "yes")) == "not_eligible"
    assert code_of(lambda: service.cast_ballot(user("alice"), vote, "maybe")) == "invalid_choice"
    assert code_of(lambda: service.cast_ballot(user("alice"), vote, 1)) == "invalid_choice"
    assert code_of(lambda: service.cast_ballot(user("alice"), vote, "yes", "x" * 2001)) == (
        "reason_too_long"
    )
    service.cast_ballot(user("alice"), vote, "yes", "x" * 2000)  # exactly the limit
    service.close_vote(user("chair"), vote)
    assert code_of(lambda: service.cast_ballot(user("bob"), vote, "yes")) == "vote_closed"
    assert code_of(lambda: service.cast_ballot(user("alice"), vote, "no")) == "vote_closed"
    assert count(Ballot) == 1 and count(BallotChange) == 1
    assert code_of(lambda: service.get_vote(9999)) == "vote_not_found"
    assert code_of(lambda: service.get_vote("x")) == "vote_not_found"


def test_schema_refuses_a_second_ballot_and_an_ineligible_one(demo, make_user):
    vote = open_vote(demo)
    service.cast_ballot(user("alice"), vote, "yes")
    db.session.add(Ballot(vote_id=vote.id, voter_id=user("alice").id, choice="no"))
    with pytest.raises(IntegrityError):
        db.session.flush()
    db.session.rollback()
    stranger = make_user("stranger2", community=demo.community)
    db.session.add(Ballot(vote_id=vote.id, voter_id=stranger.id, choice="no"))
    with pytest.raises(IntegrityError):  # not on the list frozen at opening
        db.session.flush()
    db.session.rollback()


def test_secret_ballot_has_no_link_to_the_voter(demo):
    vote = open_vote(demo, secret=True)
    answer = service.cast_ballot(user("alice"), vote, "no", "Noise at night")
    receipt = answer["receipt"]
    assert len(receipt) == 14 and answer["status"] == "recorded"
    assert code_of(lambda: service.cast_ballot(user("alice"), vote, "yes")) == "already_voted"
    assert code_of(lambda: service.cast_ballot(user("alice"), vote, "no")) == "already_voted"
    service.cast_ballot(user("bob"), vote, "yes")
    service.cast_ballot(user("carol"), vote, "yes")
    assert count(SecretBallot, vote_id=vote.id) == 3
    assert count(VoterMark, vote_id=vote.id) == 3
    # the ballot table has no column that could name a person, nor a time
    columns = {c.name for c in SecretBallot.__table__.columns}
    assert columns == {"id", "vote_id", "choice", "reason", "receipt"}
    assert all(fk.column.table.name == "vote" for fk in SecretBallot.__table__.foreign_keys)
    # ids are random, not the order of casting
    ids = list(
        db.session.scalars(sa.select(SecretBallot.id).where(SecretBallot.vote_id == vote.id))
    )
    assert max(ids) > 10_000
    data = service.vote_to_dict(vote, user("alice"))
    assert "counts" not in data  # hidden until the close
    assert data["me"] == {"eligible": True, "voted": True, "choice": None, "reason": None}
    closed = service.vote_to_dict(service.close_vote(user("chair"), vote))
    assert closed["counts"] == {"yes": 2, "no": 1, "abstain": 0}
    assert {"receipt": receipt, "choice": "no"} in closed["receipts"]
    assert closed["receipts"] == sorted(closed["receipts"], key=lambda r: r["receipt"])
    assert closed["minority_opinions"] == [
        {"text": "Noise at night", "choice": "no", "source": "ballot", "author": None,
         "author_name": None}
    ]  # fmt: skip
    published = repr(closed)
    for name in ("alice", "bob", "carol"):
        assert name not in published
    assert "ballots" not in closed


def _live_consultation():
    from consult.consultations.models import Consultation

    return db.session.scalar(sa.select(Consultation).where(Consultation.status == "live"))


VOTERS = ("alice", "bob", "carol", "dave", "erin")


def test_ballots_are_cast_side_by_side_on_postgresql(pg_app):
    """On PostgreSQL the ballots of one vote are cast at the same time (the vote's row is
    shared), and a second tap finds the first: one ballot each, the second one unchanged."""
    vote_id = open_vote(_live_consultation(), secret=False).id
    answers = []

    def cast(name):
        vote = db.session.get(Vote, vote_id)
        answers.append(service.cast_ballot(user(name), vote, "no", "Too dear")["status"])

    assert in_threads(pg_app, cast, *VOTERS, *VOTERS) == []
    assert sorted(answers) == ["recorded"] * 5 + ["unchanged"] * 5
    assert count(Ballot, vote_id=vote_id) == 5
    assert count(BallotChange) == 5
    changed = service.cast_ballot(user("alice"), db.session.get(Vote, vote_id), "yes")
    assert changed["status"] == "changed" and count(BallotChange) == 6
    closed = service.close_vote(user("chair"), db.session.get(Vote, vote_id))
    assert closed.counts == {"yes": 1, "no": 4, "abstain": 0} and closed.ballots_cast == 5


def test_a_close_waits_for_the_ballot_being_cast_on_postgresql(pg_app, monkeypatch):
    """Closing waits for a ballot in flight, and counts it; a ballot after it is refused."""
    vote_id = open_vote(_live_consultation(), secret=False).id
    casting, go_on = threading.Event(), threading.Event()
    cast_open = service._cast_open

    def held_cast(*args):  # the vote was found open, the ballot is not written yet
        casting.set()
        go_on.wait(10)
        return cast_open(*args)

    monkeypatch.setattr(service, "_cast_open", held_cast)

    def act(name):
        vote = db.session.get(Vote, vote_id)
        if name == "chair":
            casting.wait(10)
            service.close_vote(user("chair"), vote)
        else:
            service.cast_ballot(user(name), vote, "yes")

    def release_later():
        casting.wait(10)
        time.sleep(0.5)  # the close has had time to finish, were it not waiting
        go_on.set()

    releaser = threading.Thread(target=release_later)
    releaser.start()
    assert in_threads(pg_app, act, "alice", "chair") == []
    releaser.join()
    vote = db.session.get(Vote, vote_id)
    db.session.refresh(vote)
    assert (vote.status, vote.ballots_cast, vote.counts["yes"]) == ("closed", 1, 1)
    assert count(Ballot, vote_id=vote_id) == 1
    assert code_of(lambda: service.cast_ballot(user("bob"), vote, "yes")) == "vote_closed"


def test_a_ballot_after_the_deadline_closes_the_vote_on_postgresql(pg_app):
    vote = open_vote(_live_consultation(), deadline=utcnow() + timedelta(seconds=30))
    service.cast_ballot(user("alice"), vote, "yes")
    vote.deadline = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert code_of(lambda: service.cast_ballot(user("bob"), vote, "yes")) == "vote_closed"
    db.session.refresh(vote)
    assert (vote.status, vote.closed_because, vote.result) == ("closed", "deadline", "adopted")
    assert count(Ballot, vote_id=vote.id) == 1


def test_secret_ballot_audit_log_does_not_record_the_choice(demo):
    from consult.audit.models import AuditEntry

    vote = open_vote(demo, secret=True)
    service.cast_ballot(user("alice"), vote, "no", "private reason")
    entry = db.session.scalar(
        sa.select(AuditEntry)
        .where(AuditEntry.action == "ballot.cast")
        .order_by(AuditEntry.id.desc())
    )
    assert entry.detail == {"secret": True}


# --- closing -------------------------------------------------------------------------------


def test_close_stores_result_and_minority_opinions_named_for_open_ballots(demo):
    vote = open_vote(demo, threshold="majority_cast", quorum="1/2")
    service.cast_ballot(user("alice"), vote, "yes", "Children need space")
    service.cast_ballot(user("bob"), vote, "yes")
    service.cast_ballot(user("carol"), vote, "no", "Too expensive")
    service.cast_ballot(user("dave"), vote, "abstain", "I do not live nearby")
    assert code_of(lambda: service.close_vote(user("alice"), vote)) == "not_chair"
    service.close_vote(user("chair"), vote)
    data = service.vote_to_dict(vote)
    assert data["status"] == "closed" and data["closed_because"] == "chair"
    assert data["counts"] == {"yes": 2, "no": 1, "abstain": 1}
    assert (data["ballots_cast"], data["eligible"], data["quorum_met"]) == (4, 6, True)
    assert data["result"] == "rejected"  # 2 of 4 is not more than half
    # the losing side (yes) and the abstentions, with names: this was an open ballot
    assert [(o["author"], o["choice"], o["text"]) for o in data["minority_opinions"]] == [
        ("alice", "yes", "Children need space"),
        ("dave", "abstain", "I do not live nearby"),
    ]
    assert all(o["source"] == "ballot" for o in data["minority_opinions"])
    assert vote.motion.state == "rejected"
    assert code_of(lambda: service.close_vote(user("chair"), vote)) == "vote_closed"
    assert count(MinorityOpinion, vote_id=vote.id) == 2


def test_no_quorum(demo):
    vote = open_vote(demo, quorum="2/3")
    for name in ("alice", "bob", "carol"):
        service.cast_ballot(user(name), vote, "yes")
    service.close_vote(user("chair"), vote)
    assert (vote.result, vote.quorum_met, vote.motion.state) == ("no_quorum", False, "rejected")
    assert service.vote_to_dict(vote)["ballots_needed"] == 4


def test_option_vote_with_plurality_and_tie(demo):
    motion = seconded_motion(demo, title="Which plan?")
    options = ["Leisure square", "Bicycle shed", "Garden"]
    vote = service.open_vote(user("chair"), motion, kind="options", options=options)
    assert vote.threshold == "plurality"
    service.cast_ballot(user("alice"), vote, "Leisure square")
    service.cast_ballot(user("bob"), vote, "Bicycle shed", "Bikes get wet")
    assert code_of(lambda: service.cast_ballot(user("carol"), vote, "yes")) == "invalid_choice"
    service.cast_ballot(user("carol"), vote, "abstain")
    service.close_vote(user("chair"), vote)
    data = service.vote_to_dict(vote)
    assert data["result"] == "tie"
    assert data["counts"] == {"Leisure square": 1, "Bicycle shed": 1, "Garden": 0, "abstain": 1}
    assert motion.state == "rejected"
    winner = service.open_vote(
        user("chair"), seconded_motion(demo), kind="options", options=["A", "B"]
    )
    service.cast_ballot(user("alice"), winner, "B")
    service.cast_ballot(user("bob"), winner, "A", "A is cheaper")
    service.cast_ballot(user("carol"), winner, "B")
    service.close_vote(user("chair"), winner)
    assert winner.result == "B" and winner.motion.state == "adopted"
    assert [o["text"] for o in service.minority_opinions(winner)] == ["A is cheaper"]


def test_floor_opinions_join_the_minority_opinions(demo):
    from consult.room import service as room

    motion = seconded_motion(demo)
    room.record_floor_opinion(
        user("chair"), demo, text="The property company objects.", motion_id=motion.id
    )
    room.record_floor_opinion(user("chair"), demo, text="About another matter.")
    vote = service.open_vote(user("chair"), motion)
    service.cast_ballot(user("alice"), vote, "yes")
    service.cast_ballot(user("bob"), vote, "no", "Too costly")
    service.cast_ballot(user("carol"), vote, "yes")
    service.close_vote(user("chair"), vote)
    opinions = service.minority_opinions(vote)
    assert [(o["source"], o["text"]) for o in opinions] == [
        ("ballot", "Too costly"),
        ("floor", "The property company objects."),
    ]


def test_minority_opinions_are_never_edited_or_dropped(demo):
    vote = open_vote(demo)
    service.cast_ballot(user("alice"), vote, "yes")
    service.cast_ballot(user("carol"), vote, "yes")
    service.cast_ballot(user("bob"), vote, "no", "Kept for good")
    service.close_vote(user("chair"), vote)
    assert vote.result == "adopted"
    opinion = db.session.scalar(
        sa.select(MinorityOpinion).where(MinorityOpinion.vote_id == vote.id)
    )
    opinion.text = "Quietly changed"
    with pytest.raises(RecordChangeError):
        db.session.flush()
    db.session.rollback()
    db.session.delete(db.session.get(MinorityOpinion, opinion.id))
    with pytest.raises(RecordChangeError):
        db.session.flush()
    db.session.rollback()
    revision = db.session.scalar(sa.select(MotionRevision))
    revision.text = "rewritten history"
    with pytest.raises(RecordChangeError):
        db.session.flush()
    db.session.rollback()
    assert service.minority_opinions(vote)[0]["text"] == "Kept for good"


def test_closing_twice_is_harmless(demo):
    vote = open_vote(demo)
    service.cast_ballot(user("alice"), vote, "yes")
    service.close_vote(user("chair"), vote)
    # the deadline task or another process finds nothing left to do
    assert service.close_if_due(vote) is False
    assert service.close_votes_of(None, demo) == []
    assert count(MinorityOpinion, vote_id=vote.id) == 0
    assert (
        db.session.scalar(
            sa.select(sa.func.count()).select_from(Vote).where(Vote.status == "closed")
        )
        == 1
    )


def test_deadline_closes_the_vote(demo):
    vote = open_vote(demo, deadline=utcnow() + timedelta(seconds=30))
    service.cast_ballot(user("alice"), vote, "yes")
    assert service.close_due_votes() == []
    vote.deadline = utcnow() - timedelta(seconds=1)  # time passes
    db.session.commit()
    # a ballot after the deadline is refused, and its check closes the vote
    assert code_of(lambda: service.cast_ballot(user("bob"), vote, "yes")) == "vote_closed"
    db.session.refresh(vote)
    assert (vote.status, vote.closed_because, vote.result) == ("closed", "deadline", "adopted")
    assert count(Ballot, vote_id=vote.id) == 1


def test_deadline_task_closes_votes_nobody_touches(demo):
    vote = open_vote(demo, deadline=utcnow() + timedelta(seconds=30))
    other = service.open_vote(user("chair"), seconded_motion(demo))
    vote.deadline = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert service.close_due_votes() == [vote.id]
    assert service.close_due_votes() == []
    db.session.refresh(vote)
    db.session.refresh(other)
    assert (vote.status, other.status) == ("closed", "open")


def test_deadline_background_task_runs(app, demo):
    import time

    app.config.update(MOTIONS_DEADLINE_SWEEPER=True, MOTIONS_SWEEP_SECONDS=0.1)
    vote = open_vote(demo, deadline=utcnow() + timedelta(seconds=2))
    vote_id = vote.id
    try:
        assert tasks.is_running(app)
        deadline = time.monotonic() + 10
        status = "open"
        while time.monotonic() < deadline and status == "open":
            time.sleep(0.2)
            db.session.rollback()
            status = db.session.scalar(sa.select(Vote.status).where(Vote.id == vote_id))
        assert status == "closed"
        assert db.session.scalar(sa.select(Vote.closed_because).where(Vote.id == vote_id)) == (
            "deadline"
        )
    finally:
        tasks.stop_deadline_sweeper(app)


def test_votes_close_when_the_room_closes(demo):
    vote = open_vote(demo)
    service.cast_ballot(user("alice"), vote, "yes")
    consultations.transition(user("chair"), demo, "closed")
    db.session.refresh(vote)
    assert (vote.status, vote.closed_because, vote.result) == ("closed", "room_closed", "adopted")


# --- readers for other features --------------------------------------------------------------


def test_readers_for_other_features(demo):
    first = open_vote(demo, threshold="simple")
    second = service.open_vote(user("chair"), seconded_motion(demo, title="Second"))
    assert [v.id for v in service.votes_of(demo)] == [first.id, second.id]
    assert [m.title for m in service.motions_of(demo)] == ["South gate square", "Second"]
    data = service.vote_to_dict(first)
    for key in (
        "id", "motion_id", "title", "kind", "options", "secret", "threshold", "quorum",
        "results", "deadline", "opened_at", "closed_at", "rule_text", "status", "eligible",
        "ballots_cast",
    ):  # fmt: skip
        assert key in data
    assert data["rule_text"].startswith("Passes if")
    motion = service.motion_to_dict(first.motion)
    assert motion["revisions"][0]["text"] == "Build a small square."
    assert motion["seconders"][0]["username"] == "bob"
    assert service.motion_to_dict(first.motion, with_history=False).get("revisions") is None
