"""Socket.IO events for motions and votes. Each handler parses its payload, calls the same
service function as the JSON API and answers through the acknowledgement; what happened
reaches the room as ``motion:updated``, ``vote:opened``, ``vote:tally`` and ``vote:closed``.
See ``docs/api.md`` (motions and votes).
"""

from __future__ import annotations

from flask_babel import gettext as _
from flask_login import current_user

from consult.consultations.service import get_consultation
from consult.core.sockets import socket_event
from consult.errors import Invalid

from . import service
from .forms import amendment_text, ballot_fields, motion_fields, reason_of, vote_settings


def _user():
    return current_user._get_current_object()


def _id(data: dict, name: str) -> int:
    value = data.get(name)
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise Invalid("invalid_field", _("“%(name)s” is required.", name=name))
    return value


def _motion(data: dict):
    motion = service.get_motion(_id(data, "motion_id"))
    service.require_view(_user(), motion.consultation)
    return motion


def _amendment(data: dict):
    amendment = service.get_amendment(_id(data, "amendment_id"))
    service.require_view(_user(), amendment.motion.consultation)
    return amendment


def _vote(data: dict):
    vote = service.get_vote(_id(data, "vote_id"))
    service.require_view(_user(), vote.consultation)
    return vote


def _motion_answer(motion) -> dict:
    return {"motion": service.motion_to_dict(motion)}


def _rest(data: dict, *names: str) -> dict:
    return {k: v for k, v in data.items() if k not in names}


@socket_event("motions:list")
def motions_list(data):
    """``{consultation_id}`` → ``{motions, votes}`` (the motions with their history)."""
    consultation = get_consultation(_id(data, "consultation_id"))
    service.require_view(_user(), consultation)
    service.close_due_votes_of(consultation)
    return {
        "motions": [service.motion_to_dict(m) for m in service.motions_of(consultation)],
        "votes": [service.vote_to_dict(v, _user()) for v in service.votes_of(consultation)],
    }


@socket_event("motion:create")
def motion_create(data):
    """``{consultation_id, title, text}`` → ``{motion}``."""
    consultation = get_consultation(_id(data, "consultation_id"))
    service.require_view(_user(), consultation)
    fields = motion_fields(_rest(data, "consultation_id"))
    motion = service.create_motion(_user(), consultation, fields["title"], fields["text"])
    return _motion_answer(motion)


@socket_event("motion:edit")
def motion_edit(data):
    """``{motion_id, title?, text?}`` → ``{motion}`` (a new revision)."""
    motion = _motion(data)
    fields = motion_fields(_rest(data, "motion_id"), partial=True)
    return _motion_answer(service.edit_motion(_user(), motion, **fields))


@socket_event("motion:submit")
def motion_submit(data):
    return _motion_answer(service.submit_motion(_user(), _motion(data)))


@socket_event("motion:second")
def motion_second(data):
    return _motion_answer(service.second_motion(_user(), _motion(data)))


@socket_event("motion:withdraw")
def motion_withdraw(data):
    """``{motion_id, reason?}``."""
    motion = _motion(data)
    reason = reason_of(_rest(data, "motion_id"))
    return _motion_answer(service.withdraw_motion(_user(), motion, reason))


@socket_event("motion:table")
def motion_table(data):
    """``{motion_id, reason?}`` (chair)."""
    motion = _motion(data)
    reason = reason_of(_rest(data, "motion_id"))
    return _motion_answer(service.table_motion(_user(), motion, reason))


@socket_event("amendment:propose")
def amendment_propose(data):
    """``{motion_id, text}`` → ``{amendment, motion}``."""
    motion = _motion(data)
    amendment = service.propose_amendment(_user(), motion, amendment_text(_rest(data, "motion_id")))
    return {"amendment": service.amendment_to_dict(amendment), **_motion_answer(motion)}


@socket_event("amendment:accept")
def amendment_accept(data):
    amendment = service.accept_amendment(_user(), _amendment(data))
    return {"amendment": service.amendment_to_dict(amendment), **_motion_answer(amendment.motion)}


@socket_event("amendment:reject")
def amendment_reject(data):
    """``{amendment_id, reason}``."""
    amendment = _amendment(data)
    reason = reason_of(_rest(data, "amendment_id"))
    amendment = service.reject_amendment(_user(), amendment, reason)
    return {"amendment": service.amendment_to_dict(amendment), **_motion_answer(amendment.motion)}


@socket_event("vote:open")
def vote_open(data):
    """``{motion_id | amendment_id, kind, options?, secret, threshold, quorum, results,
    deadline?}`` → ``{vote}``."""
    if data.get("amendment_id") is not None:
        amendment = _amendment(data)
        timezone = amendment.motion.consultation.community.timezone
        settings = vote_settings(_rest(data, "amendment_id", "motion_id"), timezone)
        vote = service.open_amendment_vote(_user(), amendment, **settings)
    else:
        motion = _motion(data)
        timezone = motion.consultation.community.timezone
        vote = service.open_vote(
            _user(), motion, **vote_settings(_rest(data, "motion_id"), timezone)
        )
    return {"vote": service.vote_to_dict(vote, _user())}


@socket_event("ballot:cast")
def ballot_cast(data):
    """``{vote_id, choice, reason?}`` → ``{ballot}`` (with ``receipt`` for a secret vote)."""
    vote = _vote(data)
    fields = ballot_fields(_rest(data, "vote_id"))
    return {"ballot": service.cast_ballot(_user(), vote, fields["choice"], fields["reason"])}


@socket_event("vote:close")
def vote_close(data):
    """``{vote_id}`` (chair) → ``{vote}`` with its result."""
    vote = service.close_vote(_user(), _vote(data))
    return {"vote": service.vote_to_dict(vote, _user())}


@socket_event("vote:get")
def vote_get(data):
    """``{vote_id}`` → ``{vote}`` as ``GET /api/v1/votes/<id>`` shows it."""
    vote = _vote(data)
    service.close_if_due(vote)
    return {"vote": service.vote_to_dict(vote, _user())}
