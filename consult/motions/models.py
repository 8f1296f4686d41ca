"""Motions (动议), their revisions, amendments (修正案) and seconds (附议); votes (表决),
ballots (选票) and minority opinions (少数意见).

Integrity lives in the schema: one ballot per voter per vote (a unique constraint, and a
foreign key to the eligibility list frozen at opening), one open vote per motion (a partial
unique index), and a secret ballot that holds no reference to any person.
"""

from __future__ import annotations

import secrets

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy import event
from sqlalchemy.orm import Mapped, Session, mapped_column

from consult.core.time import utcnow
from consult.extensions import db

MOTION_STATES = {
    "draft": _l("Draft"),
    "submitted": _l("Submitted"),
    "seconded": _l("Seconded"),
    "voting": _l("Being voted on"),
    "adopted": _l("Adopted"),
    "rejected": _l("Rejected"),
    "withdrawn": _l("Withdrawn"),
    "tabled": _l("Tabled"),
}
#: States in which a motion may still be edited, amended, withdrawn or tabled.
OPEN_STATES = ("draft", "submitted", "seconded")

AMENDMENT_STATUSES = {
    "proposed": _l("Proposed"),
    "accepted": _l("Accepted"),
    "rejected": _l("Rejected"),
    "voting": _l("Being voted on"),
}

MAX_TITLE = 200
MAX_TEXT = 20_000
MAX_REASON = 2_000


def _in(column: str, values) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Motion(db.Model):
    """A motion (动议): a proposal put to the consultation, from draft to adopted/rejected."""

    __tablename__ = "motion"

    id: Mapped[int] = mapped_column(primary_key=True)
    consultation_id: Mapped[int] = mapped_column(
        sa.ForeignKey("consultation.id"), nullable=False, index=True
    )
    proposer_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"), nullable=False)
    title: Mapped[str] = mapped_column(sa.String(MAX_TITLE), nullable=False)
    #: The current text (Markdown): the text of the latest revision.
    text: Mapped[str] = mapped_column(sa.Text, nullable=False, default="")
    revision: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=1)
    state: Mapped[str] = mapped_column(sa.String(16), nullable=False, default="draft")
    #: Why it was tabled or withdrawn, if a reason was given.
    state_reason: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[sa.DateTime] = mapped_column(sa.DateTime, default=utcnow, nullable=False)
    updated_at: Mapped[sa.DateTime] = mapped_column(sa.DateTime, default=utcnow, nullable=False)

    proposer = db.relationship("User")
    consultation = db.relationship("Consultation")
    revisions = db.relationship(
        "MotionRevision", order_by="MotionRevision.number", back_populates="motion"
    )
    amendments = db.relationship("Amendment", order_by="Amendment.id", back_populates="motion")
    seconds = db.relationship("Second", order_by="Second.id", back_populates="motion")

    __table_args__ = (
        sa.CheckConstraint(_in("state", MOTION_STATES), name="state"),
        sa.CheckConstraint("revision >= 1", name="revision"),
    )

    @property
    def state_label(self) -> str:
        return str(MOTION_STATES.get(self.state, self.state))


class MotionRevision(db.Model):
    """One version of a motion's title and text; every edit adds one, none is changed."""

    __tablename__ = "motion_revision"

    id: Mapped[int] = mapped_column(primary_key=True)
    motion_id: Mapped[int] = mapped_column(sa.ForeignKey("motion.id"), nullable=False)
    number: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    title: Mapped[str] = mapped_column(sa.String(MAX_TITLE), nullable=False)
    text: Mapped[str] = mapped_column(sa.Text, nullable=False)
    author_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"), nullable=False)
    #: Set when the revision is an accepted amendment.
    amendment_id: Mapped[int | None] = mapped_column(sa.ForeignKey("amendment.id"))
    created_at: Mapped[sa.DateTime] = mapped_column(sa.DateTime, default=utcnow, nullable=False)

    motion = db.relationship(Motion, back_populates="revisions")
    author = db.relationship("User")

    __table_args__ = (sa.UniqueConstraint("motion_id", "number"),)


class Amendment(db.Model):
    """An amendment (修正案): new text proposed for a motion; accepted by the chair (it
    becomes the next revision), rejected with a reason, or put to a vote of its own."""

    __tablename__ = "amendment"

    id: Mapped[int] = mapped_column(primary_key=True)
    motion_id: Mapped[int] = mapped_column(sa.ForeignKey("motion.id"), nullable=False, index=True)
    proposer_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"), nullable=False)
    text: Mapped[str] = mapped_column(sa.Text, nullable=False)
    #: The revision it was proposed against.
    base_revision: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    status: Mapped[str] = mapped_column(sa.String(16), nullable=False, default="proposed")
    reason: Mapped[str | None] = mapped_column(sa.Text)
    #: ``chair`` or ``vote``.
    decided_by: Mapped[str | None] = mapped_column(sa.String(8))
    decided_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    decided_at: Mapped[sa.DateTime | None] = mapped_column(sa.DateTime)
    #: The motion revision it became, once accepted.
    revision: Mapped[int | None] = mapped_column(sa.Integer)
    created_at: Mapped[sa.DateTime] = mapped_column(sa.DateTime, default=utcnow, nullable=False)

    motion = db.relationship(Motion, back_populates="amendments")
    proposer = db.relationship("User", foreign_keys=[proposer_id])

    __table_args__ = (
        sa.CheckConstraint(_in("status", AMENDMENT_STATUSES), name="status"),
        sa.CheckConstraint("decided_by IS NULL OR decided_by IN ('chair', 'vote')", name="by"),
    )

    @property
    def status_label(self) -> str:
        return str(AMENDMENT_STATUSES.get(self.status, self.status))


class Second(db.Model):
    """A seconder (附议人) of a motion; once each, never the proposer."""

    __tablename__ = "motion_second"

    id: Mapped[int] = mapped_column(primary_key=True)
    motion_id: Mapped[int] = mapped_column(sa.ForeignKey("motion.id"), nullable=False)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"), nullable=False)
    created_at: Mapped[sa.DateTime] = mapped_column(sa.DateTime, default=utcnow, nullable=False)

    motion = db.relationship(Motion, back_populates="seconds")
    user = db.relationship("User")

    __table_args__ = (sa.UniqueConstraint("motion_id", "user_id"),)


VOTE_KINDS = ("yes_no_abstain", "options")
VOTE_THRESHOLDS = ("simple", "majority_cast", "majority_eligible", "two_thirds", "plurality")


class Vote(db.Model):
    """A vote (表决) on a motion or on an amendment, with its settings fixed at opening and
    its result stored at close."""

    __tablename__ = "vote"

    id: Mapped[int] = mapped_column(primary_key=True)
    consultation_id: Mapped[int] = mapped_column(
        sa.ForeignKey("consultation.id"), nullable=False, index=True
    )
    #: The motion voted on, or the motion that the amendment would change.
    motion_id: Mapped[int] = mapped_column(sa.ForeignKey("motion.id"), nullable=False, index=True)
    amendment_id: Mapped[int | None] = mapped_column(sa.ForeignKey("amendment.id"))
    #: What was put to the vote, as it stood at opening.
    title: Mapped[str] = mapped_column(sa.String(MAX_TITLE), nullable=False)
    text: Mapped[str] = mapped_column(sa.Text, nullable=False, default="")
    motion_revision: Mapped[int | None] = mapped_column(sa.Integer)
    kind: Mapped[str] = mapped_column(sa.String(16), nullable=False)
    options: Mapped[list] = mapped_column(sa.JSON, nullable=False, default=list)
    secret: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=False)
    threshold: Mapped[str] = mapped_column(sa.String(24), nullable=False)
    #: An exact fraction "p/q" of eligible voters, or NULL for no quorum.
    quorum: Mapped[str | None] = mapped_column(sa.String(16))
    results: Mapped[str] = mapped_column(sa.String(8), nullable=False, default="live")
    deadline: Mapped[sa.DateTime | None] = mapped_column(sa.DateTime, index=True)
    status: Mapped[str] = mapped_column(sa.String(8), nullable=False, default="open")
    opened_by_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"), nullable=False)
    opened_at: Mapped[sa.DateTime] = mapped_column(sa.DateTime, default=utcnow, nullable=False)
    closed_at: Mapped[sa.DateTime | None] = mapped_column(sa.DateTime)
    closed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    #: ``chair``, ``deadline`` or ``room_closed``.
    closed_because: Mapped[str | None] = mapped_column(sa.String(16))
    #: Frozen at opening.
    eligible_count: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    # Stored at close.
    ballots_cast: Mapped[int | None] = mapped_column(sa.Integer)
    counts: Mapped[dict | None] = mapped_column(sa.JSON)
    quorum_met: Mapped[bool | None] = mapped_column(sa.Boolean)
    result: Mapped[str | None] = mapped_column(sa.String(120))

    motion = db.relationship(Motion)
    amendment = db.relationship(Amendment)
    consultation = db.relationship("Consultation")

    __table_args__ = (
        sa.CheckConstraint(_in("kind", VOTE_KINDS), name="kind"),
        sa.CheckConstraint(_in("threshold", VOTE_THRESHOLDS), name="threshold"),
        sa.CheckConstraint("results IN ('live', 'hidden')", name="results"),
        sa.CheckConstraint("status IN ('open', 'closed')", name="status"),
        sa.CheckConstraint(
            "(status = 'open' AND closed_at IS NULL AND result IS NULL)"
            " OR (status = 'closed' AND closed_at IS NOT NULL AND result IS NOT NULL)",
            name="closed_has_result",
        ),
        # At most one open vote per motion (its amendments included).
        sa.Index(
            "uq_vote_open_motion",
            "motion_id",
            unique=True,
            sqlite_where=sa.text("status = 'open'"),
            postgresql_where=sa.text("status = 'open'"),
        ),
        sa.Index("ix_vote_status_deadline", "status", "deadline"),
    )

    @property
    def is_open(self) -> bool:
        return self.status == "open"


class VoteEligibility(db.Model):
    """Who may vote in a vote: frozen when it opens (voters and the chair)."""

    __tablename__ = "vote_eligibility"

    id: Mapped[int] = mapped_column(primary_key=True)
    vote_id: Mapped[int] = mapped_column(sa.ForeignKey("vote.id"), nullable=False)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"), nullable=False, index=True)
    role: Mapped[str] = mapped_column(sa.String(16), nullable=False)

    user = db.relationship("User")

    __table_args__ = (sa.UniqueConstraint("vote_id", "user_id"),)


class Ballot(db.Model):
    """An open (记名) ballot: one per eligible voter per vote; the choice may change until
    the vote closes (the last choice counts; every change is kept in :class:`BallotChange`)."""

    __tablename__ = "ballot"

    id: Mapped[int] = mapped_column(primary_key=True)
    vote_id: Mapped[int] = mapped_column(sa.ForeignKey("vote.id"), nullable=False)
    voter_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"), nullable=False)
    choice: Mapped[str] = mapped_column(sa.String(120), nullable=False)
    reason: Mapped[str | None] = mapped_column(sa.Text)
    cast_at: Mapped[sa.DateTime] = mapped_column(sa.DateTime, default=utcnow, nullable=False)
    updated_at: Mapped[sa.DateTime] = mapped_column(sa.DateTime, default=utcnow, nullable=False)

    voter = db.relationship("User")
    changes = db.relationship("BallotChange", order_by="BallotChange.id")

    __table_args__ = (
        sa.UniqueConstraint("vote_id", "voter_id"),
        # Only someone on the list frozen at opening can hold a ballot.
        sa.ForeignKeyConstraint(
            ["vote_id", "voter_id"],
            ["vote_eligibility.vote_id", "vote_eligibility.user_id"],
            name="fk_ballot_eligibility",
        ),
    )


class BallotChange(db.Model):
    """The history of an open ballot: every choice cast, in order (the first one included)."""

    __tablename__ = "ballot_change"

    id: Mapped[int] = mapped_column(primary_key=True)
    ballot_id: Mapped[int] = mapped_column(sa.ForeignKey("ballot.id"), nullable=False, index=True)
    choice: Mapped[str] = mapped_column(sa.String(120), nullable=False)
    reason: Mapped[str | None] = mapped_column(sa.Text)
    at: Mapped[sa.DateTime] = mapped_column(sa.DateTime, default=utcnow, nullable=False)


def _random_id() -> int:
    """Secret ballots get random ids (below 2**53, safe in JavaScript), so that neither the
    id nor the table's order tells when — and so by whom — a ballot was cast."""
    return secrets.randbelow(2**53 - 1) + 1


class SecretBallot(db.Model):
    """A secret (无记名) ballot: only the choice, the reason and the receipt code. It has no
    reference to any person and no time; :class:`VoterMark` says *that* someone voted."""

    __tablename__ = "secret_ballot"

    # On SQLite only a column typed exactly INTEGER is the table's rowid (its physical order).
    id: Mapped[int] = mapped_column(
        sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
        primary_key=True,
        autoincrement=False,
        default=_random_id,
    )
    vote_id: Mapped[int] = mapped_column(sa.ForeignKey("vote.id"), nullable=False, index=True)
    choice: Mapped[str] = mapped_column(sa.String(120), nullable=False)
    reason: Mapped[str | None] = mapped_column(sa.Text)
    receipt: Mapped[str] = mapped_column(sa.String(24), nullable=False, unique=True)


class VoterMark(db.Model):
    """The record that a voter cast their secret ballot — and nothing about which one."""

    __tablename__ = "voter_mark"

    id: Mapped[int] = mapped_column(primary_key=True)
    vote_id: Mapped[int] = mapped_column(sa.ForeignKey("vote.id"), nullable=False)
    voter_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"), nullable=False)

    voter = db.relationship("User")

    __table_args__ = (
        sa.UniqueConstraint("vote_id", "voter_id"),
        sa.ForeignKeyConstraint(
            ["vote_id", "voter_id"],
            ["vote_eligibility.vote_id", "vote_eligibility.user_id"],
            name="fk_voter_mark_eligibility",
        ),
    )


class MinorityOpinion(db.Model):
    """A minority opinion (少数意见) of a closed vote: a reason on the losing side or an
    abstention, or one recorded from the floor. Rows are only ever inserted."""

    __tablename__ = "minority_opinion"

    id: Mapped[int] = mapped_column(primary_key=True)
    vote_id: Mapped[int] = mapped_column(sa.ForeignKey("vote.id"), nullable=False, index=True)
    position: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    text: Mapped[str] = mapped_column(sa.Text, nullable=False)
    choice: Mapped[str | None] = mapped_column(sa.String(120))
    source: Mapped[str] = mapped_column(sa.String(8), nullable=False)
    #: The author's username; NULL for a secret ballot (or an anonymous floor opinion).
    author: Mapped[str | None] = mapped_column(sa.String(64))
    created_at: Mapped[sa.DateTime] = mapped_column(sa.DateTime, default=utcnow, nullable=False)

    __table_args__ = (
        sa.CheckConstraint("source IN ('ballot', 'floor')", name="source"),
        sa.UniqueConstraint("vote_id", "position"),
    )

    def to_dict(self) -> dict:
        return {
            "text": self.text,
            "choice": self.choice,
            "source": self.source,
            "author": self.author,
        }


class RecordChangeError(RuntimeError):
    """Raised when code tries to edit or delete what the record keeps for good."""


#: Rows that are never edited or deleted once written.
_APPEND_ONLY = (MinorityOpinion, MotionRevision, BallotChange, SecretBallot, VoterMark)


@event.listens_for(Session, "before_flush")
def _refuse_record_changes(session, flush_context, instances):
    for obj in list(session.dirty) + list(session.deleted):
        if isinstance(obj, _APPEND_ONLY) and (
            obj in session.deleted or session.is_modified(obj, include_collections=False)
        ):
            raise RecordChangeError(f"{type(obj).__name__} rows are append-only")
