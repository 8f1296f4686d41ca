"""Outcomes (协商结果) and what follows them on the notice page (公示栏): versions,
minority opinions (少数意见), objections (异议), progress reports (落实情况), ratings (评价).

A published version is append-only: a correction is a new :class:`OutcomeVersion` with a
stated reason. Minority opinions are never removed. The schema enforces what it can: one
outcome per consultation, one version number per outcome, one rating per member, percent
and stars in range.
"""

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy import event
from sqlalchemy.orm import Mapped, Session, mapped_column

from consult.core.time import utcnow
from consult.extensions import db

STATUSES = {
    "draft": _l("Draft"),
    "published": _l("Published, in its notice period"),
    "implementing": _l("Being carried out"),
    "completed": _l("Completed"),
}

#: The statuses a visitor may see on the notice page.
PUBLIC_STATUSES = ("published", "implementing", "completed")

MINORITY_SOURCES = {
    "ballot": _l("Reason given with a ballot"),
    "floor": _l("Recorded from the floor"),
    "chair": _l("Added by the chair"),
}


class Outcome(db.Model):
    """The outcome of one consultation (协商结果): what was decided, who carries it out, by when.

    The fields here are the working copy (the draft, then the latest version); what the public
    reads is the frozen record of each :class:`OutcomeVersion`.
    """

    __tablename__ = "outcome"

    id: Mapped[int] = mapped_column(primary_key=True)
    consultation_id: Mapped[int] = mapped_column(
        sa.ForeignKey("consultation.id"), unique=True, nullable=False
    )
    community_id: Mapped[int] = mapped_column(sa.ForeignKey("community.id"), nullable=False)
    status: Mapped[str] = mapped_column(sa.String(16), default="draft", nullable=False)
    title: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    #: Free text, or the key of the consultation's meeting form (the default).
    category: Mapped[str] = mapped_column(sa.String(64), default="", nullable=False)
    summary: Mapped[str] = mapped_column(sa.Text, default="", nullable=False)
    #: Who carries it out (执行主体), as text; optionally an account that may report progress.
    responsible: Mapped[str] = mapped_column(sa.String(200), default="", nullable=False)
    responsible_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    due: Mapped[sa.Date | None] = mapped_column(sa.Date)
    notice_days: Mapped[int] = mapped_column(sa.Integer, default=7, nullable=False)
    notice_until: Mapped[sa.DateTime | None] = mapped_column(sa.DateTime)
    #: Decisions brought in from the consultation's votes (frozen into each version).
    decisions: Mapped[list] = mapped_column(sa.JSON, default=list, nullable=False)
    #: Lower-cased title, summary, category and responsible party: what ``?q=`` searches.
    #: One column so that PostgreSQL can serve ``LIKE '%…%'`` from one trigram index.
    search_text: Mapped[str] = mapped_column(sa.Text, default="", nullable=False)
    current_version: Mapped[int] = mapped_column(sa.Integer, default=0, nullable=False)
    fingerprint: Mapped[str | None] = mapped_column(sa.String(71))
    created_by_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"), nullable=False)
    created_at: Mapped[sa.DateTime] = mapped_column(sa.DateTime, default=utcnow, nullable=False)
    updated_at: Mapped[sa.DateTime] = mapped_column(sa.DateTime, default=utcnow, nullable=False)
    published_at: Mapped[sa.DateTime | None] = mapped_column(sa.DateTime)
    completed_at: Mapped[sa.DateTime | None] = mapped_column(sa.DateTime)

    consultation = db.relationship("Consultation")
    community = db.relationship("Community")
    created_by = db.relationship("User", foreign_keys=[created_by_id])
    responsible_user = db.relationship("User", foreign_keys=[responsible_user_id])

    __table_args__ = (
        sa.CheckConstraint(
            "status IN ('draft', 'published', 'implementing', 'completed')", name="status"
        ),
        sa.CheckConstraint("notice_days >= 1 AND notice_days <= 90", name="notice_days"),
        # The board lists newest first: scanning this index in order stops after one page.
        sa.Index("ix_outcome_published", "published_at", "id"),
        sa.Index("ix_outcome_community_published", "community_id", "published_at"),
        # Covers the category filter list and the count of public outcomes.
        sa.Index("ix_outcome_category_status", "category", "status"),
    )

    @property
    def status_label(self) -> str:
        return str(STATUSES.get(self.status, self.status))

    @property
    def is_public(self) -> bool:
        return self.status in PUBLIC_STATUSES


class OutcomeVersion(db.Model):
    """One published version of an outcome: the canonical record and its fingerprint.

    Rows are only ever inserted. ``record`` holds the canonical JSON text exactly as it was
    fingerprinted, so ``sha256(record.encode())`` is the fingerprint.
    """

    __tablename__ = "outcome_version"

    id: Mapped[int] = mapped_column(primary_key=True)
    outcome_id: Mapped[int] = mapped_column(sa.ForeignKey("outcome.id"), nullable=False)
    version: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    record: Mapped[str] = mapped_column(sa.Text, nullable=False)
    fingerprint: Mapped[str] = mapped_column(sa.String(71), nullable=False)
    #: Why this version corrects the previous one (none for the first).
    reason: Mapped[str | None] = mapped_column(sa.Text)
    published_at: Mapped[sa.DateTime] = mapped_column(sa.DateTime, nullable=False)
    published_by_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"), nullable=False)

    published_by = db.relationship("User")

    __table_args__ = (
        sa.UniqueConstraint("outcome_id", "version"),
        sa.CheckConstraint("version >= 1", name="version"),
    )


class OutcomeMinorityOpinion(db.Model):
    """A minority opinion (少数意见) carried by the outcome. Never removed or edited.

    ``source`` is ``ballot`` (a reason given with a losing or abstaining ballot), ``floor``
    (recorded in the room by the chair or secretary) or ``chair`` (added when drafting or
    correcting). ``key`` identifies an opinion brought in automatically, so bringing the
    opinions in again never duplicates one.
    """

    __tablename__ = "outcome_minority_opinion"

    id: Mapped[int] = mapped_column(primary_key=True)
    outcome_id: Mapped[int] = mapped_column(sa.ForeignKey("outcome.id"), nullable=False)
    position: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    key: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    source: Mapped[str] = mapped_column(sa.String(8), nullable=False)
    text: Mapped[str] = mapped_column(sa.Text, nullable=False)
    choice: Mapped[str | None] = mapped_column(sa.String(200))
    author: Mapped[str | None] = mapped_column(sa.String(64))
    motion_id: Mapped[int | None] = mapped_column(sa.Integer)
    vote_id: Mapped[int | None] = mapped_column(sa.Integer)
    created_at: Mapped[sa.DateTime] = mapped_column(sa.DateTime, default=utcnow, nullable=False)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))

    __table_args__ = (
        sa.UniqueConstraint("outcome_id", "key"),
        sa.UniqueConstraint("outcome_id", "position"),
        sa.CheckConstraint("source IN ('ballot', 'floor', 'chair')", name="source"),
    )

    def to_record(self) -> dict:
        return {
            "text": self.text,
            "choice": self.choice,
            "source": self.source,
            "author": self.author,
            "motion_id": self.motion_id,
            "vote_id": self.vote_id,
        }


class Objection(db.Model):
    """An objection (异议) filed by a member during the notice period, and the chair's answer."""

    __tablename__ = "outcome_objection"

    id: Mapped[int] = mapped_column(primary_key=True)
    outcome_id: Mapped[int] = mapped_column(sa.ForeignKey("outcome.id"), nullable=False, index=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"), nullable=False)
    version: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    reason: Mapped[str] = mapped_column(sa.Text, nullable=False)
    created_at: Mapped[sa.DateTime] = mapped_column(sa.DateTime, default=utcnow, nullable=False)
    answer: Mapped[str | None] = mapped_column(sa.Text)
    answered_at: Mapped[sa.DateTime | None] = mapped_column(sa.DateTime)
    answered_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))

    user = db.relationship("User", foreign_keys=[user_id])
    answered_by = db.relationship("User", foreign_keys=[answered_by_id])
    outcome = db.relationship(Outcome)


class ProgressReport(db.Model):
    """A progress report (落实情况) by the responsible party or the chair."""

    __tablename__ = "outcome_progress"

    id: Mapped[int] = mapped_column(primary_key=True)
    outcome_id: Mapped[int] = mapped_column(sa.ForeignKey("outcome.id"), nullable=False, index=True)
    percent: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    note: Mapped[str] = mapped_column(sa.Text, default="", nullable=False)
    created_at: Mapped[sa.DateTime] = mapped_column(sa.DateTime, default=utcnow, nullable=False)
    created_by_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"), nullable=False)

    created_by = db.relationship("User")

    __table_args__ = (sa.CheckConstraint("percent >= 0 AND percent <= 100", name="percent"),)


class Rating(db.Model):
    """A member's evaluation (评价) of a completed outcome: 1–5 stars, once each."""

    __tablename__ = "outcome_rating"

    id: Mapped[int] = mapped_column(primary_key=True)
    outcome_id: Mapped[int] = mapped_column(sa.ForeignKey("outcome.id"), nullable=False)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"), nullable=False, index=True)
    stars: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    comment: Mapped[str] = mapped_column(sa.Text, default="", nullable=False)
    created_at: Mapped[sa.DateTime] = mapped_column(sa.DateTime, default=utcnow, nullable=False)

    user = db.relationship("User")

    __table_args__ = (
        sa.UniqueConstraint("outcome_id", "user_id"),
        sa.CheckConstraint("stars >= 1 AND stars <= 5", name="stars"),
    )


class PublishedRecordError(RuntimeError):
    pass


@event.listens_for(Session, "before_flush")
def _refuse_published_changes(session, flush_context, instances):
    """Published versions and minority opinions are append-only."""
    for obj in list(session.dirty) + list(session.deleted):
        if isinstance(obj, OutcomeVersion | OutcomeMinorityOpinion) and (
            obj in session.deleted or session.is_modified(obj)
        ):
            raise PublishedRecordError("published outcome records are append-only")
