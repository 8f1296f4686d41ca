"""Outcome operations: draft, publish, correct; objections, progress, completion, ratings;
and the public notice board.

Each state change is one function taking the actor and plain arguments. What a visitor
reads is the frozen record of a published version (:func:`build_record`), fingerprinted by
:mod:`consult.outcomes.fingerprint`; objections, progress reports and ratings are live data
shown beside it and are not part of the fingerprinted record.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import contains_eager, selectinload

from consult import audit
from consult.accounts.models import User
from consult.accounts.service import find_user
from consult.communities.models import Community, Membership
from consult.communities.service import is_member, remember_membership
from consult.consultations import service as consultations
from consult.consultations.models import Consultation, Participant
from consult.core import notify
from consult.core.database import get_or_404, lock_for_write
from consult.core.payload import check_text, clean_text, parse_id
from consult.core.time import utcnow
from consult.errors import Conflict, Forbidden, Invalid, NotFound, TooMany
from consult.extensions import db

from .fingerprint import canonical_json, fingerprint_of_text
from .models import (
    PUBLIC_STATUSES,
    Objection,
    Outcome,
    OutcomeMinorityOpinion,
    OutcomeVersion,
    ProgressReport,
    Rating,
)

RECORD_SCHEMA = "yiting.outcome/1"
DEFAULT_NOTICE_DAYS = 7
MAX_NOTICE_DAYS = 90
MAX_SUMMARY = 20_000
MAX_TEXT = 2_000
#: Objections one member may file against one outcome.
MAX_OBJECTIONS_PER_MEMBER = 5
PER_PAGE = 20
MAX_PER_PAGE = 100
MAX_QUERY = 100
#: Consultation statuses from which minutes exist.
CLOSED_STATUSES = ("closed", "outcome_published", "implementing", "completed")


# --- reading ---------------------------------------------------------------------------


#: An outcome with its consultation and community (loaded into it), and ``user``'s place in
#: each (None where they have none, or for a visitor): what an outcome's page and its actions
#: ask first (who manages it, who is a member), in one statement instead of up to five.
_OUTCOME_FOR_READER = (
    sa.select(Outcome, Participant, Membership)
    .join(Outcome.consultation)
    .join(Outcome.community)
    .outerjoin(
        Participant,
        sa.and_(
            Participant.consultation_id == Outcome.consultation_id,
            Participant.user_id == sa.bindparam("user"),
        ),
    )
    .outerjoin(
        Membership,
        sa.and_(
            Membership.community_id == Outcome.community_id,
            Membership.user_id == sa.bindparam("user"),
        ),
    )
    .options(contains_eager(Outcome.consultation), contains_eager(Outcome.community))
    .where(Outcome.id == sa.bindparam("outcome"))
)


def get_outcome(outcome_id, reader=None) -> Outcome:
    """The outcome, or ``outcome_not_found``; its consultation and community are read with
    it, and a signed-in ``reader``'s participation in the one and membership of the other
    are remembered for :func:`can_manage` and ``is_member``."""
    key = parse_id(outcome_id)
    user_id = reader.id if getattr(reader, "is_authenticated", False) else None
    row = None
    if key:
        row = db.session.execute(_OUTCOME_FOR_READER, {"outcome": key, "user": user_id}).first()
    if row is None:
        raise NotFound("outcome_not_found", _("No such outcome."))
    outcome, found, member = row
    if user_id is not None:
        consultation = outcome.consultation
        consultations.remember_reading(consultation.id, user_id, consultation, found)
        remember_membership(outcome.community, user_id, member)
    return outcome


def can_manage(user, outcome: Outcome) -> bool:
    return consultations.can_manage(user, outcome.consultation)


def can_report(user, outcome: Outcome) -> bool:
    """The chair, or the account named as the responsible party, reports progress."""
    if not getattr(user, "is_authenticated", False):
        return False
    return outcome.responsible_user_id == user.id or can_manage(user, outcome)


def get_visible_outcome(outcome_id, viewer=None) -> Outcome:
    """A published outcome for anyone; a draft only for whoever may manage it."""
    outcome = get_outcome(outcome_id, viewer)
    if not outcome.is_public and not can_manage(viewer, outcome):
        raise NotFound("outcome_not_found", _("No such outcome."))
    return outcome


def outcome_for(consultation: Consultation) -> Outcome | None:
    return db.session.scalar(sa.select(Outcome).where(Outcome.consultation_id == consultation.id))


def versions(outcome: Outcome) -> list[OutcomeVersion]:
    return list(
        db.session.scalars(
            sa.select(OutcomeVersion)
            .where(OutcomeVersion.outcome_id == outcome.id)
            .order_by(OutcomeVersion.version)
        )
    )


def get_version(outcome: Outcome, number=None, among=None) -> OutcomeVersion:
    """Version ``number`` of a published outcome (the latest when ``None``), from ``among``
    when its :func:`versions` have been read."""
    if number is None:
        number = outcome.current_version
    key = parse_id(number)
    found = None
    if key and among is not None:
        found = next((version for version in among if version.version == key), None)
    elif key:
        found = db.session.scalar(
            sa.select(OutcomeVersion).where(
                OutcomeVersion.outcome_id == outcome.id, OutcomeVersion.version == key
            )
        )
    if found is None:
        raise NotFound("version_not_found", _("This outcome has no such version."))
    return found


def record_of(version: OutcomeVersion) -> dict:
    return json.loads(version.record)


def minority_opinions(outcome: Outcome) -> list[OutcomeMinorityOpinion]:
    return list(
        db.session.scalars(
            sa.select(OutcomeMinorityOpinion)
            .where(OutcomeMinorityOpinion.outcome_id == outcome.id)
            .order_by(OutcomeMinorityOpinion.position)
        )
    )


def objections(outcome: Outcome) -> list[Objection]:
    return list(
        db.session.scalars(
            sa.select(Objection)
            .where(Objection.outcome_id == outcome.id)
            .options(selectinload(Objection.user), selectinload(Objection.answered_by))
            .order_by(Objection.created_at, Objection.id)
        )
    )


def get_objection(objection_id) -> Objection:
    return get_or_404(Objection, objection_id, "objection_not_found", _("No such objection."))


def progress_reports(outcome: Outcome) -> list[ProgressReport]:
    return list(
        db.session.scalars(
            sa.select(ProgressReport)
            .where(ProgressReport.outcome_id == outcome.id)
            .options(selectinload(ProgressReport.created_by))
            .order_by(ProgressReport.created_at, ProgressReport.id)
        )
    )


def ratings(outcome: Outcome) -> list[Rating]:
    return list(
        db.session.scalars(
            sa.select(Rating)
            .where(Rating.outcome_id == outcome.id)
            .options(selectinload(Rating.user))
            .order_by(Rating.created_at, Rating.id)
        )
    )


def rating_summary(outcome: Outcome) -> dict:
    rows = db.session.execute(
        sa.select(Rating.stars, sa.func.count())
        .where(Rating.outcome_id == outcome.id)
        .group_by(Rating.stars)
    ).all()
    return _summary(rows)


def summarize_ratings(ratings: list[Rating]) -> dict:
    """:func:`rating_summary` of ratings already read."""
    return _summary(Counter(r.stars for r in ratings).items())


def _summary(counts) -> dict:
    """``{count, average, distribution}`` from ``(stars, how many)`` pairs."""
    distribution = {str(n): 0 for n in range(1, 6)}
    for stars, count in counts:
        distribution[str(stars)] = count
    total = sum(distribution.values())
    points = sum(int(k) * v for k, v in distribution.items())
    average = round(points / total, 2) if total else None
    return {"count": total, "average": average, "distribution": distribution}


def rating_of(user, outcome: Outcome) -> Rating | None:
    if not getattr(user, "is_authenticated", False):
        return None
    return db.session.scalar(
        sa.select(Rating).where(Rating.outcome_id == outcome.id, Rating.user_id == user.id)
    )


def notice_open(outcome: Outcome, now: datetime | None = None) -> bool:
    """Whether objections are taken now (the notice period, 公示期)."""
    if not outcome.is_public or outcome.notice_until is None:
        return False
    return (now or utcnow()) < outcome.notice_until


# --- bringing in decisions and minority opinions -----------------------------------------


def _optional(module: str, name: str):
    """A function another feature provides, or ``None`` where it does not exist (yet)."""
    from importlib import import_module

    try:
        return getattr(import_module(module), name)
    except (ImportError, AttributeError):
        return None


def _count(value) -> int | None:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, list | tuple | set | dict):
        return len(value)
    return None


def _motions_by_id(consultation: Consultation) -> dict:
    motions_of = _optional("consult.motions.service", "motions_of")
    motion_to_dict = _optional("consult.motions.service", "motion_to_dict")
    if motions_of is None or motion_to_dict is None:
        return {}
    found = {}
    for motion in motions_of(consultation):
        data = motion_to_dict(motion, with_history=False)
        if isinstance(data, dict) and data.get("id") is not None:
            found[data["id"]] = data
    return found


def closed_votes(consultation: Consultation) -> list[dict]:
    """The consultation's closed votes as ``vote_to_dict`` gives them to the public, with
    ``raw_title``: the title as stored, not as worded in the reader's language."""
    votes_of = _optional("consult.motions.service", "votes_of")
    vote_to_dict = _optional("consult.motions.service", "vote_to_dict")
    if votes_of is None or vote_to_dict is None:
        return []
    found = []
    for vote in votes_of(consultation):
        data = vote_to_dict(vote, viewer=None)
        if isinstance(data, dict) and data.get("status") == "closed":
            data = dict(data)
            data["raw_title"] = getattr(vote, "title", None) or data.get("title")
            found.append(data)
    return found


def _receipts(vote: dict) -> list[dict]:
    if not vote.get("secret"):
        return []
    receipts = [
        {"receipt": str(r.get("receipt")), "choice": r.get("choice")}
        for r in vote.get("receipts") or []
        if isinstance(r, dict) and r.get("receipt")
    ]
    return sorted(receipts, key=lambda r: (r["receipt"], str(r["choice"])))


def collect_decisions(consultation: Consultation) -> list[dict]:
    """One decision per closed vote, linked to its motion and carrying its result.

    Only stored values go in (no text worded in the reader's language, such as the rule in
    words): the record must read the same whoever published it."""
    motions = _motions_by_id(consultation)
    decisions = []
    for vote in closed_votes(consultation):
        motion = motions.get(vote.get("motion_id"), {})
        counts = vote.get("counts") or {}
        decisions.append(
            {
                "vote_id": vote.get("id"),
                "motion_id": vote.get("motion_id"),
                "amendment_id": vote.get("amendment_id"),
                "title": vote.get("raw_title") or motion.get("title") or "",
                "motion_title": motion.get("title"),
                "motion_text": vote.get("text") or motion.get("text"),
                "motion_revision": vote.get("motion_revision"),
                "motion_state": motion.get("state"),
                "kind": vote.get("kind"),
                "options": list(vote.get("options") or []),
                "secret": bool(vote.get("secret")),
                "threshold": vote.get("threshold"),
                "quorum": vote.get("quorum"),
                "eligible": _count(vote.get("eligible")),
                "ballots_cast": _count(vote.get("ballots_cast")),
                "counts": {str(k): v for k, v in counts.items()},
                "quorum_met": vote.get("quorum_met"),
                "result": vote.get("result"),
                "opened_at": vote.get("opened_at"),
                "closed_at": vote.get("closed_at"),
                "receipts": _receipts(vote),
            }
        )
    return decisions


def _opinion_key(*parts) -> str:
    return hashlib.sha256(json.dumps(parts, ensure_ascii=False).encode()).hexdigest()


def _text_of(value) -> str:
    return value if isinstance(value, str) else ""


def _author_of(value) -> str | None:
    if isinstance(value, dict):
        value = value.get("username")
    return value if isinstance(value, str) and value else None


def collect_minority_opinions(consultation: Consultation) -> list[dict]:
    """Every minority opinion from the votes (ballot reasons and floor notes) and the room.

    Each carries a ``key``: the same opinion brought in twice has the same key. Identical
    opinions (two anonymous ballots with the same reason) are told apart by occurrence.
    """
    found: list[dict] = []
    seen: dict = {}

    def add(source, text, choice, author, motion_id, vote_id, identity):
        text = _text_of(text).strip()
        if not text:
            return
        seen[identity] = seen.get(identity, 0) + 1
        key = _opinion_key(*identity, seen[identity])
        if any(o["key"] == key for o in found):
            return
        found.append(
            {
                "key": key,
                "source": source,
                "text": text,
                "choice": None if choice is None else str(choice),
                "author": author,
                "motion_id": motion_id,
                "vote_id": vote_id,
            }
        )

    floor_seen: dict = {}

    def floor_identity(motion_id, author, text):
        return ("floor", motion_id, author, _text_of(text).strip())

    for vote in closed_votes(consultation):
        vote_floor: dict = {}
        for opinion in vote.get("minority_opinions") or []:
            if not isinstance(opinion, dict):
                continue
            source = "floor" if opinion.get("source") == "floor" else "ballot"
            author = _author_of(opinion.get("author"))
            if source == "floor":
                identity = floor_identity(vote.get("motion_id"), author, opinion.get("text"))
                vote_floor[identity] = vote_floor.get(identity, 0) + 1
                # The same floor note reaches every vote on its motion: count it once.
                if vote_floor[identity] <= floor_seen.get(identity, 0):
                    continue
                floor_seen[identity] = vote_floor[identity]
            else:
                identity = (
                    "ballot",
                    vote.get("id"),
                    author,
                    opinion.get("choice"),
                    _text_of(opinion.get("text")).strip(),
                )
            add(
                source,
                opinion.get("text"),
                opinion.get("choice"),
                author,
                vote.get("motion_id"),
                vote.get("id"),
                identity,
            )

    floor_opinions = _optional("consult.room.service", "floor_opinions")
    room_floor: dict = {}
    for opinion in floor_opinions(consultation) if floor_opinions else []:
        if not isinstance(opinion, dict):
            continue
        author = _author_of(opinion.get("author"))
        identity = floor_identity(opinion.get("motion_id"), author, opinion.get("text"))
        room_floor[identity] = room_floor.get(identity, 0) + 1
        if room_floor[identity] <= floor_seen.get(identity, 0):
            continue  # already brought in through a vote on its motion
        floor_seen[identity] = room_floor[identity]
        add(
            "floor",
            opinion.get("text"),
            opinion.get("choice"),
            author,
            opinion.get("motion_id"),
            None,
            identity,
        )
    return found


def _sync(outcome: Outcome, actor) -> None:
    """Bring in decisions (while they may still change) and every minority opinion not yet
    carried. Nothing already carried is removed."""
    consultation = outcome.consultation
    if outcome.status == "draft":
        outcome.decisions = collect_decisions(consultation)
    have = set(
        db.session.scalars(
            sa.select(OutcomeMinorityOpinion.key).where(
                OutcomeMinorityOpinion.outcome_id == outcome.id
            )
        )
    )
    position = _next_position(outcome)
    for opinion in collect_minority_opinions(consultation):
        if opinion["key"] in have:
            continue
        db.session.add(
            OutcomeMinorityOpinion(
                outcome_id=outcome.id,
                position=position,
                key=opinion["key"],
                source=opinion["source"],
                text=check_text(opinion["text"]),
                choice=(opinion["choice"] or None) and opinion["choice"][:200],
                author=opinion["author"],
                motion_id=opinion["motion_id"],
                vote_id=opinion["vote_id"],
            )
        )
        have.add(opinion["key"])
        position += 1
    db.session.flush()


def _next_position(outcome: Outcome) -> int:
    highest = db.session.scalar(
        sa.select(sa.func.max(OutcomeMinorityOpinion.position)).where(
            OutcomeMinorityOpinion.outcome_id == outcome.id
        )
    )
    return (highest or 0) + 1


def _add_chair_opinion(actor, outcome: Outcome, text: str) -> OutcomeMinorityOpinion:
    position = _next_position(outcome)
    opinion = OutcomeMinorityOpinion(
        outcome_id=outcome.id,
        position=position,
        key=_opinion_key("chair", position, text),
        source="chair",
        text=text,
        author=actor.username,
        created_by_id=actor.id,
    )
    db.session.add(opinion)
    db.session.flush()
    return opinion


# --- checking input --------------------------------------------------------------------


def _clean_text(value, name: str, max_length: int, required: bool = False) -> str:
    """Outcome texts keep their line breaks as LF (see :func:`clean_text`)."""
    return clean_text(value, name, max_length, required, newlines=True)


def parse_due(value) -> date | None:
    """A due date from a ``date`` or an ISO ``YYYY-MM-DD`` string; empty means none."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise Invalid("invalid_due", _("The due date is a date such as 2025-06-30."))


def _notice_days(value) -> int:
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_NOTICE_DAYS:
        raise Invalid(
            "invalid_notice_days",
            _("The notice period is from 1 to %(n)d days.", n=MAX_NOTICE_DAYS),
        )
    return value


def _responsible_user(outcome: Outcome, username) -> int | None:
    if username is None or username == "":
        return None
    user = find_user(username) if isinstance(username, str) else None
    if user is None:
        raise NotFound("user_not_found", _("No such user."))
    if not is_member(user, outcome.community):
        raise Invalid(
            "responsible_not_member",
            _("%(name)s is not a member of this community.", name=username),
        )
    return user.id


def _apply_fields(outcome: Outcome, fields: dict) -> list[str]:
    """Set the fields that were given; return the names of those that changed."""
    changed = []

    def put(name, value):
        if getattr(outcome, name) != value:
            setattr(outcome, name, value)
            changed.append(name)

    if fields.get("title") is not None:
        put("title", _clean_text(fields["title"], "title", 200, required=True))
    if fields.get("summary") is not None:
        put("summary", _clean_text(fields["summary"], "summary", MAX_SUMMARY, required=True))
    if fields.get("category") is not None:
        put("category", _clean_text(fields["category"], "category", 64))
    if fields.get("responsible") is not None:
        put("responsible", _clean_text(fields["responsible"], "responsible", 200))
    if "responsible_user" in fields and fields["responsible_user"] is not None:
        put("responsible_user_id", _responsible_user(outcome, fields["responsible_user"]))
    if "due" in fields:
        put("due", parse_due(fields["due"]))
    if fields.get("notice_days") is not None:
        put("notice_days", _notice_days(fields["notice_days"]))
    outcome.search_text = search_text(outcome)
    return changed


def search_text(outcome: Outcome) -> str:
    parts = (outcome.title, outcome.summary, outcome.category, outcome.responsible)
    return "\n".join(p or "" for p in parts).casefold()


def _require_manage(actor, outcome: Outcome) -> None:
    if not can_manage(actor, outcome):
        raise Forbidden("not_chair", _("Only the chair of this consultation may do this."))


def _lock(outcome: Outcome) -> Outcome:
    """Take the write lock and read the outcome afresh, so checks hold until commit."""
    lock_for_write()
    return db.session.scalar(
        sa.select(Outcome)
        .where(Outcome.id == outcome.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


def _set_consultation_status(actor, consultation: Consultation, to: str) -> str:
    previous = consultation.status
    if previous != to:
        consultation.status = to
        audit.record(actor, "consultation." + to, consultation, previous=previous)
    return previous


def _announce_status(consultation: Consultation, previous: str) -> None:
    if previous != consultation.status:
        notify.announce(
            "consultation:status",
            {
                "consultation_id": consultation.id,
                "status": consultation.status,
                "previous": previous,
            },
            room=notify.room_name(consultation.id),
        )


def _announce_update(outcome: Outcome, what: str) -> None:
    notify.announce(
        "outcome:updated",
        {
            "id": outcome.id,
            "consultation_id": outcome.consultation_id,
            "status": outcome.status,
            "version": outcome.current_version,
            "what": what,
        },
        room=notify.room_name(outcome.consultation_id),
    )


# --- drafting, publishing, correcting ----------------------------------------------------


def draft_outcome(actor, consultation: Consultation, **fields) -> Outcome:
    """Create or update the draft outcome of a closed consultation.

    ``fields``: summary (required), title, category, responsible, responsible_user
    (username), due (date or ``YYYY-MM-DD``), notice_days, minority_opinion (one more
    opinion added by the chair). Decisions and minority opinions are brought in from the
    votes and the room each time.
    """
    consultations.require_manage(actor, consultation)
    lock_for_write()
    db.session.refresh(consultation)
    outcome = outcome_for(consultation)
    if outcome is not None and outcome.status != "draft":
        raise Conflict("already_published", _("The outcome is published; publish a correction."))
    if consultation.status != "closed":
        raise Conflict(
            "consultation_not_closed",
            _("An outcome is drafted after the room has closed."),
        )
    extra = _clean_text(fields.pop("minority_opinion", None), "minority_opinion", MAX_TEXT)
    created = outcome is None
    try:
        if created:
            outcome = Outcome(
                consultation=consultation,
                community=consultation.community,
                status="draft",
                title=consultation.title[:200],
                category=consultation.form,
                notice_days=DEFAULT_NOTICE_DAYS,
                created_by_id=actor.id,
            )
            if fields.get("summary") is None:
                fields["summary"] = ""  # so that a missing summary is refused clearly
        _apply_fields(outcome, fields)
        if created:
            db.session.add(outcome)
        outcome.updated_at = utcnow()
        db.session.flush()
        _sync(outcome, actor)
        if extra:
            _add_chair_opinion(actor, outcome, extra)
    except Exception:
        db.session.rollback()
        raise
    audit.record(
        actor,
        "outcome.drafted" if created else "outcome.draft_updated",
        outcome,
        consultation_id=consultation.id,
        fields=sorted(k for k, v in fields.items() if v is not None),
        minority_opinion_added=bool(extra),
    )
    db.session.commit()
    return outcome


def build_record(outcome: Outcome, version: int, published_at: datetime, published_by: User,
                 reason: str | None) -> dict:  # fmt: skip
    """The canonical record of one version: everything that was decided and published.

    Ids are part of it on purpose: the outcome id and version number are its public address
    (``/notice/<id>/v/<n>``), printed on every copy; vote and motion ids tie each decision to
    its vote. They survive a move between databases, like every other field.
    """
    consultation = outcome.consultation
    decisions = list(outcome.decisions or [])
    receipts = [
        {"vote_id": d.get("vote_id"), "receipt": r["receipt"], "choice": r["choice"]}
        for d in decisions
        for r in d.get("receipts") or []
    ]
    responsible_user = (
        db.session.get(User, outcome.responsible_user_id) if (outcome.responsible_user_id) else None
    )
    first = outcome.published_at or published_at
    return {
        "schema": RECORD_SCHEMA,
        "outcome_id": outcome.id,
        "version": version,
        "reason": reason,
        "published_at": published_at,
        "published_by": published_by.username,
        "first_published_at": first,
        "community": {"slug": outcome.community.slug, "name": outcome.community.name},
        "consultation": {
            "id": consultation.id,
            "title": consultation.title,
            "form": consultation.form,
            "opened_at": consultation.opened_at,
            "closed_at": consultation.closed_at,
        },
        "title": outcome.title,
        "category": outcome.category,
        "summary": outcome.summary,
        "responsible": outcome.responsible,
        "responsible_user": responsible_user.username if responsible_user else None,
        "due": outcome.due,
        "notice_days": outcome.notice_days,
        "notice_until": first + timedelta(days=outcome.notice_days),
        "decisions": decisions,
        "minority_opinions": [o.to_record() for o in minority_opinions(outcome)],
        "receipts": receipts,
    }


def _new_version(actor, outcome: Outcome, reason: str | None) -> OutcomeVersion:
    now = utcnow().replace(microsecond=0)
    number = outcome.current_version + 1
    record = build_record(outcome, number, now, actor, reason)
    text = canonical_json(record)
    version = OutcomeVersion(
        outcome_id=outcome.id,
        version=number,
        record=text,
        fingerprint=fingerprint_of_text(text),
        reason=reason,
        published_at=now,
        published_by_id=actor.id,
    )
    db.session.add(version)
    outcome.current_version = number
    outcome.fingerprint = version.fingerprint
    outcome.updated_at = now
    if outcome.published_at is None:
        outcome.published_at = now
    outcome.notice_until = outcome.published_at + timedelta(days=outcome.notice_days)
    return version


def publish_outcome(actor, outcome: Outcome) -> OutcomeVersion:
    """Publish the draft: version 1 on the notice page, the notice period starts."""
    _require_manage(actor, outcome)
    outcome = _lock(outcome)
    if outcome.status != "draft":
        raise Conflict("already_published", _("This outcome is already published."))
    consultation = outcome.consultation
    db.session.refresh(consultation)
    if consultation.status != "closed":
        raise Conflict(
            "consultation_not_closed", _("An outcome is published after the room has closed.")
        )
    if not (outcome.summary or "").strip():
        raise Invalid("summary_required", _("Write a summary before publishing."))
    try:
        _sync(outcome, actor)
        version = _new_version(actor, outcome, None)
        outcome.status = "published"
        previous = _set_consultation_status(actor, consultation, "outcome_published")
        db.session.flush()
    except IntegrityError as exc:
        db.session.rollback()
        raise Conflict("already_published", _("This outcome is already published.")) from exc
    audit.record(actor, "outcome.published", outcome, version=1, fingerprint=version.fingerprint)
    db.session.commit()
    notify.announce(
        "outcome:published",
        {
            "id": outcome.id,
            "community": outcome.community.slug,
            "title": outcome.title,
            "consultation_id": consultation.id,
        },
    )
    _announce_status(consultation, previous)
    return version


def correct_outcome(actor, outcome: Outcome, reason, **fields) -> OutcomeVersion:
    """Publish a correction: a new version with a stated reason; older versions stay."""
    _require_manage(actor, outcome)
    outcome = _lock(outcome)
    if not outcome.is_public:
        raise Conflict("not_published", _("Only a published outcome can be corrected."))
    if reason is None or (isinstance(reason, str) and not reason.strip()):
        raise Invalid("reason_required", _("Say what the correction corrects and why."))
    reason = _clean_text(reason, "reason", MAX_TEXT, required=True)
    extra = _clean_text(fields.pop("minority_opinion", None), "minority_opinion", MAX_TEXT)
    try:
        changed = _apply_fields(outcome, fields)
        _sync(outcome, actor)
        if extra:
            _add_chair_opinion(actor, outcome, extra)
            changed.append("minority_opinions")
        if not changed:
            raise Invalid(
                "nothing_changed", _("The correction changes nothing; change a field first.")
            )
        version = _new_version(actor, outcome, reason)
        db.session.flush()
    except Exception:
        db.session.rollback()
        raise
    audit.record(
        actor,
        "outcome.corrected",
        outcome,
        version=version.version,
        reason=reason,
        changed=sorted(changed),
        fingerprint=version.fingerprint,
    )
    db.session.commit()
    _announce_update(outcome, "corrected")
    return version


# --- notice period, implementation, evaluation -------------------------------------------


def _require_public(outcome: Outcome) -> None:
    if not outcome.is_public:
        raise Conflict("not_published", _("This outcome is not published yet."))


def file_objection(actor, outcome: Outcome, reason) -> Objection:
    """A member objects (异议) during the notice period, with a reason."""
    if not is_member(actor, outcome.community):
        raise Forbidden(
            "not_member", _("Only members of this community may object to its outcomes.")
        )
    _require_public(outcome)
    if reason is None or (isinstance(reason, str) and not reason.strip()):
        raise Invalid("reason_required", _("Give the reason for your objection."))
    reason = _clean_text(reason, "reason", MAX_TEXT, required=True)
    lock_for_write()
    db.session.refresh(outcome)
    if not notice_open(outcome):
        raise Conflict(
            "notice_period_over",
            _("The notice period is over; objections are no longer taken."),
        )
    filed = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(Objection)
        .where(Objection.outcome_id == outcome.id, Objection.user_id == actor.id)
    )
    if filed >= MAX_OBJECTIONS_PER_MEMBER:
        raise TooMany(
            "too_many_objections",
            _(
                "You have filed %(n)d objections to this outcome; wait for the answers.",
                n=MAX_OBJECTIONS_PER_MEMBER,
            ),
        )
    objection = Objection(
        outcome_id=outcome.id, user_id=actor.id, version=outcome.current_version, reason=reason
    )
    db.session.add(objection)
    db.session.flush()
    audit.record(actor, "outcome.objection_filed", objection, outcome_id=outcome.id)
    db.session.commit()
    _announce_update(outcome, "objection")
    return objection


def answer_objection(actor, objection: Objection, answer) -> Objection:
    """The chair answers an objection; the answer is public."""
    outcome = objection.outcome
    _require_manage(actor, outcome)
    answer = _clean_text(answer, "answer", MAX_TEXT, required=True)
    lock_for_write()
    db.session.refresh(objection)
    if objection.answer is not None:
        raise Conflict("already_answered", _("This objection has been answered."))
    objection.answer = answer
    objection.answered_at = utcnow()
    objection.answered_by_id = actor.id
    audit.record(actor, "outcome.objection_answered", objection, outcome_id=outcome.id)
    db.session.commit()
    _announce_update(outcome, "answer")
    return objection


def _percent(value) -> int:
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100:
        raise Invalid("invalid_percent", _("Progress is a whole number from 0 to 100."))
    return value


def report_progress(actor, outcome: Outcome, percent, note=None) -> ProgressReport:
    """The responsible party or the chair reports progress; the first report moves the
    outcome (and its consultation) to ``implementing``."""
    if not can_report(actor, outcome):
        raise Forbidden(
            "not_chair", _("Only the chair or the responsible party may report progress.")
        )
    _require_public(outcome)
    percent = _percent(percent)
    note = _clean_text(note, "note", MAX_TEXT)
    outcome = _lock(outcome)
    if outcome.status == "completed":
        raise Conflict("already_completed", _("This outcome is already completed."))
    report = ProgressReport(
        outcome_id=outcome.id, percent=percent, note=note, created_by_id=actor.id
    )
    db.session.add(report)
    previous = None
    if outcome.status == "published":
        outcome.status = "implementing"
        previous = _set_consultation_status(actor, outcome.consultation, "implementing")
    outcome.updated_at = utcnow()
    db.session.flush()
    audit.record(actor, "outcome.progress", report, outcome_id=outcome.id, percent=percent)
    db.session.commit()
    _announce_update(outcome, "progress")
    if previous is not None:
        _announce_status(outcome.consultation, previous)
    return report


def complete_outcome(actor, outcome: Outcome) -> Outcome:
    """The chair marks the outcome carried out; ratings open.

    A 100 % progress report does not complete the outcome by itself: the responsible party
    reports, the chair confirms.
    """
    _require_manage(actor, outcome)
    _require_public(outcome)
    outcome = _lock(outcome)
    if outcome.status == "completed":
        raise Conflict("already_completed", _("This outcome is already completed."))
    outcome.status = "completed"
    outcome.completed_at = utcnow()
    outcome.updated_at = outcome.completed_at
    previous = _set_consultation_status(actor, outcome.consultation, "completed")
    audit.record(actor, "outcome.completed", outcome)
    db.session.commit()
    _announce_update(outcome, "completed")
    _announce_status(outcome.consultation, previous)
    return outcome


def _stars(value) -> int:
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 5:
        raise Invalid("invalid_stars", _("Rate with 1 to 5 stars."))
    return value


def rate_outcome(actor, outcome: Outcome, stars, comment=None) -> Rating:
    """A member rates a completed outcome once (共评)."""
    if not is_member(actor, outcome.community):
        raise Forbidden("not_member", _("Only members of this community may rate its outcomes."))
    _require_public(outcome)
    if outcome.status != "completed":
        raise Conflict("not_completed", _("Ratings open when the outcome is completed."))
    stars = _stars(stars)
    comment = _clean_text(comment, "comment", MAX_TEXT)
    lock_for_write()
    if rating_of(actor, outcome) is not None:
        raise Conflict("already_rated", _("You have already rated this outcome."))
    rating = Rating(outcome_id=outcome.id, user_id=actor.id, stars=stars, comment=comment)
    db.session.add(rating)
    try:
        db.session.flush()
    except IntegrityError as exc:
        db.session.rollback()
        raise Conflict("already_rated", _("You have already rated this outcome.")) from exc
    audit.record(actor, "outcome.rated", rating, outcome_id=outcome.id, stars=stars)
    db.session.commit()
    _announce_update(outcome, "rating")
    return rating


# --- the notice board --------------------------------------------------------------------


@dataclass
class Page:
    items: list
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages


@dataclass
class NoticeItem:
    """One line of the notice board, read in one query with its community."""

    id: int
    title: str
    summary: str
    category: str
    status: str
    published_at: datetime
    updated_at: datetime
    notice_until: datetime | None
    version: int
    fingerprint: str
    community_slug: str
    community_name: str

    @property
    def status_label(self) -> str:
        from .models import STATUSES

        return str(STATUSES.get(self.status, self.status))


def _like_escape(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def parse_page(value) -> int:
    key = parse_id(value)
    return min(key, 100_000) if key else 1


def notice_query(community: str | None = None, category: str | None = None,
                 status: str | None = None, q: str | None = None):  # fmt: skip
    """The published outcomes that match, as a ``WHERE`` over ``outcome`` joined to its
    community. Search terms (split on spaces, all must match) are ``LIKE`` patterns over the
    lower-cased ``search_text`` column — substring matching, so Chinese text works without
    a word splitter; on PostgreSQL a trigram index (``pg_trgm``) on that column serves it."""
    # Every status but draft is public. Said as "not draft" so that the planner walks the
    # newest-first index instead of gathering and sorting every public outcome.
    where = [Outcome.status != "draft"]
    if community:
        where.append(Community.slug == community)
    if category:
        where.append(Outcome.category == category)
    if status:
        if status not in PUBLIC_STATUSES:
            raise Invalid(
                "invalid_status", _("Status is one of published, implementing, completed.")
            )
        where.append(Outcome.status == status)
    for term in (q or "").casefold().split()[:10]:
        where.append(Outcome.search_text.like(f"%{_like_escape(term)}%", escape="\\"))
    return where


def notice_page(community=None, category=None, status=None, q=None, page=1,
                per_page=PER_PAGE) -> Page:  # fmt: skip
    """One page of the notice board, newest first: two queries whatever the page size."""
    if isinstance(q, str):
        q = check_text(q)[:MAX_QUERY]
    where = notice_query(community, category, status, q)
    page = parse_page(page)
    per_page = max(1, min(int(per_page), MAX_PER_PAGE))
    count = sa.select(sa.func.count()).select_from(Outcome)
    if community:  # the join is needed only to filter by the community's slug
        count = count.join(Community, Community.id == Outcome.community_id)
    total = db.session.scalar(count.where(*where))
    rows = db.session.execute(
        sa.select(
            Outcome.id,
            Outcome.title,
            Outcome.summary,
            Outcome.category,
            Outcome.status,
            Outcome.published_at,
            Outcome.updated_at,
            Outcome.notice_until,
            Outcome.current_version,
            Outcome.fingerprint,
            Community.slug,
            Community.name,
        )
        .join(Community, Community.id == Outcome.community_id)
        .where(*where)
        .order_by(Outcome.published_at.desc(), Outcome.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    items = [NoticeItem(*row) for row in rows]
    return Page(items=items, total=total or 0, page=page, per_page=per_page)


def categories(community: str | None = None) -> list[str]:
    query = (
        sa.select(Outcome.category)
        .where(Outcome.status != "draft", Outcome.category != "")
        .distinct()
        .order_by(Outcome.category)
        .limit(200)
    )
    if community:
        query = query.join(Community, Community.id == Outcome.community_id).where(
            Community.slug == community
        )
    return list(db.session.scalars(query))


# --- shapes for the API ------------------------------------------------------------------


def version_url(outcome_id: int, number: int) -> str:
    return f"/notice/{outcome_id}/v/{number}"


def versions_to_list(outcome: Outcome) -> list[dict]:
    from consult.core.time import isoformat

    return [
        {
            "version": v.version,
            "fingerprint": v.fingerprint,
            "reason": v.reason,
            "published_at": isoformat(v.published_at),
            "url": version_url(outcome.id, v.version),
        }
        for v in versions(outcome)
    ]


def objection_to_dict(objection: Objection, viewer=None) -> dict:
    from consult.core.time import isoformat

    data = {
        "id": objection.id,
        "version": objection.version,
        "reason": objection.reason,
        "created_at": isoformat(objection.created_at),
        "answer": objection.answer,
        "answered_at": isoformat(objection.answered_at),
    }
    if viewer is not None and (
        can_manage(viewer, objection.outcome) or getattr(viewer, "id", None) == objection.user_id
    ):
        data["author"] = objection.user.username
    return data


def progress_to_dict(report: ProgressReport) -> dict:
    from consult.core.time import isoformat

    return {
        "id": report.id,
        "percent": report.percent,
        "note": report.note,
        "created_at": isoformat(report.created_at),
        "author": report.created_by.username,
    }


def rating_to_dict(rating: Rating) -> dict:
    from consult.core.time import isoformat

    return {
        "stars": rating.stars,
        "comment": rating.comment,
        "created_at": isoformat(rating.created_at),
    }


def draft_record(outcome: Outcome, viewer) -> dict:
    """What a draft would publish (for the chair's preview), in the record's shape."""
    now = utcnow().replace(microsecond=0)
    return build_record(outcome, outcome.current_version + 1, now, viewer, None)


def outcome_to_dict(outcome: Outcome, viewer=None, number=None) -> dict:
    """The notice's detail: the record of a version (the latest unless ``number``), its
    fingerprint and every version, and the live parts (objections, progress, ratings)."""
    from consult.core.time import isoformat

    if outcome.is_public:
        version = get_version(outcome, number)
        record = record_of(version)
        fp = version.fingerprint
    else:
        record = json.loads(canonical_json(draft_record(outcome, viewer)))
        record["version"] = None
        fp = None
    data = {
        "id": outcome.id,
        "version": record["version"],
        "latest_version": outcome.current_version or None,
        "title": record["title"],
        "summary": record["summary"],
        "category": record["category"],
        "community": record["community"],
        "consultation_id": outcome.consultation_id,
        "status": outcome.status,
        "responsible": record["responsible"],
        "responsible_user": record.get("responsible_user"),
        "due": record["due"],
        "notice_days": record["notice_days"],
        "notice_until": record["notice_until"] if outcome.is_public else None,
        "notice_open": notice_open(outcome),
        "published_at": record["published_at"] if outcome.is_public else None,
        "first_published_at": record["first_published_at"] if outcome.is_public else None,
        "reason": record.get("reason"),
        "decisions": record["decisions"],
        "minority_opinions": record["minority_opinions"],
        "receipts": record["receipts"],
        "fingerprint": fp,
        "url": f"/notice/{outcome.id}",
        "record_url": (version_url(outcome.id, record["version"]) + "/record.json" if fp else None),
        "versions": versions_to_list(outcome),
        "objections": [objection_to_dict(o, viewer) for o in objections(outcome)],
        "progress": [progress_to_dict(p) for p in progress_reports(outcome)],
        "completed_at": isoformat(outcome.completed_at),
        "ratings": rating_summary(outcome),
        "rating_comments": [rating_to_dict(r) for r in ratings(outcome) if r.comment],
    }
    return data


def notice_item_to_dict(item: NoticeItem) -> dict:
    from consult.core.time import isoformat

    return {
        "id": item.id,
        "title": item.title,
        "summary": item.summary,
        "category": item.category,
        "status": item.status,
        "community": {"slug": item.community_slug, "name": item.community_name},
        "published_at": isoformat(item.published_at),
        "updated_at": isoformat(item.updated_at),
        "notice_until": isoformat(item.notice_until),
        "version": item.version,
        "fingerprint": item.fingerprint,
        "url": f"/notice/{item.id}",
    }
