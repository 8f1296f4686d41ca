import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column

from consult.core.time import utcnow
from consult.extensions import db

#: Meeting forms of local practice.
FORMS = {
    "residents_meeting": _l("Residents' (representatives') meeting 居民(代表)会议"),
    "council": _l("Council 议事会"),
    "dialogue": _l("Dialogue 恳谈会"),
    "hearing": _l("Hearing 听证会"),
    "coordination": _l("Coordination meeting 协调会"),
    "review": _l("Review meeting 评议会"),
}

ACCESS = {"open": _l("Open to all members"), "invited": _l("Invited participants only")}

#: Roles inside one consultation.
PARTICIPANT_ROLES = {
    "chair": _l("Chair 主持人"),
    "secretary": _l("Secretary 记录员"),
    "voter": _l("Voter 表决人"),
    "speaker": _l("Speaker (no vote) 列席发言"),
    "observer": _l("Observer 旁听"),
}

STATUSES = {
    "draft": _l("Draft"),
    "announced": _l("Announced"),
    "live": _l("Live"),
    "closed": _l("Closed"),
    "cancelled": _l("Cancelled"),
    "outcome_published": _l("Outcome published"),
    "implementing": _l("Implementing"),
    "completed": _l("Completed"),
}

#: Which transitions the chair may make by hand; later stages are set by outcomes.
TRANSITIONS = {
    "draft": {"announced", "cancelled"},
    "announced": {"live", "cancelled"},
    "live": {"closed", "cancelled"},
}


class Consultation(db.Model):
    """A matter put to consultation, from draft to completion."""

    __tablename__ = "consultation"

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(
        sa.ForeignKey("community.id"), nullable=False, index=True
    )
    title: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    description: Mapped[str] = mapped_column(sa.Text, default="", nullable=False)
    form: Mapped[str] = mapped_column(sa.String(32), default="council", nullable=False)
    access: Mapped[str] = mapped_column(sa.String(16), default="open", nullable=False)
    status: Mapped[str] = mapped_column(sa.String(24), default="draft", nullable=False)
    scheduled_at: Mapped[sa.DateTime | None] = mapped_column(sa.DateTime)
    place: Mapped[str] = mapped_column(sa.String(200), default="", nullable=False)
    cancel_reason: Mapped[str | None] = mapped_column(sa.Text)
    #: Seconders a motion needs before it can be put to a vote (附议人数).
    seconds_required: Mapped[int] = mapped_column(sa.Integer, default=1, nullable=False)
    #: Default voting rules, proposed when a vote is opened.
    default_threshold: Mapped[str] = mapped_column(sa.String(24), default="simple", nullable=False)
    default_secret: Mapped[bool] = mapped_column(sa.Boolean, default=False, nullable=False)
    default_quorum: Mapped[str | None] = mapped_column(sa.String(16))
    created_by_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"), nullable=False)
    created_at: Mapped[sa.DateTime] = mapped_column(sa.DateTime, default=utcnow, nullable=False)
    announced_at: Mapped[sa.DateTime | None] = mapped_column(sa.DateTime)
    opened_at: Mapped[sa.DateTime | None] = mapped_column(sa.DateTime)
    closed_at: Mapped[sa.DateTime | None] = mapped_column(sa.DateTime)
    #: When those who may attend were reminded of the meeting (consult/topics/reminders.py);
    #: cleared when the meeting moves to another time.
    reminded_at: Mapped[sa.DateTime | None] = mapped_column(sa.DateTime)

    community = db.relationship("Community")
    created_by = db.relationship("User")
    agenda_items = db.relationship(
        "AgendaItem", order_by="AgendaItem.position", cascade="all, delete-orphan"
    )

    __table_args__ = (
        sa.CheckConstraint("access IN ('open', 'invited')", name="access"),
        sa.CheckConstraint("seconds_required >= 0", name="seconds_required"),
        sa.Index("ix_consultation_community_status", "community_id", "status"),
    )

    @property
    def status_label(self) -> str:
        return str(STATUSES.get(self.status, self.status))

    @property
    def form_label(self) -> str:
        return str(FORMS.get(self.form, self.form))


class AgendaItem(db.Model):
    """One item of the agenda (议程)."""

    __tablename__ = "agenda_item"

    id: Mapped[int] = mapped_column(primary_key=True)
    consultation_id: Mapped[int] = mapped_column(
        sa.ForeignKey("consultation.id"), nullable=False, index=True
    )
    position: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    title: Mapped[str] = mapped_column(sa.String(200), nullable=False)


class Participant(db.Model):
    """A person's role in one consultation (chair, secretary, voter, speaker, observer)."""

    __tablename__ = "participant"

    id: Mapped[int] = mapped_column(primary_key=True)
    consultation_id: Mapped[int] = mapped_column(sa.ForeignKey("consultation.id"), nullable=False)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"), nullable=False, index=True)
    role: Mapped[str] = mapped_column(sa.String(16), nullable=False)
    invited: Mapped[bool] = mapped_column(sa.Boolean, default=True, nullable=False)
    created_at: Mapped[sa.DateTime] = mapped_column(sa.DateTime, default=utcnow, nullable=False)

    user = db.relationship("User")
    consultation = db.relationship(Consultation)

    __table_args__ = (
        sa.UniqueConstraint("consultation_id", "user_id"),
        sa.CheckConstraint(
            "role IN ('chair', 'secretary', 'voter', 'speaker', 'observer')", name="role"
        ),
    )

    @property
    def role_label(self) -> str:
        return str(PARTICIPANT_ROLES.get(self.role, self.role))

    @property
    def can_speak(self) -> bool:
        return self.role in ("chair", "secretary", "voter", "speaker")

    def to_dict(self) -> dict:
        return {
            "username": self.user.username,
            "display_name": self.user.display_name,
            "role": self.role,
        }
