"""Shared helpers for the outcome, notice and minutes tests: take the demo consultation
through a real discussion, votes and close, through the services other features provide."""

from __future__ import annotations

import sqlalchemy as sa

from consult.extensions import db

SUMMARY = "南门空地改建为**非机动车停车棚**。The lot becomes a covered bicycle shed."
FLOOR_NOTE = "物业公司提醒：夜间施工会扰民。The property company warns of night-time noise."
NO_REASON = "太吵了，晚上影响休息。Too noisy at night."
ABSTAIN_REASON = "需要更多预算数据。Need more budget data."
PLAN_B_REASON = "方案B更便宜。Plan B is cheaper."


def user(username: str):
    from consult.accounts.models import User

    return db.session.scalar(sa.select(User).where(User.username == username))


def hold_votes(consultation) -> dict:
    """In the live demo room: a secret yes/no vote with a losing and an abstaining reason,
    an open vote between two plans with a named losing reason, a floor opinion; then close
    the room (which closes the votes). Returns the receipts and ids."""
    from consult.consultations import service as consultations
    from consult.motions import service as motions
    from consult.room import service as room

    chair, alice, bob, carol, dave, erin = (
        user(n) for n in ("chair", "alice", "bob", "carol", "dave", "erin")
    )
    shed = motions.create_motion(
        alice, consultation, "建车棚 Build the bicycle shed", "在南门空地建**非机动车停车棚**。"
    )
    motions.submit_motion(alice, shed)
    motions.second_motion(bob, shed)
    secret = motions.open_vote(
        chair, shed, kind="yes_no_abstain", secret=True, threshold="simple", quorum=None
    )
    receipts = {}
    for voter, choice, reason in (
        (alice, "yes", None),
        (bob, "yes", None),
        (carol, "yes", None),
        (dave, "no", NO_REASON),
        (erin, "abstain", ABSTAIN_REASON),
    ):
        answer = motions.cast_ballot(voter, secret, choice, reason)
        receipts[voter.username] = answer["receipt"]
    motions.close_vote(chair, secret)

    plans = motions.create_motion(bob, consultation, "选方案 Choose the plan", "A or B")
    motions.submit_motion(bob, plans)
    motions.second_motion(carol, plans)
    named = motions.open_vote(
        chair,
        plans,
        kind="options",
        options=["Plan A", "Plan B"],
        secret=False,
        threshold="plurality",
        quorum=None,
    )
    motions.cast_ballot(alice, named, "Plan A")
    motions.cast_ballot(carol, named, "Plan A")
    motions.cast_ballot(bob, named, "Plan B", PLAN_B_REASON)

    room.record_floor_opinion(chair, consultation, text=FLOOR_NOTE, username="dave")
    consultations.transition(chair, consultation, "closed")
    return {
        "receipts": receipts,
        "secret_vote_id": secret.id,
        "named_vote_id": named.id,
        "motion_ids": [shed.id, plans.id],
    }


def close_room(consultation) -> None:
    from consult.consultations import service as consultations

    consultations.transition(user("chair"), consultation, "closed")


def draft(client, headers, consultation_id, **fields):
    body = {"summary": SUMMARY, "responsible": "物业公司 Property company", **fields}
    return client.post(
        f"/api/v1/consultations/{consultation_id}/outcome", json=body, headers=headers
    )


def publish(client, headers, consultation_id, **fields) -> int:
    response = draft(client, headers, consultation_id, **fields)
    assert response.status_code == 201, response.get_json()
    outcome_id = response.get_json()["id"]
    response = client.post(f"/api/v1/outcomes/{outcome_id}/publish", headers=headers)
    assert response.status_code == 200, response.get_json()
    return outcome_id
