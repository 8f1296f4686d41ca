"""The announced stage (SPEC 3.2): who will attend, and written opinions (书面意见).

Attendance: whoever can attend an announced consultation (every member for open access,
the participants for invited access) answers yes, no or maybe, and may change the answer
until the room opens.

Written opinions: one per participant, created or edited until the room opens. A member of
the community writing on an open consultation becomes a participant (a voter) through
``consultations.service.ensure_participant``; observers only read. Every written opinion is
visible to whoever may read the consultation; the room shows them at the top and the
minutes keep them.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask_babel import gettext as _

from consult import audit
from consult.communities.service import is_member
from consult.consultations import service as consultations
from consult.consultations.models import Consultation
from consult.core import notify
from consult.core.database import lock_for_write
from consult.core.payload import clean_text
from consult.core.time import utcnow
from consult.errors import Conflict, Forbidden, Invalid, Unauthorized
from consult.extensions import db

from .models import ATTENDANCE_ANSWERS, OPINION_MAX, Attendance, WrittenOpinion

#: Before the room opens (draft is not visible to members yet).
BEFORE_ROOM = ("announced",)
ROOM_OPENED = ("live", "closed", "outcome_published", "implementing", "completed")


def _require_signed_in(user) -> None:
    if not getattr(user, "is_authenticated", False):
        raise Unauthorized("unauthorized", _("Sign in first."))


def can_attend(user, consultation: Consultation) -> bool:
    """Whether ``user`` belongs to the consultation's audience."""
    if not getattr(user, "is_authenticated", False):
        return False
    if consultations.participant(user, consultation) is not None:
        return True
    return consultation.access == "open" and is_member(user, consultation.community)


def can_write_opinion(user, consultation: Consultation) -> bool:
    if not can_attend(user, consultation):
        return False
    role = consultations.role_of(user, consultation)
    return role != "observer"


def _require_before_room(consultation: Consultation) -> None:
    if consultation.status in ROOM_OPENED:
        raise Conflict(
            "room_already_open",
            _("The room has opened; written opinions and attendance can no longer change."),
        )
    if consultation.status not in BEFORE_ROOM:
        raise Conflict("not_announced", _("This consultation is not announced."))


# --- attendance ---------------------------------------------------------------------------


def attendance_counts(consultation: Consultation) -> dict:
    counts = dict.fromkeys(ATTENDANCE_ANSWERS, 0)
    rows = db.session.execute(
        sa.select(Attendance.answer, sa.func.count())
        .where(Attendance.consultation_id == consultation.id)
        .group_by(Attendance.answer)
    ).all()
    for answer, n in rows:
        counts[answer] = n
    return counts


def attendance_roll(viewer, consultation: Consultation) -> dict | None:
    """Who answered what, and who has not answered yet, for those who prepare the meeting
    (the chair, the community's admins): ``{"yes"|"maybe"|"no"|"none": [{username,
    display_name}, …]}``, each by name. ``None`` for anyone else: an answer is seen by name
    only by them."""
    from consult.accounts.models import User

    from .notifications import audience

    if not consultations.can_manage(viewer, consultation):
        return None
    answers = dict(
        db.session.execute(
            sa.select(Attendance.user_id, Attendance.answer).where(
                Attendance.consultation_id == consultation.id
            )
        ).all()
    )
    ids = set(audience(consultation)) | set(answers)
    roll = {answer: [] for answer in (*ATTENDANCE_ANSWERS, "none")}
    people = db.session.execute(
        sa.select(User.id, User.username, User.display_name)
        .where(User.id.in_(ids))
        .order_by(User.display_name, User.id)
    ).all()
    for user_id, username, display_name in people:
        roll[answers.get(user_id, "none")].append(
            {"username": username, "display_name": display_name}
        )
    return roll


def my_attendance(user, consultation: Consultation) -> str | None:
    if not getattr(user, "is_authenticated", False):
        return None
    return db.session.scalar(
        sa.select(Attendance.answer).where(
            Attendance.consultation_id == consultation.id, Attendance.user_id == user.id
        )
    )


def answer_attendance(actor, consultation: Consultation, answer) -> dict:
    """Say whether you will attend (yes, no, maybe); changeable until the room opens."""
    _require_signed_in(actor)
    consultations.require_view(actor, consultation)
    if answer not in ATTENDANCE_ANSWERS:
        raise Invalid("invalid_answer", _("Answer yes, no or maybe."))
    if not can_attend(actor, consultation):
        raise Forbidden("not_participant", _("You are not a participant of this consultation."))
    lock_for_write()
    db.session.refresh(consultation)
    _require_before_room(consultation)
    found = db.session.scalar(
        sa.select(Attendance).where(
            Attendance.consultation_id == consultation.id, Attendance.user_id == actor.id
        )
    )
    if found is None:
        found = Attendance(consultation_id=consultation.id, user_id=actor.id, answer=answer)
        db.session.add(found)
    else:
        found.answer = answer
        found.updated_at = utcnow()
    db.session.flush()
    audit.record(actor, "attendance.answered", found, answer=answer)
    db.session.commit()
    counts = attendance_counts(consultation)
    notify.announce(
        "attendance:updated",
        {"consultation_id": consultation.id, "counts": counts},
        room=notify.room_name(consultation.id),
    )
    return {"counts": counts, "mine": answer}


# --- written opinions -----------------------------------------------------------------------


def written_opinions(consultation: Consultation) -> list[WrittenOpinion]:
    return list(
        db.session.scalars(
            sa.select(WrittenOpinion)
            .where(WrittenOpinion.consultation_id == consultation.id)
            .order_by(WrittenOpinion.created_at, WrittenOpinion.id)
        )
    )


def my_written_opinion(user, consultation: Consultation) -> WrittenOpinion | None:
    if not getattr(user, "is_authenticated", False):
        return None
    return db.session.scalar(
        sa.select(WrittenOpinion).where(
            WrittenOpinion.consultation_id == consultation.id, WrittenOpinion.user_id == user.id
        )
    )


def submit_written_opinion(actor, consultation: Consultation, text) -> tuple[WrittenOpinion, bool]:
    """Create or replace the actor's written opinion; ``(opinion, created)``."""
    _require_signed_in(actor)
    consultations.require_view(actor, consultation)
    text = clean_text(text, "text", OPINION_MAX, required=True)
    _require_before_room(consultation)
    place = consultations.participant(actor, consultation)
    if place is None:
        place = consultations.ensure_participant(actor, consultation)  # 403 not_participant
    if place.role == "observer":
        raise Forbidden("observer_read_only", _("Observers read; they do not submit opinions."))
    lock_for_write()
    db.session.refresh(consultation)
    _require_before_room(consultation)
    opinion = my_written_opinion(actor, consultation)
    created = opinion is None
    now = utcnow()
    if created:
        opinion = WrittenOpinion(
            consultation_id=consultation.id, user_id=actor.id, text=text, created_at=now,
            updated_at=now,
        )  # fmt: skip
        db.session.add(opinion)
    else:
        opinion.text = text
        opinion.updated_at = now
    db.session.flush()
    audit.record(
        actor,
        "written_opinion.submitted" if created else "written_opinion.edited",
        opinion,
        consultation_id=consultation.id,
        length=len(text),
    )
    db.session.commit()
    notify.announce(
        "written_opinion:saved",
        {"consultation_id": consultation.id, "opinion": opinion.to_dict()},
        room=notify.room_name(consultation.id),
    )
    return opinion, created


def panel(user, consultation: Consultation) -> dict:
    """What the announcement panel shows this user (templates call it)."""
    from .service import topic_for_consultation

    data = {
        "topic": topic_for_consultation(consultation),
        "counts": attendance_counts(consultation),
        # Shown only while the question is open (before the room opens).
        "roll": attendance_roll(user, consultation) if consultation.status in BEFORE_ROOM else None,
        "mine": my_attendance(user, consultation),
        "can_attend": can_attend(user, consultation),
        "can_write": can_write_opinion(user, consultation),
        "my_opinion": my_written_opinion(user, consultation),
        "opinions": written_opinions(consultation),
        "answers": ATTENDANCE_ANSWERS,
        "opinion_max": OPINION_MAX,
    }
    return data
