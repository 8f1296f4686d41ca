"""Topic collection (议题征集), attendance and written opinions (书面意见), notifications."""

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column

from consult.core.time import utcnow
from consult.extensions import db

TITLE_MAX = 120
DESCRIPTION_MAX = 5_000
CATEGORY_NAME_MAX = 60
REASON_MAX = 2_000
OPINION_MAX = 5_000

TOPIC_STATUSES = {
    "open": _l("Open for support"),
    "accepted": _l("Accepted"),
    "declined": _l("Declined"),
}

ATTENDANCE_ANSWERS = {
    "yes": _l("Yes, I will attend"),
    "maybe": _l("Maybe"),
    "no": _l("No, I cannot attend"),
}


class Category(db.Model):
    """A category of proposed topics, managed by the community admin (e.g. 环境 Environment)."""

    __tablename__ = "topic_category"

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(
        sa.ForeignKey("community.id"), nullable=False, index=True
    )
    name: Mapped[str] = mapped_column(sa.String(CATEGORY_NAME_MAX), nullable=False)
    #: A retired category is kept for the topics filed under it but offered no more.
    retired: Mapped[bool] = mapped_column(sa.Boolean, default=False, nullable=False)
    created_at: Mapped[sa.DateTime] = mapped_column(sa.DateTime, default=utcnow, nullable=False)

    community = db.relationship("Community")

    __table_args__ = (sa.UniqueConstraint("community_id", "name"),)

    def to_dict(self) -> dict:
        return {"id": self.id, "name": self.name, "retired": self.retired}


class Topic(db.Model):
    """A proposed topic (议题): something residents think is worth meeting about."""

    __tablename__ = "topic"

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(
        sa.ForeignKey("community.id"), nullable=False, index=True
    )
    proposer_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"), nullable=False, index=True)
    title: Mapped[str] = mapped_column(sa.String(TITLE_MAX), nullable=False)
    description: Mapped[str] = mapped_column(sa.Text, default="", nullable=False)
    category_id: Mapped[int | None] = mapped_column(sa.ForeignKey("topic_category.id"))
    status: Mapped[str] = mapped_column(sa.String(16), default="open", nullable=False)
    decline_reason: Mapped[str | None] = mapped_column(sa.Text)
    #: The draft consultation the topic became (the link back lives here, on the topic).
    consultation_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("consultation.id"), unique=True
    )
    decided_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    decided_at: Mapped[sa.DateTime | None] = mapped_column(sa.DateTime)
    created_at: Mapped[sa.DateTime] = mapped_column(sa.DateTime, default=utcnow, nullable=False)

    community = db.relationship("Community")
    proposer = db.relationship("User", foreign_keys=[proposer_id])
    decided_by = db.relationship("User", foreign_keys=[decided_by_id])
    category = db.relationship(Category)
    consultation = db.relationship("Consultation")

    __table_args__ = (
        sa.CheckConstraint("status IN ('open', 'accepted', 'declined')", name="status"),
        sa.CheckConstraint(
            "status != 'declined' OR decline_reason IS NOT NULL", name="decline_reason"
        ),
        sa.Index("ix_topic_community_status", "community_id", "status"),
    )

    @property
    def status_label(self) -> str:
        return str(TOPIC_STATUSES.get(self.status, self.status))


class TopicSupport(db.Model):
    """One member's support (附议) for a topic; once each."""

    __tablename__ = "topic_support"

    id: Mapped[int] = mapped_column(primary_key=True)
    topic_id: Mapped[int] = mapped_column(sa.ForeignKey("topic.id"), nullable=False)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"), nullable=False, index=True)
    created_at: Mapped[sa.DateTime] = mapped_column(sa.DateTime, default=utcnow, nullable=False)

    user = db.relationship("User")

    __table_args__ = (sa.UniqueConstraint("topic_id", "user_id"),)


class Attendance(db.Model):
    """A member's answer to “Will you attend?” for an announced consultation."""

    __tablename__ = "attendance"

    id: Mapped[int] = mapped_column(primary_key=True)
    consultation_id: Mapped[int] = mapped_column(sa.ForeignKey("consultation.id"), nullable=False)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"), nullable=False, index=True)
    answer: Mapped[str] = mapped_column(sa.String(8), nullable=False)
    updated_at: Mapped[sa.DateTime] = mapped_column(
        sa.DateTime, default=utcnow, onupdate=utcnow, nullable=False
    )

    user = db.relationship("User")

    __table_args__ = (
        sa.UniqueConstraint("consultation_id", "user_id"),
        sa.CheckConstraint("answer IN ('yes', 'no', 'maybe')", name="answer"),
    )


class WrittenOpinion(db.Model):
    """A written opinion (书面意见) submitted before the room opens; one per participant."""

    __tablename__ = "written_opinion"

    id: Mapped[int] = mapped_column(primary_key=True)
    consultation_id: Mapped[int] = mapped_column(sa.ForeignKey("consultation.id"), nullable=False)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"), nullable=False, index=True)
    text: Mapped[str] = mapped_column(sa.Text, nullable=False)
    created_at: Mapped[sa.DateTime] = mapped_column(sa.DateTime, default=utcnow, nullable=False)
    updated_at: Mapped[sa.DateTime] = mapped_column(sa.DateTime, default=utcnow, nullable=False)

    user = db.relationship("User")

    __table_args__ = (sa.UniqueConstraint("consultation_id", "user_id"),)

    def to_dict(self) -> dict:
        from consult.core.time import isoformat

        return {
            "id": self.id,
            "consultation_id": self.consultation_id,
            "author": {"username": self.user.username, "display_name": self.user.display_name},
            "text": self.text,
            "created_at": isoformat(self.created_at),
            "updated_at": isoformat(self.updated_at),
        }


class Notification(db.Model):
    """An in-app notification for one user. Its text is rendered per viewer's language from
    ``kind`` and ``params``."""

    __tablename__ = "notification"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"), nullable=False)
    kind: Mapped[str] = mapped_column(sa.String(32), nullable=False)
    consultation_id: Mapped[int | None] = mapped_column(sa.ForeignKey("consultation.id"))
    topic_id: Mapped[int | None] = mapped_column(sa.ForeignKey("topic.id"))
    #: The published outcome; a plain number, since outcomes may be versioned elsewhere.
    outcome_id: Mapped[int | None] = mapped_column(sa.Integer)
    params: Mapped[dict] = mapped_column(sa.JSON, default=dict, nullable=False)
    created_at: Mapped[sa.DateTime] = mapped_column(sa.DateTime, default=utcnow, nullable=False)
    read_at: Mapped[sa.DateTime | None] = mapped_column(sa.DateTime)

    __table_args__ = (
        sa.Index("ix_notification_user_read", "user_id", "read_at"),
        sa.Index("ix_notification_user_id_desc", "user_id", "id"),
    )
