"""A meeting's reminder (consult/topics/reminders.py): a day before an announced
consultation meets, those who may attend are reminded of it, with its time in their language
and the community's zone; once, and again if the meeting moves."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from consult.extensions import db

ANNOUNCED = datetime(2026, 11, 28, 2, 0)  # announced five days before
MEETS = datetime(2026, 12, 3, 2, 0)  # a Thursday, 10:00 in Shanghai
DAY_BEFORE = MEETS - timedelta(hours=20)


def _user(username):
    from consult.accounts.service import find_user

    return find_user(username)


def _announce(demo, access="invited", scheduled_at=MEETS, announced_at=ANNOUNCED, people=()):
    """A consultation of the demo community, chaired by the chair, with ``people`` invited
    as voters, announced at ``announced_at`` for ``scheduled_at``."""
    from consult.consultations import service as consultations

    chair = _user("chair")
    consultation = consultations.create_consultation(
        chair, demo.community, title="Stairwell lights", access=access, scheduled_at=scheduled_at
    )
    for username in people:
        consultations.set_participant(chair, consultation, username, "voter")
    consultations.transition(chair, consultation, "announced")
    consultation.announced_at = announced_at
    db.session.commit()
    return consultation


def _reminded(consultation_id) -> dict:
    """Who was reminded of the consultation: user name → how many reminders."""
    from consult.accounts.models import User
    from consult.topics.models import Notification

    rows = db.session.execute(
        sa.select(User.username, sa.func.count())
        .join(Notification, Notification.user_id == User.id)
        .where(
            Notification.consultation_id == consultation_id,
            Notification.kind == "consultation_soon",
        )
        .group_by(User.username)
    ).all()
    return dict(rows)


def test_those_who_may_attend_are_reminded_a_day_before_once(demo, app):
    from consult.topics import announcement
    from consult.topics.reminders import remind_coming

    consultation = _announce(demo, people=("alice", "bob", "carol"))
    announcement.answer_attendance(_user("bob"), consultation, "no")
    announcement.answer_attendance(_user("carol"), consultation, "maybe")

    assert remind_coming(MEETS - timedelta(hours=25)) == []  # not yet a day before
    assert _reminded(consultation.id) == {}
    assert remind_coming(DAY_BEFORE) == [consultation.id]
    # The chair and the invited, but not bob, who said he will not come.
    assert _reminded(consultation.id) == {"chair": 1, "alice": 1, "carol": 1}
    assert remind_coming(DAY_BEFORE + timedelta(hours=1)) == []  # once
    assert _reminded(consultation.id) == {"chair": 1, "alice": 1, "carol": 1}


def test_the_reminder_reads_the_time_in_each_language_and_the_communitys_zone(demo, client, auth):
    from consult.topics.reminders import remind_coming

    consultation = _announce(demo, people=("alice",))
    remind_coming(DAY_BEFORE)
    auth.login("alice")
    chinese = client.get("/notifications", headers={"Accept-Language": "zh-CN"})
    english = client.get("/notifications", headers={"Accept-Language": "en"})
    assert "提醒：“Stairwell lights”将于 2026年12月3日周四 10:00 召开。" in chinese.get_data(
        as_text=True
    )
    page = english.get_data(as_text=True)
    assert "Reminder: “Stairwell lights” meets on Thu, Dec 3, 2026, 10:00" in page
    assert f'href="/consultations/{consultation.id}"' in page


def test_an_open_consultation_reminds_every_member(demo):
    from consult.topics.reminders import remind_coming

    consultation = _announce(demo, access="open")
    remind_coming(DAY_BEFORE)
    assert set(_reminded(consultation.id)) == {"chair", "alice", "bob", "carol", "dave", "erin"}


@pytest.mark.parametrize(
    "case",
    ["past", "announced within the day", "live", "cancelled", "draft", "no time", "disabled"],
)
def test_no_reminder_where_none_is_due(demo, app, case):
    from consult.consultations import service as consultations
    from consult.topics.reminders import remind_coming

    chair = _user("chair")
    if case == "draft":
        consultation = consultations.create_consultation(
            chair, demo.community, title="Draft", scheduled_at=MEETS
        )
    elif case == "no time":
        consultation = _announce(demo, scheduled_at=None)
    elif case == "announced within the day":
        consultation = _announce(demo, announced_at=MEETS - timedelta(hours=10))
    else:
        consultation = _announce(demo)
    if case == "live":
        consultations.transition(chair, consultation, "live")
    if case == "cancelled":
        consultations.transition(chair, consultation, "cancelled", reason="Rain")
    app.config["REMINDER_HOURS"] = 0 if case == "disabled" else 24
    now = MEETS + timedelta(minutes=5) if case == "past" else DAY_BEFORE
    assert remind_coming(now) == []
    assert _reminded(consultation.id) == {}


def test_a_meeting_moved_to_another_time_is_reminded_of_anew(demo):
    from consult.consultations import service as consultations
    from consult.topics.reminders import remind_coming

    consultation = _announce(demo, people=("alice",))
    assert remind_coming(DAY_BEFORE) == [consultation.id]
    later = MEETS + timedelta(days=7)
    consultations.update_consultation(_user("chair"), consultation, scheduled_at=later)
    assert consultation.reminded_at is None
    assert remind_coming(DAY_BEFORE + timedelta(hours=2)) == []  # the new time is a week away
    assert remind_coming(later - timedelta(hours=3)) == [consultation.id]
    assert _reminded(consultation.id) == {"chair": 2, "alice": 2}


def test_two_processes_sweeping_at_once_remind_once(demo, app):
    from consult.topics.reminders import remind_coming
    from tests.conftest import in_threads

    consultation = _announce(demo, people=("alice",))
    taken = []
    failures = in_threads(app, lambda _n: taken.append(remind_coming(DAY_BEFORE)), 1, 2, 3, 4)
    assert failures == []
    assert sorted(map(len, taken)) == [0, 0, 0, 1]
    assert _reminded(consultation.id) == {"chair": 1, "alice": 1}


def test_a_meeting_is_taken_for_its_reminder_once_and_only_at_the_time_read(demo):
    from consult.topics.reminders import _take

    consultation = _announce(demo)
    assert not _take(consultation.id, MEETS + timedelta(hours=1), DAY_BEFORE)  # moved since
    assert _take(consultation.id, MEETS, DAY_BEFORE)
    assert not _take(consultation.id, MEETS, DAY_BEFORE)  # another process was first
    db.session.refresh(consultation)
    assert consultation.reminded_at == DAY_BEFORE


def test_the_servers_periodic_task_sends_the_reminders(demo, app, monkeypatch):
    from consult.motions import tasks
    from consult.topics import reminders

    consultation = _announce(demo, people=("alice",))
    monkeypatch.setattr(reminders, "utcnow", lambda: DAY_BEFORE)  # the task's "now"
    app.config.update(
        MOTIONS_DEADLINE_SWEEPER=True, MOTIONS_SWEEP_SECONDS=0.05, REMINDER_SWEEP_SECONDS=0.05
    )
    assert tasks.start_deadline_sweeper(app)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not _reminded(consultation.id):
            db.session.rollback()
            time.sleep(0.05)
    finally:
        tasks.stop_deadline_sweeper(app)
    assert _reminded(consultation.id) == {"chair": 1, "alice": 1}
