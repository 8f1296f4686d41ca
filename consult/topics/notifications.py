"""In-app notifications (通知) and the delivery seam for other channels.

A notification is stored per user as a ``kind`` with ``params``; its text is rendered in the
viewer's language from :data:`MESSAGES`. After it is stored, :func:`deliver` hands it to every
registered channel. The in-app real-time channel (a ``notification:new`` event to the user's
personal Socket.IO room) is registered here; e-mail or SMS would be another channel::

    from consult.topics import notifications

    def send_sms(notification):
        ...  # look up the phone number, render the text, queue the message

    notifications.add_channel(send_sms)

A channel that fails is logged and does not stop the others, nor the action that caused
the notification. Who is notified of what:

- a consultation they can attend is announced or goes live (open access: every member of
  the community; invited: its participants);
- a vote opens for which they are eligible (the ``vote:opened`` announcement);
- an outcome of their community is published (the ``outcome:published`` announcement);
- their topic is accepted or declined;
- a meeting they may attend is near (``reminders``), unless they said they will not come.

Nobody is notified of their own action.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

import sqlalchemy as sa
from flask import current_app, has_app_context, has_request_context
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from consult.accounts.models import User
from consult.accounts.service import session_user_id
from consult.communities.models import Community, Membership
from consult.consultations import service as consultations
from consult.consultations.models import Consultation, Participant
from consult.core import notify
from consult.core.database import read_alone, remember, remembered
from consult.core.time import isoformat, utcnow
from consult.extensions import db
from consult.web.i18n import localtime

from .models import Notification

log = logging.getLogger(__name__)

#: kind → message; params are filled in with ``%(name)s``.
MESSAGES = {
    "consultation_announced": _l(
        "“%(title)s” was announced: read the material and say whether you will attend."
    ),
    "consultation_live": _l("The room for “%(title)s” is open now."),
    "consultation_soon": _l("Reminder: “%(title)s” meets on %(when)s."),
    "vote_opened": _l("A vote opened in “%(consultation)s”: %(title)s."),
    "outcome_published": _l("The outcome of “%(title)s” was published on the notice board."),
    "topic_accepted": _l("Your topic “%(title)s” was accepted: a consultation is being prepared."),
    "topic_declined": _l("Your topic “%(title)s” was declined. Reason: %(reason)s"),
}

Channel = Callable[[Notification], None]
_channels: list[Channel] = []


class _Params(dict):
    def __missing__(self, key):
        return ""


# --- delivery -------------------------------------------------------------------------------


def add_channel(channel: Channel) -> Channel:
    """Register a delivery channel (called with each stored :class:`Notification`)."""
    key = (channel.__module__, channel.__qualname__)
    if all((c.__module__, c.__qualname__) != key for c in _channels):
        _channels.append(channel)
    return channel


def deliver(notification: Notification) -> None:
    """Hand a stored notification to every channel; a failing channel is logged and skipped."""
    for channel in list(_channels):
        try:
            channel(notification)
        except Exception:  # noqa: BLE001 — one channel must not stop the others
            log.exception("notification channel %s failed", channel.__qualname__)


@add_channel
def realtime_channel(notification: Notification) -> None:
    """In-app, live: ``notification:new`` to the user's personal room (every tab they have)."""
    notify.announce(
        "notification:new",
        realtime_payload(notification),
        room=notify.user_room(notification.user_id),
    )


def realtime_payload(notification: Notification) -> dict:
    unread = getattr(notification, "unread_hint", None)
    if unread is None:
        unread = unread_count(notification.user_id)
    texts = {code: render(notification, code) for code in _languages()}
    return {
        "id": notification.id,
        "kind": notification.kind,
        "text": texts.get(_default_language()) or render(notification),
        "texts": texts,
        "link": link(notification),
        "unread": unread,
        "created_at": isoformat(notification.created_at),
    }


def _languages() -> list[str]:
    return list(current_app.config.get("LANGUAGES", ["zh", "en"])) if has_app_context() else []


def _default_language() -> str:
    return current_app.config.get("BABEL_DEFAULT_LOCALE", "zh") if has_app_context() else "zh"


# --- text and links ---------------------------------------------------------------------------


def render(notification: Notification, locale: str | None = None) -> str:
    """The notification's text in ``locale`` (default: the current request's language)."""
    message = MESSAGES.get(notification.kind)
    if message is None:
        return notification.kind
    if locale is None:
        return str(message) % _filled(notification.params)
    with force_locale(locale):
        return str(message) % _filled(notification.params)


def _filled(params: dict | None) -> _Params:
    """The message's parameters; a time (``at``, UTC, in the community's ``zone``) is written
    as ``when`` in the language being rendered."""
    filled = _Params(params or {})
    if filled.get("at"):
        at = datetime.fromisoformat(filled["at"])
        filled["when"] = localtime(at, "plan", zone_name=filled.get("zone") or None)
    return filled


def link(notification: Notification) -> str:
    params = notification.params or {}
    if notification.kind == "outcome_published" and notification.outcome_id:
        return f"/notice/{notification.outcome_id}"
    if notification.kind.startswith("topic_") and notification.topic_id:
        return f"/topics/{notification.topic_id}"
    if notification.consultation_id:
        anchor = f"#vote-{params['vote_id']}" if params.get("vote_id") else ""
        return f"/consultations/{notification.consultation_id}{anchor}"
    return "/notifications"


def to_dict(notification: Notification) -> dict:
    return {
        "id": notification.id,
        "kind": notification.kind,
        "text": render(notification),
        "link": link(notification),
        "params": notification.params or {},
        "consultation_id": notification.consultation_id,
        "topic_id": notification.topic_id,
        "outcome_id": notification.outcome_id,
        "created_at": isoformat(notification.created_at),
        "read": notification.read_at is not None,
        "read_at": isoformat(notification.read_at),
    }


# --- reading and marking --------------------------------------------------------------------


def _unread_of(user_id):
    return (
        sa.select(sa.func.count())
        .select_from(Notification)
        .where(Notification.user_id == user_id, Notification.read_at.is_(None))
    )


def _unread_key(user_id: int) -> tuple:
    return ("unread_notifications", user_id)


def unread_count(user_or_id) -> int:
    """How many of the user's notifications are unread; asked again only after the session
    writes (marking read, a new notification), or as read by :func:`preload_page_reader`."""
    user_id = getattr(user_or_id, "id", user_or_id)
    if user_id is None:
        return 0
    return remembered(_unread_key(user_id), lambda: db.session.scalar(_unread_of(user_id)))


#: The user a session names, with their unread notifications (see :func:`preload_page_reader`).
_READER_WITH_UNREAD = sa.select(User, _unread_of(User.id).scalar_subquery()).where(
    User.id == sa.bindparam("user")
)


def preload_page_reader(session_id) -> None:
    """Before a signed-in page loads its user: read the user the session names with their
    unread notifications, in one statement (every page shows the count in its header; it
    was a statement of its own). Flask-Login's loader then finds the user in the session and
    :func:`unread_count` the count. Nothing is decided here; the loader checks the user."""
    user_id = session_user_id(session_id)
    if user_id is None:
        return
    with read_alone():
        row = db.session.execute(_READER_WITH_UNREAD, {"user": user_id}).first()
    if row is not None:
        user, unread = row
        remember(("user", user_id), user)  # the session holds what it loaded only weakly
        remember(_unread_key(user_id), unread)


def notifications_of(user, before: int | None = None, limit: int = 50) -> list[Notification]:
    """The user's notifications, newest first (``before``: an id, for the next page)."""
    query = sa.select(Notification).where(Notification.user_id == user.id)
    if before:
        query = query.where(Notification.id < before)
    limit = max(1, min(int(limit), 200))
    return list(db.session.scalars(query.order_by(Notification.id.desc()).limit(limit)))


def mark_read(user, ids: list[int] | None = None) -> int:
    """Mark the user's unread notifications (all, or those in ``ids``) as read."""
    query = sa.update(Notification).where(
        Notification.user_id == user.id, Notification.read_at.is_(None)
    )
    if ids is not None:
        if not ids:
            return 0
        query = query.where(Notification.id.in_(ids))
    result = db.session.execute(query.values(read_at=utcnow()))
    db.session.commit()
    return result.rowcount or 0


# --- creating -------------------------------------------------------------------------------


def _acting_user_id() -> int | None:
    if has_request_context() and getattr(current_user, "is_authenticated", False):
        return current_user.id
    return None


def notify_users(user_ids, kind: str, exclude: int | None = None, **fields) -> list[Notification]:
    """Store one notification per user (the actor excepted), commit, then deliver each."""
    targets = sorted({uid for uid in user_ids if uid is not None and uid != exclude})
    if not targets:
        return []
    created = [Notification(user_id=uid, kind=kind, **fields) for uid in targets]
    db.session.add_all(created)
    db.session.flush()
    ids = [n.id for n in created]
    db.session.commit()
    # One query reloads them all (the commit expired them).
    db.session.scalars(sa.select(Notification).where(Notification.id.in_(ids))).all()
    counts = dict(
        db.session.execute(
            sa.select(Notification.user_id, sa.func.count())
            .where(Notification.user_id.in_(targets), Notification.read_at.is_(None))
            .group_by(Notification.user_id)
        ).all()
    )
    for notification in created:
        notification.unread_hint = counts.get(notification.user_id, 1)
        deliver(notification)
    return created


def community_member_ids(community_id: int) -> list[int]:
    return list(
        db.session.scalars(
            sa.select(Membership.user_id).where(Membership.community_id == community_id)
        )
    )


def audience(consultation: Consultation) -> list[int]:
    """Who can attend: every member for open access, the participants for invited access."""
    ids = set(
        db.session.scalars(
            sa.select(Participant.user_id).where(Participant.consultation_id == consultation.id)
        )
    )
    if consultation.access == "open":
        ids.update(community_member_ids(consultation.community_id))
    return sorted(ids)


def notify_consultation_transition(actor, consultation: Consultation, previous: str, to: str):
    """Registered with ``consultations.service.on_transition``."""
    kind = {"announced": "consultation_announced", "live": "consultation_live"}.get(to)
    if kind is None:
        return
    try:
        notify_users(
            audience(consultation),
            kind,
            exclude=getattr(actor, "id", None),
            consultation_id=consultation.id,
            params={"title": consultation.title},
        )
    except Exception:  # noqa: BLE001 — a notification must not undo the chair's action
        db.session.rollback()
        log.exception("notifying the audience of consultation %s failed", consultation.id)


def notify_topic_decided(actor, topic) -> None:
    if topic.status not in ("accepted", "declined"):
        return
    params = {"title": topic.title}
    if topic.status == "declined":
        params["reason"] = topic.decline_reason or ""
    try:
        notify_users(
            [topic.proposer_id],
            f"topic_{topic.status}",
            exclude=getattr(actor, "id", None),
            topic_id=topic.id,
            consultation_id=topic.consultation_id,
            params=params,
        )
    except Exception:  # noqa: BLE001
        db.session.rollback()
        log.exception("notifying the proposer of topic %s failed", topic.id)


def _int(value) -> int | None:
    if isinstance(value, bool):
        return None
    try:
        value = int(value)
    except (TypeError, ValueError):
        return None
    return value if 0 < value < 2**63 else None


def _on_vote_opened(payload: dict) -> None:
    consultation_id = _int(payload.get("consultation_id"))
    consultation = db.session.get(Consultation, consultation_id) if consultation_id else None
    usernames = [u for u in payload.get("eligible_usernames") or [] if isinstance(u, str)]
    if consultation is None or not usernames:
        return
    user_ids = db.session.scalars(sa.select(User.id).where(User.username.in_(usernames)))
    notify_users(
        list(user_ids),
        "vote_opened",
        exclude=_acting_user_id(),
        consultation_id=consultation.id,
        params={
            "title": str(payload.get("title") or "")[:200],
            "consultation": consultation.title,
            "vote_id": _int(payload.get("id")),
        },
    )


def _on_outcome_published(payload: dict) -> None:
    slug = payload.get("community")
    community = (
        db.session.scalar(sa.select(Community).where(Community.slug == slug))
        if isinstance(slug, str)
        else None
    )
    if community is None:
        return
    consultation_id = _int(payload.get("consultation_id"))
    if consultation_id and db.session.get(Consultation, consultation_id) is None:
        consultation_id = None
    notify_users(
        community_member_ids(community.id),
        "outcome_published",
        exclude=_acting_user_id(),
        outcome_id=_int(payload.get("id")),
        consultation_id=consultation_id,
        params={"title": str(payload.get("title") or "")[:200]},
    )


_HANDLERS = {"vote:opened": _on_vote_opened, "outcome:published": _on_outcome_published}


def on_announcement(event: str, payload: dict, room: str | None) -> None:
    """Registered with ``notify.add_listener``: turns other features' events into notices."""
    handler = _HANDLERS.get(event)
    if handler is None or not isinstance(payload, dict) or not has_app_context():
        return
    try:
        handler(payload)
    except Exception:  # noqa: BLE001 — the announcing action has committed already
        db.session.rollback()
        log.exception("notifications for %s failed", event)


# --- registration (module level, once per process) --------------------------------------------


def _registered(hooks, fn) -> bool:
    return any(
        (getattr(h, "__module__", None), getattr(h, "__qualname__", None))
        == (fn.__module__, fn.__qualname__)
        for h in hooks
    )


if not _registered(getattr(consultations, "_transition_hooks", []), notify_consultation_transition):
    consultations.on_transition(notify_consultation_transition)
if not _registered(getattr(notify, "_listeners", []), on_announcement):
    notify.add_listener(on_announcement)
