"""Motion and vote operations: draft, edit, amend, second, withdraw, table; open a vote,
cast a ballot, close a vote (by the chair, at its deadline, or when the room closes).

Every state change is one function taking the actor and plain arguments. It checks
permission, writes in one transaction — taking the write lock first and checking the state
it depends on inside that transaction — appends to the audit log, commits, and then
announces what happened to the room. The rules themselves (quorum, thresholds, ties,
minority opinions) live in :mod:`voting`.
"""

from __future__ import annotations

import difflib
import logging
import re
from datetime import datetime, timedelta
from functools import wraps

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _
from flask_babel import pgettext
from sqlalchemy.exc import IntegrityError

import voting
from consult import audit
from consult.accounts.models import User
from consult.accounts.service import session_user_id
from consult.consultations import service as consultations
from consult.consultations.models import Consultation, Participant
from consult.core import notify
from consult.core.database import (
    commit_keeping_loaded,
    dialect_insert,
    get_or_404,
    lock_for_write,
    remember,
    remembered,
)
from consult.core.payload import check_text, clean_text, parse_id
from consult.core.time import isoformat, utcnow
from consult.errors import Conflict, Forbidden, Invalid, NotFound
from consult.extensions import db

from .models import (
    MAX_REASON,
    MAX_TEXT,
    MAX_TITLE,
    OPEN_STATES,
    Amendment,
    Ballot,
    BallotChange,
    MinorityOpinion,
    Motion,
    MotionRevision,
    Second,
    SecretBallot,
    Vote,
    VoteEligibility,
    VoterMark,
)

log = logging.getLogger(__name__)

#: States of a consultation in which its motions may still change.
WRITABLE = ("draft", "announced", "live")
#: The longest a vote may stay open with a deadline.
MAX_DEADLINE = timedelta(days=30)
UNSET = object()


# --- reading -------------------------------------------------------------------------------


def get_motion(motion_id) -> Motion:
    return get_or_404(Motion, motion_id, "motion_not_found", _("No such motion."))


def get_amendment(amendment_id) -> Amendment:
    return get_or_404(Amendment, amendment_id, "amendment_not_found", _("No such amendment."))


def get_vote(vote_id) -> Vote:
    return get_or_404(Vote, vote_id, "vote_not_found", _("No such vote."))


#: A user, a vote, its consultation, the user's place in it and on the vote's list: what an
#: event about a vote reads first, in one statement (see :func:`preload_vote_reader`).
_READER_WITH_VOTE = (
    sa.select(User, Vote, Consultation, Participant, VoteEligibility.id)
    .select_from(User)
    .outerjoin(Vote, Vote.id == sa.bindparam("vote"))
    .outerjoin(Consultation, Consultation.id == Vote.consultation_id)
    .outerjoin(
        Participant,
        sa.and_(Participant.consultation_id == Consultation.id, Participant.user_id == User.id),
    )
    .outerjoin(
        VoteEligibility,
        sa.and_(VoteEligibility.vote_id == Vote.id, VoteEligibility.user_id == User.id),
    )
    .where(User.id == sa.bindparam("user"))
)


def preload_vote_reader(session_id, data: dict) -> None:
    """Before a Socket.IO event about a vote (``data["vote_id"]``) loads its user: read the
    user with the vote, its consultation, their place in it and whether they are on the
    vote's list, in one statement (a ballot asked four more). As
    :func:`consultations.preload_reader`, it decides nothing."""
    user_id = session_user_id(session_id)
    key = parse_id(data.get("vote_id"))
    if user_id is None or not key:
        return
    row = db.session.execute(_READER_WITH_VOTE, {"vote": key, "user": user_id}).first()
    if row is None:
        return
    user, vote, consultation, found, eligible = row
    remember(("user", user_id), user)  # the session holds what it loaded only weakly
    if vote is not None:
        remember(("vote", key), vote)
        consultations.remember_reading(consultation.id, user_id, consultation, found)
        remember(_eligible_key(key, user_id), eligible is not None)


def motions_of(consultation: Consultation) -> list[Motion]:
    """The consultation's motions, in the order they were drafted."""
    return list(
        db.session.scalars(
            sa.select(Motion).where(Motion.consultation_id == consultation.id).order_by(Motion.id)
        )
    )


def votes_of(consultation: Consultation) -> list[Vote]:
    """The consultation's votes, in the order they were opened."""
    return list(
        db.session.scalars(
            sa.select(Vote)
            .where(Vote.consultation_id == consultation.id)
            .order_by(Vote.opened_at, Vote.id)
        )
    )


def votes_of_motion(motion: Motion) -> list[Vote]:
    return list(
        db.session.scalars(
            sa.select(Vote).where(Vote.motion_id == motion.id).order_by(Vote.opened_at, Vote.id)
        )
    )


def revision(motion: Motion, number) -> MotionRevision:
    key = parse_id(number)
    found = (
        db.session.scalar(
            sa.select(MotionRevision).where(
                MotionRevision.motion_id == motion.id, MotionRevision.number == key
            )
        )
        if key
        else None
    )
    if found is None:
        raise NotFound("revision_not_found", _("This motion has no such revision."))
    return found


def require_view(user, consultation: Consultation) -> None:
    consultations.require_view(user, consultation)


# --- permissions and checks ------------------------------------------------------------------


def _require_speaker(actor, consultation: Consultation) -> None:
    """The chair, or a participant with speaking rights (members of an open consultation
    take part as voters when they first act, as when they join the room)."""
    if consultations.can_manage(actor, consultation):
        return
    found = consultations.participant(actor, consultation)
    if found is None and consultation.status in ("announced", "live"):
        found = consultations.ensure_participant(actor, consultation)
    if found is None:
        raise Forbidden("not_participant", _("You are not a participant of this consultation."))
    if not found.can_speak:
        raise Forbidden(
            "no_speaking_rights", _("Only participants with speaking rights may do this.")
        )


def _require_chair(actor, consultation: Consultation) -> None:
    consultations.require_manage(actor, consultation)


def _require_writable(consultation: Consultation) -> None:
    if consultation.status not in WRITABLE:
        raise Conflict(
            "room_closed", _("This consultation is closed; its motions can no longer change.")
        )


def _require_live(consultation: Consultation) -> None:
    if consultation.status != "live":
        raise Conflict("room_closed", _("Votes are held only while the room is open."))


def _require_open_state(motion: Motion) -> None:
    if motion.state not in OPEN_STATES:
        raise Conflict(
            "illegal_motion_state",
            _("This motion is %(state)s and can no longer change.", state=motion.state_label),
            state=motion.state,
        )


def _is_proposer(actor, motion: Motion) -> bool:
    return getattr(actor, "id", None) == motion.proposer_id


def _locked(model, obj, shared: bool = False):
    """Take the write lock and read ``obj`` afresh inside the transaction.

    ``shared``: on PostgreSQL others may hold the row the same way at the same time (``FOR
    SHARE``: ballots of one vote are cast side by side), while whoever changes it (closing
    the vote) waits for them all, and they for it. SQLite has one writer at a time."""
    lock_for_write()
    stmt = sa.select(model).where(model.id == obj.id).execution_options(populate_existing=True)
    if db.session.get_bind().dialect.name != "sqlite":
        stmt = stmt.with_for_update(read=shared)
    return db.session.scalar(stmt)


def writes(function):
    """A write operation: whatever goes wrong, the transaction (and its lock) is released."""

    @wraps(function)
    def wrapped(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except BaseException:
            db.session.rollback()
            raise

    return wrapped


def _announce_motion(motion: Motion) -> None:
    notify.announce(
        "motion:updated",
        {
            "consultation_id": motion.consultation_id,
            "id": motion.id,
            "title": motion.title,
            "state": motion.state,
            "motion": motion_to_dict(motion),
        },
        room=notify.room_name(motion.consultation_id),
    )


def _touch(motion: Motion) -> None:
    motion.updated_at = utcnow()


# --- motions ---------------------------------------------------------------------------------


@writes
def create_motion(actor, consultation: Consultation, title, text) -> Motion:
    """A new motion in draft, with its first revision."""
    _require_writable(consultation)
    _require_speaker(actor, consultation)
    title = clean_text(title, "title", MAX_TITLE, required=True)
    text = clean_text(text, "text", MAX_TEXT)
    motion = Motion(
        consultation_id=consultation.id,
        proposer_id=actor.id,
        title=title,
        text=text,
        revision=1,
        state="draft",
    )
    db.session.add(motion)
    db.session.flush()
    db.session.add(
        MotionRevision(motion_id=motion.id, number=1, title=title, text=text, author_id=actor.id)
    )
    audit.record(actor, "motion.created", motion, title=title)
    db.session.commit()
    _announce_motion(motion)
    return motion


def _new_revision(actor, motion: Motion, title: str, text: str, amendment=None) -> MotionRevision:
    motion.revision += 1
    motion.title, motion.text = title, text
    _touch(motion)
    found = MotionRevision(
        motion_id=motion.id,
        number=motion.revision,
        title=title,
        text=text,
        author_id=actor.id,
        amendment_id=amendment.id if amendment is not None else None,
    )
    db.session.add(found)
    return found


@writes
def edit_motion(actor, motion: Motion, title=UNSET, text=UNSET) -> Motion:
    """An edit by the proposer or the chair makes a new revision (none if nothing changed)."""
    consultation = motion.consultation
    _require_writable(consultation)
    if not (_is_proposer(actor, motion) or consultations.can_manage(actor, consultation)):
        raise Forbidden("not_proposer", _("Only the proposer or the chair may edit this motion."))
    new_title = motion.title if title is UNSET else clean_text(title, "title", MAX_TITLE, True)
    new_text = motion.text if text is UNSET else clean_text(text, "text", MAX_TEXT)
    motion = _locked(Motion, motion)
    _require_open_state(motion)
    if (new_title, new_text) == (motion.title, motion.text):
        db.session.rollback()
        return motion
    _new_revision(actor, motion, new_title, new_text)
    audit.record(actor, "motion.edited", motion, revision=motion.revision)
    db.session.commit()
    _announce_motion(motion)
    return motion


def _seconds_count(motion: Motion) -> int:
    return db.session.scalar(
        sa.select(sa.func.count()).select_from(Second).where(Second.motion_id == motion.id)
    )


@writes
def submit_motion(actor, motion: Motion) -> Motion:
    """Draft → submitted (→ seconded at once when no seconder is needed)."""
    consultation = motion.consultation
    _require_writable(consultation)
    if not (_is_proposer(actor, motion) or consultations.can_manage(actor, consultation)):
        raise Forbidden("not_proposer", _("Only the proposer or the chair may submit this motion."))
    motion = _locked(Motion, motion)
    if motion.state != "draft":
        raise Conflict(
            "illegal_motion_state",
            _("Only a draft can be submitted; this motion is %(state)s.", state=motion.state_label),
            state=motion.state,
        )
    motion.state = "submitted"
    if _seconds_count(motion) >= consultation.seconds_required:
        motion.state = "seconded"
    _touch(motion)
    audit.record(actor, "motion.submitted", motion, state=motion.state)
    db.session.commit()
    _announce_motion(motion)
    return motion


@writes
def second_motion(actor, motion: Motion) -> Motion:
    """附议: once per person, never by the proposer; the motion is ``seconded`` when it has
    as many seconders as the consultation requires."""
    consultation = motion.consultation
    _require_writable(consultation)
    _require_speaker(actor, consultation)
    if _is_proposer(actor, motion):
        raise Forbidden("cannot_second_own", _("You cannot second your own motion."))
    motion = _locked(Motion, motion)
    if motion.state not in ("submitted", "seconded"):
        raise Conflict(
            "illegal_motion_state",
            _("Only a submitted motion can be seconded; this one is %(state)s.",
              state=motion.state_label),
            state=motion.state,
        )  # fmt: skip
    exists = db.session.scalar(
        sa.select(Second.id).where(Second.motion_id == motion.id, Second.user_id == actor.id)
    )
    if exists:
        raise Conflict("already_seconded", _("You have seconded this motion already."))
    db.session.add(Second(motion_id=motion.id, user_id=actor.id))
    try:
        db.session.flush()
    except IntegrityError as exc:
        db.session.rollback()
        raise Conflict("already_seconded", _("You have seconded this motion already.")) from exc
    count = _seconds_count(motion)
    if motion.state == "submitted" and count >= consultation.seconds_required:
        motion.state = "seconded"
    _touch(motion)
    audit.record(actor, "motion.seconded", motion, seconds=count, state=motion.state)
    db.session.commit()
    _announce_motion(motion)
    return motion


@writes
def withdraw_motion(actor, motion: Motion, reason=None) -> Motion:
    """The proposer withdraws their motion, at any state before voting."""
    _require_writable(motion.consultation)
    if not _is_proposer(actor, motion):
        raise Forbidden("not_proposer", _("Only the proposer may withdraw a motion."))
    return _set_aside(actor, motion, "withdrawn", reason)


@writes
def table_motion(actor, motion: Motion, reason=None) -> Motion:
    """搁置: the chair tables a motion, at any state before voting."""
    _require_chair(actor, motion.consultation)
    _require_writable(motion.consultation)
    return _set_aside(actor, motion, "tabled", reason)


def _set_aside(actor, motion: Motion, state: str, reason) -> Motion:
    """The motion leaves the floor unvoted (``withdrawn`` or ``tabled``), with ``reason``,
    if it is still open: under its lock, recorded in the audit log and announced."""
    reason = clean_text(reason, "reason", MAX_REASON) or None
    motion = _locked(Motion, motion)
    _require_open_state(motion)
    motion.state, motion.state_reason = state, reason
    _touch(motion)
    audit.record(actor, f"motion.{state}", motion, reason=reason)
    db.session.commit()
    _announce_motion(motion)
    return motion


# --- amendments ------------------------------------------------------------------------------


@writes
def propose_amendment(actor, motion: Motion, text) -> Amendment:
    """A participant proposes new text for the motion."""
    consultation = motion.consultation
    _require_writable(consultation)
    _require_speaker(actor, consultation)
    text = clean_text(text, "text", MAX_TEXT, required=True)
    motion = _locked(Motion, motion)
    _require_open_state(motion)
    if text == motion.text:
        raise Invalid("amendment_unchanged", _("An amendment must change the motion's text."))
    amendment = Amendment(
        motion_id=motion.id, proposer_id=actor.id, text=text, base_revision=motion.revision
    )
    db.session.add(amendment)
    _touch(motion)
    db.session.flush()
    audit.record(actor, "amendment.proposed", amendment, motion_id=motion.id)
    db.session.commit()
    _announce_motion(motion)
    return amendment


def _require_proposed(amendment: Amendment) -> None:
    if amendment.status != "proposed":
        raise Conflict(
            "illegal_amendment_state",
            _("This amendment is %(status)s already.", status=amendment.status_label),
            status=amendment.status,
        )


@writes
def accept_amendment(actor, amendment: Amendment) -> Amendment:
    """The chair accepts an amendment: it becomes the motion's next revision."""
    motion = amendment.motion
    _require_chair(actor, motion.consultation)
    _require_writable(motion.consultation)
    motion = _locked(Motion, motion)
    db.session.refresh(amendment)
    _require_open_state(motion)
    _require_proposed(amendment)
    _new_revision(actor, motion, motion.title, amendment.text, amendment)
    amendment.status, amendment.decided_by = "accepted", "chair"
    amendment.decided_by_id, amendment.decided_at = actor.id, utcnow()
    amendment.revision = motion.revision
    audit.record(actor, "amendment.accepted", amendment, revision=motion.revision)
    db.session.commit()
    _announce_motion(motion)
    return amendment


@writes
def reject_amendment(actor, amendment: Amendment, reason) -> Amendment:
    """The chair rejects an amendment, saying why."""
    motion = amendment.motion
    _require_chair(actor, motion.consultation)
    _require_writable(motion.consultation)
    reason = clean_text(reason, "reason", MAX_REASON, required=True)
    motion = _locked(Motion, motion)
    db.session.refresh(amendment)
    _require_proposed(amendment)
    amendment.status, amendment.reason, amendment.decided_by = "rejected", reason, "chair"
    amendment.decided_by_id, amendment.decided_at = actor.id, utcnow()
    _touch(motion)
    audit.record(actor, "amendment.rejected", amendment, reason=reason)
    db.session.commit()
    _announce_motion(motion)
    return amendment


# --- votes: opening --------------------------------------------------------------------------


def _rule_error(error: voting.RuleError) -> Invalid:
    messages = {
        "invalid_kind": _("The kind of vote is “yes_no_abstain” or “options”."),
        "invalid_options": _(
            "An option vote needs 2 to 10 different options of at most 100 characters each "
            "(an option cannot be called “abstain”); a yes/no vote has none."
        ),
        "invalid_threshold": _(
            "The threshold is simple, majority_cast, majority_eligible or two_thirds for a "
            "motion, and plurality for an option vote."
        ),
        "invalid_quorum": _(
            "The quorum is empty or an exact fraction of eligible voters between 0 and 1, "
            "such as “1/2” or “2/3”."
        ),
    }
    return Invalid(error.code, messages.get(error.code, error.message))


def _settings_from(kind, options, threshold, quorum, consultation: Consultation):
    kind = kind or "yes_no_abstain"
    if threshold in (None, "") and kind == "yes_no_abstain":
        threshold = consultation.default_threshold
    if quorum is UNSET:
        quorum = consultation.default_quorum
    if isinstance(options, list | tuple):  # the form's lines as well as the API's list
        options = [check_text(o) if isinstance(o, str) else o for o in options]
    try:
        return voting.make_settings(kind, options or (), threshold, quorum)
    except voting.RuleError as error:
        raise _rule_error(error) from error


def _check_deadline(deadline) -> datetime | None:
    if deadline is None:
        return None
    if not isinstance(deadline, datetime):
        raise Invalid("invalid_deadline", _("The deadline is a date and time."))
    if deadline.tzinfo is not None:
        from consult.core.time import as_utc

        deadline = as_utc(deadline).replace(tzinfo=None)
    now = utcnow()
    if deadline <= now + timedelta(seconds=1):
        raise Invalid("invalid_deadline", _("The deadline must be in the future."))
    if deadline > now + MAX_DEADLINE:
        raise Invalid("invalid_deadline", _("A vote may stay open for at most 30 days."))
    return deadline


def _results_setting(results, secret: bool) -> str:
    if results in (None, ""):
        return "hidden" if secret else "live"
    if results not in ("live", "hidden"):
        raise Invalid("invalid_results", _("Results are “live” or “hidden” until the close."))
    if secret and results == "live":
        raise Invalid(
            "invalid_results",
            _(
                "A secret vote keeps its results hidden until it closes: a count that moves "
                "as each person votes would show how they voted."
            ),
        )
    return results


def _eligible_participants(consultation: Consultation) -> list[Participant]:
    return list(
        db.session.scalars(
            sa.select(Participant)
            .where(
                Participant.consultation_id == consultation.id,
                Participant.role.in_(voting.VOTING_ROLES),
            )
            .order_by(Participant.user_id)
        )
    )


def _open(actor, consultation, motion, amendment, settings, secret, results, deadline) -> Vote:
    """Write the vote and its frozen eligibility; the caller holds the lock."""
    open_vote_id = db.session.scalar(
        sa.select(Vote.id).where(Vote.motion_id == motion.id, Vote.status == "open")
    )
    if open_vote_id:
        raise Conflict(
            "vote_in_progress",
            _("A vote on this motion (or one of its amendments) is already open."),
            vote_id=open_vote_id,
        )
    eligible = _eligible_participants(consultation)
    vote = Vote(
        consultation_id=consultation.id,
        motion_id=motion.id,
        amendment_id=amendment.id if amendment is not None else None,
        title=motion.title,
        text=amendment.text if amendment is not None else motion.text,
        motion_revision=motion.revision,
        kind=settings.kind,
        options=list(settings.options),
        secret=secret,
        threshold=settings.threshold,
        quorum=voting.format_quorum(settings.quorum),
        results=results,
        deadline=deadline,
        status="open",
        opened_by_id=actor.id,
        opened_at=utcnow(),
        eligible_count=len(eligible),
    )
    db.session.add(vote)
    try:
        db.session.flush()
    except IntegrityError as exc:
        db.session.rollback()
        raise Conflict("vote_in_progress", _("A vote on this motion is already open.")) from exc
    db.session.add_all(
        VoteEligibility(vote_id=vote.id, user_id=p.user_id, role=p.role) for p in eligible
    )
    return vote


@writes
def open_vote(
    actor,
    motion: Motion,
    kind=None,
    options=None,
    secret=None,
    threshold=None,
    quorum=UNSET,
    results=None,
    deadline=None,
) -> Vote:
    """The chair puts a seconded motion to the vote, with settings fixed from now on."""
    consultation = motion.consultation
    _require_chair(actor, consultation)
    _require_live(consultation)
    settings = _settings_from(kind, options, threshold, quorum, consultation)
    if secret is None:
        secret = bool(consultation.default_secret)
    if not isinstance(secret, bool):
        raise Invalid("invalid_secret", _("“secret” is true or false."))
    results = _results_setting(results, secret)
    deadline = _check_deadline(deadline)
    motion = _locked(Motion, motion)
    if motion.state == "submitted":
        raise Conflict(
            "not_enough_seconders",
            _(
                "This motion needs %(n)d seconder(s) before it can be put to the vote; "
                "it has %(have)d.",
                n=consultation.seconds_required,
                have=_seconds_count(motion),
            ),
            seconds=_seconds_count(motion),
            seconds_required=consultation.seconds_required,
        )
    if motion.state != "seconded":
        raise Conflict(
            "illegal_motion_state",
            _("Only a seconded motion can be put to the vote; this one is %(state)s.",
              state=motion.state_label),
            state=motion.state,
        )  # fmt: skip
    vote = _open(actor, consultation, motion, None, settings, secret, results, deadline)
    motion.state = "voting"
    _touch(motion)
    audit.record(actor, "vote.opened", vote, motion_id=motion.id, **_settings_detail(vote))
    db.session.commit()
    _after_open(vote)
    _announce_motion(motion)
    return vote


@writes
def open_amendment_vote(
    actor,
    amendment: Amendment,
    kind=None,
    options=None,
    secret=None,
    threshold=None,
    quorum=UNSET,
    results=None,
    deadline=None,
) -> Vote:
    """The chair puts an amendment to a vote of its own (yes / no / abstain)."""
    motion = amendment.motion
    consultation = motion.consultation
    _require_chair(actor, consultation)
    _require_live(consultation)
    if kind not in (None, "", "yes_no_abstain") or options:
        raise Invalid("invalid_options", _("An amendment is voted on with yes, no or abstain."))
    settings = _settings_from("yes_no_abstain", (), threshold, quorum, consultation)
    if secret is None:
        secret = bool(consultation.default_secret)
    if not isinstance(secret, bool):
        raise Invalid("invalid_secret", _("“secret” is true or false."))
    results = _results_setting(results, secret)
    deadline = _check_deadline(deadline)
    motion = _locked(Motion, motion)
    db.session.refresh(amendment)
    _require_open_state(motion)
    _require_proposed(amendment)
    vote = _open(actor, consultation, motion, amendment, settings, secret, results, deadline)
    amendment.status = "voting"
    _touch(motion)
    audit.record(actor, "vote.opened", vote, amendment_id=amendment.id, **_settings_detail(vote))
    db.session.commit()
    _after_open(vote)
    _announce_motion(motion)
    return vote


def _settings_detail(vote: Vote) -> dict:
    return {
        "kind": vote.kind,
        "options": list(vote.options or []),
        "secret": vote.secret,
        "threshold": vote.threshold,
        "quorum": vote.quorum,
        "results": vote.results,
        "deadline": isoformat(vote.deadline),
        "eligible": vote.eligible_count,
    }


def eligible_usernames(vote: Vote) -> list[str]:
    return list(
        db.session.scalars(
            sa.select(User.username)
            .join(VoteEligibility, VoteEligibility.user_id == User.id)
            .where(VoteEligibility.vote_id == vote.id)
            .order_by(User.username)
        )
    )


def _after_open(vote: Vote) -> None:
    payload = vote_to_dict(vote)
    payload["eligible_usernames"] = eligible_usernames(vote)
    notify.announce("vote:opened", payload, room=notify.room_name(vote.consultation_id))
    if vote.deadline is not None:
        from .tasks import start_deadline_sweeper

        start_deadline_sweeper(current_app._get_current_object())


# --- votes: ballots --------------------------------------------------------------------------


def _settings(vote: Vote) -> voting.Settings:
    return voting.Settings(
        kind=vote.kind,
        options=tuple(vote.options or ()),
        threshold=vote.threshold,
        quorum=voting.parse_quorum(vote.quorum),
    )


def _eligible_key(vote_id: int, user_id: int) -> tuple:
    return ("eligible", vote_id, user_id)


_ELIGIBLE = sa.select(VoteEligibility.id).where(
    VoteEligibility.vote_id == sa.bindparam("vote"),
    VoteEligibility.user_id == sa.bindparam("user"),
)


def is_eligible(user, vote: Vote) -> bool:
    if not getattr(user, "is_authenticated", False):
        return False
    params = {"vote": vote.id, "user": user.id}
    return remembered(
        _eligible_key(vote.id, user.id),
        lambda: db.session.scalar(_ELIGIBLE, params) is not None,
    )


def _refuse_closed(vote: Vote) -> None:
    raise Conflict("vote_closed", _("This vote is closed."), vote_id=vote.id)


@writes
def cast_ballot(actor, vote: Vote, choice, reason=None) -> dict:
    """Cast (or, in an open ballot, change) a ballot. The check that the vote is open is made
    inside the transaction that writes the ballot.

    Returns ``{"vote_id", "choice", "reason", "status"}`` where status is ``recorded``,
    ``changed`` or ``unchanged``; a secret ballot adds its ``receipt`` (shown once).
    """
    if not is_eligible(actor, vote):
        raise Forbidden("not_eligible", _("You are not eligible to vote in this vote."))
    if not isinstance(choice, str) or choice not in _settings(vote).choices:
        raise Invalid(
            "invalid_choice",
            _("Choose one of: %(choices)s.", choices=", ".join(_settings(vote).choices)),
            choices=list(_settings(vote).choices),
        )
    reason = clean_text(reason, "reason", MAX_REASON) or None
    consultation = vote.consultation
    vote = _locked(Vote, vote, shared=True)  # closing waits for the ballots being cast
    if vote.status != "open":
        _refuse_closed(vote)
    if vote.deadline is not None and vote.deadline <= utcnow():
        db.session.rollback()  # closing takes the vote for itself
        close_if_due(vote)
        _refuse_closed(vote)
    if consultation.status != "live":
        raise Conflict("room_closed", _("Votes are held only while the room is open."))
    answer = {"vote_id": vote.id, "choice": choice, "reason": reason}
    if vote.secret:
        answer.update(_cast_secret(actor, vote, choice, reason))
    else:
        answer.update(_cast_open(actor, vote, choice, reason))
    if answer["status"] != "unchanged":
        if vote.secret:
            audit.record(actor, "ballot.cast", vote, secret=True)
        else:
            audit.record(actor, "ballot.cast", vote, choice=choice, change=answer["status"])
    commit_keeping_loaded()  # the vote, as locked and written, is what is announced next
    if vote.results == "live" and answer["status"] != "unchanged":
        counts = _live_counts(vote)
        notify.announce(
            "vote:tally",
            {
                "consultation_id": vote.consultation_id,
                "id": vote.id,
                "vote_id": vote.id,
                "motion_id": vote.motion_id,
                "counts": counts,
                "ballots_cast": sum(counts.values()),
                "eligible": vote.eligible_count,
            },
            room=notify.room_name(vote.consultation_id),
        )
    return answer


def _cast_open(actor, vote: Vote, choice: str, reason: str | None) -> dict:
    now = utcnow()
    values = {"vote_id": vote.id, "voter_id": actor.id, "choice": choice, "reason": reason}
    # A first ballot is one statement. If the voter's ballot exists, or one being cast at the
    # same moment (a second tap) is committed meanwhile, nothing is inserted and it is read.
    ballot_id = db.session.scalar(
        dialect_insert(Ballot)
        .values(**values, cast_at=now, updated_at=now)
        .on_conflict_do_nothing(index_elements=["vote_id", "voter_id"])
        .returning(Ballot.id)
    )
    status = "recorded"
    if ballot_id is None:
        ballot = db.session.scalar(
            sa.select(Ballot)
            .where(Ballot.vote_id == vote.id, Ballot.voter_id == actor.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        if (ballot.choice, ballot.reason) == (choice, reason):
            return {"status": "unchanged"}
        ballot.choice, ballot.reason, ballot.updated_at = choice, reason, now
        ballot_id, status = ballot.id, "changed"
    db.session.add(BallotChange(ballot_id=ballot_id, choice=choice, reason=reason, at=now))
    return {"status": status}


def _cast_secret(actor, vote: Vote, choice: str, reason: str | None) -> dict:
    voted = db.session.scalar(
        sa.select(VoterMark.id).where(VoterMark.vote_id == vote.id, VoterMark.voter_id == actor.id)
    )
    if voted:
        raise Conflict(
            "already_voted",
            _("You have voted already. A secret ballot cannot be changed or cast twice."),
        )
    receipt = voting.new_receipt()
    db.session.add(VoterMark(vote_id=vote.id, voter_id=actor.id))
    db.session.add(SecretBallot(vote_id=vote.id, choice=choice, reason=reason, receipt=receipt))
    try:
        db.session.flush()
    except IntegrityError as exc:
        db.session.rollback()
        raise Conflict(
            "already_voted",
            _("You have voted already. A secret ballot cannot be changed or cast twice."),
        ) from exc
    return {"status": "recorded", "receipt": receipt}


def _cast_choices(vote: Vote) -> list[str]:
    model = SecretBallot if vote.secret else Ballot
    return list(db.session.scalars(sa.select(model.choice).where(model.vote_id == vote.id)))


def _live_counts(vote: Vote) -> dict[str, int]:
    return voting.tally(_settings(vote).choices, _cast_choices(vote))


def ballots_cast(vote: Vote) -> int:
    if vote.status == "closed" and vote.ballots_cast is not None:
        return vote.ballots_cast
    model = VoterMark if vote.secret else Ballot
    return db.session.scalar(
        sa.select(sa.func.count()).select_from(model).where(model.vote_id == vote.id)
    )


def my_ballot(user, vote: Vote) -> dict:
    """What the viewer may know of their own part in a vote."""
    eligible = is_eligible(user, vote)
    if not eligible:
        return {"eligible": False, "voted": False, "choice": None, "reason": None}
    if vote.secret:
        voted = db.session.scalar(
            sa.select(VoterMark.id).where(
                VoterMark.vote_id == vote.id, VoterMark.voter_id == user.id
            )
        )
        return {"eligible": True, "voted": voted is not None, "choice": None, "reason": None}
    ballot = db.session.scalar(
        sa.select(Ballot).where(Ballot.vote_id == vote.id, Ballot.voter_id == user.id)
    )
    return {
        "eligible": True,
        "voted": ballot is not None,
        "choice": ballot.choice if ballot else None,
        "reason": ballot.reason if ballot else None,
    }


# --- votes: closing --------------------------------------------------------------------------


@writes
def close_vote(actor, vote: Vote) -> Vote:
    """The chair closes a vote; → the result is stored and announced."""
    _require_chair(actor, vote.consultation)
    vote = _locked(Vote, vote)
    if vote.status != "open":
        _refuse_closed(vote)
    _close_locked(vote, actor, "chair")
    return vote


def _ballots_for_minority(vote: Vote) -> list[voting.CastBallot]:
    if vote.secret:
        rows = db.session.execute(
            sa.select(SecretBallot.choice, SecretBallot.reason).where(
                SecretBallot.vote_id == vote.id, SecretBallot.reason.is_not(None)
            )
        )
        return [voting.CastBallot(choice, reason, None) for choice, reason in rows]

    rows = db.session.execute(
        sa.select(Ballot.choice, Ballot.reason, User.username)
        .join(User, User.id == Ballot.voter_id)
        .where(Ballot.vote_id == vote.id, Ballot.reason.is_not(None))
    )
    return [voting.CastBallot(choice, reason, username) for choice, reason, username in rows]


def _floor_opinions(vote: Vote) -> list[dict]:
    """Minority opinions recorded from the floor for the motion (not for its amendments)."""
    if vote.amendment_id is not None:
        return []
    try:
        from consult.room.service import floor_opinions
    except ImportError:  # the room has no floor opinions to offer
        return []
    return list(floor_opinions(vote.consultation, motion_id=vote.motion_id))


def _close_locked(vote: Vote, actor, because: str) -> bool:
    """Close ``vote`` in the current, locked transaction; commit and announce.

    The closing UPDATE only applies while the vote is still open, so two processes (or the
    deadline task and the chair) can never both close it: the second finds nothing to do.
    """
    settings = _settings(vote)
    counts = voting.tally(settings.choices, _cast_choices(vote))
    decision = voting.decide(settings, counts, vote.eligible_count)
    now = utcnow()
    done = db.session.execute(
        sa.update(Vote)
        .where(Vote.id == vote.id, Vote.status == "open")
        .values(
            status="closed",
            closed_at=now,
            closed_by_id=getattr(actor, "id", None),
            closed_because=because,
            ballots_cast=decision.ballots_cast,
            counts=counts,
            quorum_met=decision.quorum_met,
            result=decision.result,
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    if done != 1:
        db.session.rollback()
        return False
    opinions = voting.with_floor_opinions(
        voting.compile_minority_opinions(
            settings, decision.result, _ballots_for_minority(vote), vote.secret
        ),
        _floor_opinions(vote),
    )
    for position, opinion in enumerate(opinions, start=1):
        db.session.add(
            MinorityOpinion(
                vote_id=vote.id,
                position=position,
                text=opinion["text"],
                choice=opinion["choice"],
                source=opinion["source"],
                author=opinion["author"],
                created_at=now,
            )
        )
    motion = db.session.get(Motion, vote.motion_id)
    # A motion is adopted when yes carries; a question when one option wins.
    adopted = decision.result == voting.ADOPTED or decision.result in settings.options
    if vote.amendment_id is not None:
        amendment = db.session.get(Amendment, vote.amendment_id)
        amendment.decided_by, amendment.decided_at = "vote", now
        amendment.decided_by_id = getattr(actor, "id", None)
        if adopted and motion.state in OPEN_STATES:
            proposer = amendment.proposer
            _new_revision(proposer, motion, motion.title, amendment.text, amendment)
            amendment.status, amendment.revision = "accepted", motion.revision
        else:
            amendment.status = "rejected"
    elif motion.state == "voting":
        motion.state = "adopted" if adopted else "rejected"
    _touch(motion)
    audit.record(
        actor,
        "vote.closed",
        vote,
        because=because,
        result=decision.result,
        counts=counts,
        quorum_met=decision.quorum_met,
        ballots_cast=decision.ballots_cast,
    )
    db.session.commit()
    db.session.refresh(vote)
    notify.announce(
        "vote:closed", closed_announcement(vote), room=notify.room_name(vote.consultation_id)
    )
    _announce_motion(motion)
    return True


@writes
def close_if_due(vote: Vote) -> bool:
    """The check on read: close a vote whose deadline has passed (if nobody did yet)."""
    if vote.status != "open" or vote.deadline is None or vote.deadline > utcnow():
        return False
    locked = _locked(Vote, vote)
    if locked is None or locked.status != "open":
        db.session.rollback()
        return False
    return _close_locked(locked, None, "deadline")


def close_due_votes_of(consultation: Consultation) -> list[int]:
    """The check on read for one consultation: close its votes past their deadline."""
    due = list(
        db.session.scalars(
            sa.select(Vote.id).where(
                Vote.consultation_id == consultation.id,
                Vote.status == "open",
                Vote.deadline.is_not(None),
                Vote.deadline <= utcnow(),
            )
        )
    )
    return [vote_id for vote_id in due if close_if_due(db.session.get(Vote, vote_id))]


def close_due_votes(now: datetime | None = None) -> list[int]:
    """Close every open vote past its deadline; → the ids this call closed."""
    now = now or utcnow()
    due = list(
        db.session.scalars(
            sa.select(Vote.id).where(
                Vote.status == "open", Vote.deadline.is_not(None), Vote.deadline <= now
            )
        )
    )
    db.session.rollback()
    closed = []
    for vote_id in due:
        vote = db.session.get(Vote, vote_id)
        if vote is not None and close_if_due(vote):
            closed.append(vote_id)
    return closed


@writes
def close_votes_of(actor, consultation: Consultation, because: str = "room_closed") -> list[int]:
    """Close every open vote of a consultation (when its room closes or it is cancelled)."""
    closed = []
    for vote_id in list(
        db.session.scalars(
            sa.select(Vote.id).where(Vote.consultation_id == consultation.id, Vote.status == "open")
        )
    ):
        vote = _locked(Vote, db.session.get(Vote, vote_id))
        if vote is not None and vote.status == "open" and _close_locked(vote, actor, because):
            closed.append(vote_id)
        else:
            db.session.rollback()
    return closed


def _close_votes_when_room_closes(actor, consultation, previous, to):
    if to in ("closed", "cancelled"):
        close_votes_of(actor, consultation)


# Registered once per process, at import (guarded against a second import of this module).
if not any(
    getattr(hook, "__name__", "") == _close_votes_when_room_closes.__name__
    and getattr(hook, "__module__", "") == __name__
    for hook in consultations._transition_hooks
):
    consultations.on_transition(_close_votes_when_room_closes)


# --- presenting ------------------------------------------------------------------------------

CHOICE_LABELS = {
    voting.YES: lambda: pgettext("ballot choice", "Yes"),
    voting.NO: lambda: pgettext("ballot choice", "No"),
    voting.ABSTAIN: lambda: pgettext("ballot choice", "Abstain"),
}


def choice_label(choice: str | None) -> str:
    if choice is None:
        return ""
    label = CHOICE_LABELS.get(choice)
    return label() if label else choice


def rule_text(threshold: str) -> str:
    """The rule in words, in the current language."""
    texts = {
        voting.rules.SIMPLE: _(
            "Passes if there are more yes votes than no votes; abstentions do not count."
        ),
        voting.rules.MAJORITY_CAST: _(
            "Passes if yes is more than half of all ballots, abstentions included."
        ),
        voting.rules.MAJORITY_ELIGIBLE: _(
            "Passes if yes is more than half of all eligible voters, whether they vote or not."
        ),
        voting.rules.TWO_THIRDS: _(
            "Passes if yes is at least two thirds of all ballots, abstentions included."
        ),
        voting.PLURALITY: _(
            "The option with the most votes wins; a tie for first place is reported as a tie."
        ),
    }
    return texts.get(threshold, threshold)


def rule_texts() -> dict[str, str]:
    return {t: rule_text(t) for t in voting.THRESHOLDS}


def quorum_text(vote: Vote) -> str:
    quorum = voting.parse_quorum(vote.quorum)
    if quorum is None:
        return _("No quorum is required.")
    return _(
        "Quorum: at least %(share)s of the %(eligible)d eligible voters must vote "
        "(%(needed)d ballots).",
        share=vote.quorum,
        eligible=vote.eligible_count,
        needed=voting.ballots_needed(quorum, vote.eligible_count),
    )


RESULT_LABELS = {
    voting.ADOPTED: lambda: _("Adopted"),
    voting.REJECTED: lambda: _("Rejected"),
    voting.NO_QUORUM: lambda: _("No quorum"),
    voting.TIE: lambda: _("Tie"),
}


def result_label(result: str | None) -> str:
    if result is None:
        return ""
    label = RESULT_LABELS.get(result)
    return label() if label else _("Chosen: %(option)s", option=result)


def counts_visible(vote: Vote) -> bool:
    return vote.status == "closed" or vote.results == "live"


def minority_opinions(vote: Vote) -> list[dict]:
    """Each ``{text, choice, source, author}`` (and ``author_name``, the display name)."""
    rows = list(
        db.session.scalars(
            sa.select(MinorityOpinion)
            .where(MinorityOpinion.vote_id == vote.id)
            .order_by(MinorityOpinion.position)
        )
    )
    authors = {r.author for r in rows if r.author}
    names = (
        dict(
            db.session.execute(
                sa.select(User.username, User.display_name).where(User.username.in_(authors))
            ).all()
        )
        if authors
        else {}
    )
    return [{**row.to_dict(), "author_name": names.get(row.author)} for row in rows]


def receipts(vote: Vote) -> list[dict]:
    """Every secret ballot's receipt and choice (sorted by receipt, so not by time)."""
    rows = db.session.execute(
        sa.select(SecretBallot.receipt, SecretBallot.choice).where(SecretBallot.vote_id == vote.id)
    )
    return voting.published_receipts((receipt, choice) for receipt, choice in rows)


def _named_ballots(vote: Vote) -> list[dict]:
    rows = db.session.execute(
        sa.select(User.username, User.display_name, Ballot.choice)
        .join(User, User.id == Ballot.voter_id)
        .where(Ballot.vote_id == vote.id)
        .order_by(User.username)
    )
    return [{"username": u, "display_name": d, "choice": c} for u, d, c in rows]


def vote_title(vote: Vote) -> str:
    if vote.amendment_id is not None:
        return _("Amendment %(n)d to “%(title)s”", n=vote.amendment_id, title=vote.title)
    return vote.title


def vote_to_dict(vote: Vote, viewer=None) -> dict:
    """The vote as ``GET /api/v1/votes/<id>`` shows it: settings, status, turnout; the counts
    where visible (live results, or once closed); once closed the quorum, the result, the
    minority opinions and, for a secret vote, every receipt with its choice."""
    settings = _settings(vote)
    data = {
        "id": vote.id,
        "consultation_id": vote.consultation_id,
        "motion_id": vote.motion_id,
        "amendment_id": vote.amendment_id,
        "title": vote_title(vote),
        "text": vote.text,
        "motion_revision": vote.motion_revision,
        "kind": vote.kind,
        "options": list(vote.options or []),
        "choices": list(settings.choices),
        "secret": vote.secret,
        "threshold": vote.threshold,
        "quorum": vote.quorum,
        "results": vote.results,
        "deadline": isoformat(vote.deadline),
        "status": vote.status,
        "opened_at": isoformat(vote.opened_at),
        "closed_at": isoformat(vote.closed_at),
        "closed_because": vote.closed_because,
        "rule_text": rule_text(vote.threshold),
        "quorum_text": quorum_text(vote),
        "eligible": vote.eligible_count,
        "ballots_needed": voting.ballots_needed(settings.quorum, vote.eligible_count),
        "ballots_cast": ballots_cast(vote),
    }
    if counts_visible(vote):
        data["counts"] = dict(vote.counts) if vote.status == "closed" else _live_counts(vote)
    if vote.status == "closed":
        data["quorum_met"] = vote.quorum_met
        data["result"] = vote.result
        data["result_label"] = result_label(vote.result)
        data["minority_opinions"] = minority_opinions(vote)
        if vote.secret:
            data["receipts"] = receipts(vote)
        else:
            data["ballots"] = _named_ballots(vote)
    if viewer is not None and getattr(viewer, "is_authenticated", False):
        data["me"] = my_ballot(viewer, vote)
    return data


def closed_announcement(vote: Vote) -> dict:
    """``vote:closed`` as the room hears it: the closed vote without the list of named
    ballots or of receipts, which are as long as the room (a thousand voters would each get
    every ballot at once). ``GET /api/v1/votes/<id>`` gives them."""
    data = vote_to_dict(vote)
    data.pop("ballots", None)
    data.pop("receipts", None)
    return data


def _person(user) -> dict | None:
    if user is None:
        return None
    return {"username": user.username, "display_name": user.display_name}


def amendment_to_dict(amendment: Amendment) -> dict:
    vote_id = db.session.scalar(
        sa.select(Vote.id).where(Vote.amendment_id == amendment.id).order_by(Vote.id.desc())
    )
    return {
        "id": amendment.id,
        "motion_id": amendment.motion_id,
        "text": amendment.text,
        "proposer": _person(amendment.proposer),
        "base_revision": amendment.base_revision,
        "status": amendment.status,
        "reason": amendment.reason,
        "decided_by": amendment.decided_by,
        "decided_at": isoformat(amendment.decided_at),
        "revision": amendment.revision,
        "vote_id": vote_id,
        "created_at": isoformat(amendment.created_at),
    }


def motion_to_dict(motion: Motion, with_history: bool = True) -> dict:
    """A motion with its seconders, and (``with_history``) its revisions and amendments."""
    data = {
        "id": motion.id,
        "consultation_id": motion.consultation_id,
        "title": motion.title,
        "text": motion.text,
        "revision": motion.revision,
        "state": motion.state,
        "state_reason": motion.state_reason,
        "proposer": _person(motion.proposer),
        "created_at": isoformat(motion.created_at),
        "updated_at": isoformat(motion.updated_at),
        "seconds_required": motion.consultation.seconds_required,
        "seconders": [{**_person(s.user), "at": isoformat(s.created_at)} for s in motion.seconds],
        "vote_ids": [v.id for v in votes_of_motion(motion)],
    }
    if with_history:
        data["revisions"] = [
            {
                "number": r.number,
                "title": r.title,
                "text": r.text,
                "author": _person(r.author),
                "amendment_id": r.amendment_id,
                "created_at": isoformat(r.created_at),
            }
            for r in motion.revisions
        ]
        data["amendments"] = [amendment_to_dict(a) for a in motion.amendments]
    return data


# --- diff ------------------------------------------------------------------------------------


def _merge(segments: list[list[str]]) -> list[dict]:
    merged: list[list[str]] = []
    for op, text in segments:
        if not text:
            continue
        if merged and merged[-1][0] == op:
            merged[-1][1] += text
        else:
            merged.append([op, text])
    return [{"op": op, "text": text} for op, text in merged]


#: Words of alphabetic scripts, runs of blanks, or single characters (Chinese has no spaces,
#: so each of its characters is a word of its own).
_WORD = re.compile(r"[0-9A-Za-z\u00C0-\u024F\u0400-\u04FF_'’-]+|\s+|.", re.DOTALL)


def text_diff(old: str, new: str) -> list[dict]:
    """The changes from ``old`` to ``new`` as ``equal`` / ``delete`` / ``insert`` segments:
    by line, then by word inside changed lines (by character in Chinese)."""
    old_lines, new_lines = old.splitlines(keepends=True), new.splitlines(keepends=True)
    segments: list[list[str]] = []
    lines = difflib.SequenceMatcher(None, old_lines, new_lines, autojunk=False)
    for tag, i1, i2, j1, j2 in lines.get_opcodes():
        before, after = "".join(old_lines[i1:i2]), "".join(new_lines[j1:j2])
        if tag == "equal":
            segments.append(["equal", before])
        elif tag == "delete":
            segments.append(["delete", before])
        elif tag == "insert":
            segments.append(["insert", after])
        elif len(before) + len(after) > 6000:
            segments += [["delete", before], ["insert", after]]
        else:
            old_words, new_words = _WORD.findall(before), _WORD.findall(after)
            words = difflib.SequenceMatcher(None, old_words, new_words, autojunk=False)
            for wtag, a1, a2, b1, b2 in words.get_opcodes():
                if wtag == "equal":
                    segments.append(["equal", "".join(old_words[a1:a2])])
                else:
                    segments.append(["delete", "".join(old_words[a1:a2])])
                    segments.append(["insert", "".join(new_words[b1:b2])])
    return _merge(segments)


def diff(motion: Motion, from_number=None, to_number=None) -> dict:
    """The diff between two revisions (default: the previous one and the current one)."""
    to_rev = revision(motion, to_number if to_number not in (None, "") else motion.revision)
    if from_number in (None, ""):
        from_number = max(1, to_rev.number - 1)
    from_rev = revision(motion, from_number)
    unified = "".join(
        difflib.unified_diff(
            from_rev.text.splitlines(keepends=True),
            to_rev.text.splitlines(keepends=True),
            fromfile=f"revision {from_rev.number}",
            tofile=f"revision {to_rev.number}",
        )
    )
    return {
        "motion_id": motion.id,
        "from": from_rev.number,
        "to": to_rev.number,
        "title": {
            "from": from_rev.title,
            "to": to_rev.title,
            "changed": from_rev.title != to_rev.title,
            "segments": text_diff(from_rev.title, to_rev.title),
        },
        "segments": text_diff(from_rev.text, to_rev.text),
        "unified": unified,
    }
