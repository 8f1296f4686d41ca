"""JSON API for motions, amendments and votes (SPEC section 9)."""

from __future__ import annotations

from flask import jsonify, request
from flask_login import current_user

from consult.api import bp, json_body, require_user
from consult.consultations.service import get_consultation

from . import service
from .forms import amendment_text, ballot_fields, motion_fields, reason_of, vote_settings


def _optional_body() -> dict:
    """A JSON object when one is sent; nothing is fine for calls without parameters."""
    if not request.get_data(cache=True):
        return {}
    return json_body()


def _viewer():
    return current_user._get_current_object() if current_user.is_authenticated else None


def _motion_for(actor_required: bool, motion_id):
    actor = require_user() if actor_required else _viewer()
    motion = service.get_motion(motion_id)
    service.require_view(actor, motion.consultation)
    return actor, motion


def _motion_answer(motion, status: int = 200):
    return jsonify(service.motion_to_dict(motion)), status


# --- motions -----------------------------------------------------------------------------


@bp.post("/consultations/<int:consultation_id>/motions")
def create_motion(consultation_id):
    """``{title, text}`` → the new motion (a draft)."""
    actor = require_user()
    consultation = get_consultation(consultation_id)
    service.require_view(actor, consultation)
    fields = motion_fields(json_body())
    motion = service.create_motion(actor, consultation, fields["title"], fields["text"])
    return _motion_answer(motion, 201)


@bp.get("/consultations/<int:consultation_id>/motions")
def list_motions(consultation_id):
    """Every motion of the consultation (without history) and every vote."""
    consultation = get_consultation(consultation_id)
    service.require_view(_viewer(), consultation)
    service.close_due_votes_of(consultation)
    viewer = _viewer()
    return jsonify(
        {
            "motions": [
                service.motion_to_dict(m, with_history=False)
                for m in service.motions_of(consultation)
            ],
            "votes": [service.vote_to_dict(v, viewer) for v in service.votes_of(consultation)],
        }
    )


@bp.get("/consultations/<int:consultation_id>/votes")
def list_votes(consultation_id):
    consultation = get_consultation(consultation_id)
    service.require_view(_viewer(), consultation)
    service.close_due_votes_of(consultation)
    viewer = _viewer()
    return jsonify(
        {"votes": [service.vote_to_dict(v, viewer) for v in service.votes_of(consultation)]}
    )


@bp.get("/motions/<int:motion_id>")
def get_motion(motion_id):
    """The motion with its revisions, amendments, seconders and votes."""
    viewer, motion = _motion_for(False, motion_id)
    service.close_due_votes_of(motion.consultation)
    data = service.motion_to_dict(motion)
    data["votes"] = [service.vote_to_dict(v, viewer) for v in service.votes_of_motion(motion)]
    return jsonify(data)


@bp.patch("/motions/<int:motion_id>")
def edit_motion(motion_id):
    """``{title?, text?}``: an edit makes a new revision."""
    actor, motion = _motion_for(True, motion_id)
    fields = motion_fields(json_body(), partial=True)
    motion = service.edit_motion(actor, motion, **fields)
    return _motion_answer(motion)


@bp.get("/motions/<int:motion_id>/diff")
def motion_diff(motion_id):
    """``?from=<revision>&to=<revision>`` (default: the previous and the current one)."""
    _viewer_, motion = _motion_for(False, motion_id)
    return jsonify(service.diff(motion, request.args.get("from"), request.args.get("to")))


@bp.post("/motions/<int:motion_id>/submit")
def submit_motion(motion_id):
    actor, motion = _motion_for(True, motion_id)
    return _motion_answer(service.submit_motion(actor, motion))


@bp.post("/motions/<int:motion_id>/second")
def second_motion(motion_id):
    actor, motion = _motion_for(True, motion_id)
    return _motion_answer(service.second_motion(actor, motion))


@bp.post("/motions/<int:motion_id>/withdraw")
def withdraw_motion(motion_id):
    """``{reason?}``: the proposer withdraws the motion."""
    actor, motion = _motion_for(True, motion_id)
    reason = reason_of(_optional_body())
    return _motion_answer(service.withdraw_motion(actor, motion, reason))


@bp.post("/motions/<int:motion_id>/table")
def table_motion(motion_id):
    """``{reason?}``: the chair tables the motion (搁置)."""
    actor, motion = _motion_for(True, motion_id)
    reason = reason_of(_optional_body())
    return _motion_answer(service.table_motion(actor, motion, reason))


# --- amendments --------------------------------------------------------------------------


def _amendment_for(amendment_id):
    actor = require_user()
    amendment = service.get_amendment(amendment_id)
    service.require_view(actor, amendment.motion.consultation)
    return actor, amendment


def _amendment_answer(amendment, status: int = 200):
    data = service.amendment_to_dict(amendment)
    data["motion"] = service.motion_to_dict(amendment.motion)
    return jsonify(data), status


@bp.post("/motions/<int:motion_id>/amendments")
def propose_amendment(motion_id):
    """``{text}``: the proposed new text of the motion."""
    actor, motion = _motion_for(True, motion_id)
    amendment = service.propose_amendment(actor, motion, amendment_text(json_body()))
    return _amendment_answer(amendment, 201)


@bp.get("/amendments/<int:amendment_id>")
def get_amendment(amendment_id):
    amendment = service.get_amendment(amendment_id)
    service.require_view(_viewer(), amendment.motion.consultation)
    return _amendment_answer(amendment)


@bp.post("/amendments/<int:amendment_id>/accept")
def accept_amendment(amendment_id):
    actor, amendment = _amendment_for(amendment_id)
    return _amendment_answer(service.accept_amendment(actor, amendment))


@bp.post("/amendments/<int:amendment_id>/reject")
def reject_amendment(amendment_id):
    """``{reason}`` (required)."""
    actor, amendment = _amendment_for(amendment_id)
    reason = reason_of(_optional_body())
    return _amendment_answer(service.reject_amendment(actor, amendment, reason))


@bp.post("/amendments/<int:amendment_id>/votes")
def open_amendment_vote(amendment_id):
    """Put the amendment to a vote of its own: ``{secret, threshold, quorum, results,
    deadline?}``."""
    actor, amendment = _amendment_for(amendment_id)
    consultation = amendment.motion.consultation
    settings = vote_settings(_optional_body(), consultation.community.timezone)
    vote = service.open_amendment_vote(actor, amendment, **settings)
    return jsonify(service.vote_to_dict(vote, actor)), 201


# --- votes -------------------------------------------------------------------------------


@bp.post("/motions/<int:motion_id>/votes")
def open_vote(motion_id):
    """``{kind, options?, secret, threshold, quorum, results, deadline?}`` → ``{id, ...}``."""
    actor, motion = _motion_for(True, motion_id)
    settings = vote_settings(json_body(), motion.consultation.community.timezone)
    vote = service.open_vote(actor, motion, **settings)
    return jsonify(service.vote_to_dict(vote, actor)), 201


def _vote_for(actor_required: bool, vote_id):
    actor = require_user() if actor_required else _viewer()
    vote = service.get_vote(vote_id)
    service.require_view(actor, vote.consultation)
    return actor, vote


@bp.get("/votes/<int:vote_id>")
def get_vote(vote_id):
    """Settings, status, eligible, ballots cast, counts where visible; once closed the
    quorum, the result, the minority opinions and (secret votes) the receipts."""
    viewer, vote = _vote_for(False, vote_id)
    service.close_if_due(vote)
    return jsonify(service.vote_to_dict(vote, viewer))


@bp.post("/votes/<int:vote_id>/ballots")
def cast_ballot(vote_id):
    """``{choice, reason?}`` → 201 for a new ballot, 200 for a changed (or repeated) one;
    a secret ballot answers with its ``receipt``, shown only this once."""
    actor, vote = _vote_for(True, vote_id)
    fields = ballot_fields(json_body())
    answer = service.cast_ballot(actor, vote, fields["choice"], fields["reason"])
    return jsonify(answer), 201 if answer["status"] == "recorded" else 200


@bp.post("/votes/<int:vote_id>/close")
def close_vote(vote_id):
    """The chair closes the vote; → the vote with its result."""
    actor, vote = _vote_for(True, vote_id)
    vote = service.close_vote(actor, vote)
    return jsonify(service.vote_to_dict(vote, actor))
