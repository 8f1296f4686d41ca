"""A meeting's reminder: some time before an announced consultation meets
(``REMINDER_HOURS``, a day unless set), those who may attend get a notification with its
time, in their language and the community's time zone; those who said they will not come
get none.

The server's periodic task (:mod:`consult.motions.tasks`) looks for meetings to remind of
every ``REMINDER_SWEEP_SECONDS``. A meeting is reminded of once, whichever process takes it
first (the conditional write of ``reminded_at``), and again if it moves to another time
(``consultations.service`` clears ``reminded_at``). A meeting announced when less than that
time was left gets no reminder: its announcement came just before.
"""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from flask import current_app

from consult.consultations.models import Consultation
from consult.core.time import isoformat, utcnow
from consult.extensions import db

from .models import Attendance
from .notifications import audience, notify_users


def remind_coming(now=None) -> list[int]:
    """Remind of every announced meeting that is due a reminder; → the consultations this
    call reminded of."""
    hours = float(current_app.config.get("REMINDER_HOURS", 24))
    if hours <= 0:
        return []
    now = now or utcnow()
    ahead = timedelta(hours=hours)
    due = db.session.execute(
        sa.select(Consultation.id, Consultation.scheduled_at, Consultation.announced_at).where(
            Consultation.status == "announced",
            Consultation.reminded_at.is_(None),
            Consultation.scheduled_at > now,
            Consultation.scheduled_at <= now + ahead,
        )
    ).all()
    db.session.rollback()
    reminded = []
    for consultation_id, scheduled_at, announced_at in due:
        if announced_at is not None and announced_at > scheduled_at - ahead:
            continue  # announced within the reminder's time: the announcement reminded
        if _take(consultation_id, scheduled_at, now):
            _remind(db.session.get(Consultation, consultation_id))
            reminded.append(consultation_id)
    return reminded


def _take(consultation_id: int, scheduled_at, now) -> bool:
    """Mark the meeting reminded of, unless another process did or it changed meanwhile."""
    taken = db.session.execute(
        sa.update(Consultation)
        .where(
            Consultation.id == consultation_id,
            Consultation.status == "announced",
            Consultation.scheduled_at == scheduled_at,
            Consultation.reminded_at.is_(None),
        )
        .values(reminded_at=now)
    ).rowcount
    db.session.commit()
    return taken == 1


def _remind(consultation: Consultation) -> None:
    not_coming = set(
        db.session.scalars(
            sa.select(Attendance.user_id).where(
                Attendance.consultation_id == consultation.id, Attendance.answer == "no"
            )
        )
    )
    notify_users(
        [user_id for user_id in audience(consultation) if user_id not in not_coming],
        "consultation_soon",
        consultation_id=consultation.id,
        params={
            "title": consultation.title,
            "at": isoformat(consultation.scheduled_at),
            "zone": consultation.community.timezone,
        },
    )
