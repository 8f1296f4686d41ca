"""The live room's record: messages in a per-room sequence, the floor, the speaker queue
(发言排队), mutes, visits (attendance for the minutes) and minority opinions recorded from
the floor (少数意见)."""

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from consult.core.time import utcnow
from consult.extensions import db

MESSAGE_KINDS = ("message", "system", "announcement")
FLOOR_MODES = ("open", "moderated")


class RoomState(db.Model):
    """One row per room: the message counter and the floor.

    ``last_seq`` is the room's own sequence. It is advanced under the write lock in the
    transaction that stores the message, so sequence order is commit order: a client that
    has seen message ``n`` has seen every message before it.
    """

    __tablename__ = "room_state"

    consultation_id: Mapped[int] = mapped_column(sa.ForeignKey("consultation.id"), primary_key=True)
    last_seq: Mapped[int] = mapped_column(sa.Integer, default=0, nullable=False)
    #: ``open``: every participant who may speak posts; ``moderated``: only the holder of
    #: the floor and the chair.
    floor_mode: Mapped[str] = mapped_column(sa.String(16), default="open", nullable=False)
    floor_holder_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    floor_given_at: Mapped[sa.DateTime | None] = mapped_column(sa.DateTime)
    #: The end of the holder's speaking time, if the chair set one.
    floor_until: Mapped[sa.DateTime | None] = mapped_column(sa.DateTime)
    updated_at: Mapped[sa.DateTime] = mapped_column(
        sa.DateTime, default=utcnow, onupdate=utcnow, nullable=False
    )

    floor_holder = db.relationship("User")

    __table_args__ = (
        sa.CheckConstraint("floor_mode IN ('open', 'moderated')", name="floor_mode"),
        sa.CheckConstraint("last_seq >= 0", name="last_seq"),
    )


class Message(db.Model):
    """A line of the discussion: a participant's message, a chair's announcement, or a
    system line (``meta`` holds its key and parameters so it reads in each viewer's
    language). Hidden messages stay in the record, marked."""

    __tablename__ = "room_message"

    id: Mapped[int] = mapped_column(primary_key=True)
    consultation_id: Mapped[int] = mapped_column(sa.ForeignKey("consultation.id"), nullable=False)
    #: The room's own sequence number: what clients see as the message id.
    seq: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    author_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    kind: Mapped[str] = mapped_column(sa.String(16), default="message", nullable=False)
    body: Mapped[str] = mapped_column(sa.Text, default="", nullable=False)
    meta: Mapped[dict | None] = mapped_column(sa.JSON)
    #: Made by the client; a resend with the same id is stored once.
    client_id: Mapped[str | None] = mapped_column(sa.String(64))
    #: For system lines that must appear once (``vote:12:opened``).
    event_key: Mapped[str | None] = mapped_column(sa.String(120))
    hidden: Mapped[bool] = mapped_column(sa.Boolean, default=False, nullable=False)
    hidden_reason: Mapped[str | None] = mapped_column(sa.Text)
    hidden_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    hidden_at: Mapped[sa.DateTime | None] = mapped_column(sa.DateTime)
    created_at: Mapped[sa.DateTime] = mapped_column(sa.DateTime, default=utcnow, nullable=False)

    author = db.relationship("User", foreign_keys=[author_id])
    hidden_by = db.relationship("User", foreign_keys=[hidden_by_id])

    __table_args__ = (
        sa.UniqueConstraint("consultation_id", "seq"),
        sa.UniqueConstraint("consultation_id", "author_id", "client_id"),
        sa.UniqueConstraint("consultation_id", "event_key"),
        sa.CheckConstraint("kind IN ('message', 'system', 'announcement')", name="kind"),
        sa.CheckConstraint("seq > 0", name="seq"),
        sa.CheckConstraint("kind = 'system' OR author_id IS NOT NULL", name="author"),
        sa.Index("ix_room_message_author_created", "author_id", "created_at"),
    )


class RoomMute(db.Model):
    """A participant the chair has muted in one room."""

    __tablename__ = "room_mute"

    id: Mapped[int] = mapped_column(primary_key=True)
    consultation_id: Mapped[int] = mapped_column(sa.ForeignKey("consultation.id"), nullable=False)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"), nullable=False)
    muted_by_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"), nullable=False)
    created_at: Mapped[sa.DateTime] = mapped_column(sa.DateTime, default=utcnow, nullable=False)

    __table_args__ = (sa.UniqueConstraint("consultation_id", "user_id"),)


class HandRaise(db.Model):
    """A raised hand in the speaker queue (发言排队); the queue is ordered by ``raised_at``.

    A hand is lowered by its owner, or when the chair gives that person the floor
    (``outcome`` says which). At most one hand per person is up at a time.
    """

    __tablename__ = "room_hand"

    id: Mapped[int] = mapped_column(primary_key=True)
    consultation_id: Mapped[int] = mapped_column(sa.ForeignKey("consultation.id"), nullable=False)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"), nullable=False)
    raised_at: Mapped[sa.DateTime] = mapped_column(sa.DateTime, default=utcnow, nullable=False)
    lowered_at: Mapped[sa.DateTime | None] = mapped_column(sa.DateTime)
    outcome: Mapped[str | None] = mapped_column(sa.String(16))

    user = db.relationship("User")

    __table_args__ = (
        sa.Index(
            "uq_room_hand_raised",
            "consultation_id",
            "user_id",
            unique=True,
            sqlite_where=sa.text("lowered_at IS NULL"),
            postgresql_where=sa.text("lowered_at IS NULL"),
        ),
        sa.Index("ix_room_hand_queue", "consultation_id", "lowered_at", "raised_at"),
        sa.CheckConstraint("outcome IN ('lowered', 'floor')", name="outcome"),
    )


class RoomVisit(db.Model):
    """One connection's stay in a room: presence while ``left_at`` is NULL, attendance for
    the minutes afterwards. ``server`` names the process that holds the connection."""

    __tablename__ = "room_visit"

    id: Mapped[int] = mapped_column(primary_key=True)
    consultation_id: Mapped[int] = mapped_column(sa.ForeignKey("consultation.id"), nullable=False)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"), nullable=False)
    sid: Mapped[str | None] = mapped_column(sa.String(64), index=True)
    server: Mapped[str] = mapped_column(sa.String(32), default="", nullable=False)
    joined_at: Mapped[sa.DateTime] = mapped_column(sa.DateTime, default=utcnow, nullable=False)
    left_at: Mapped[sa.DateTime | None] = mapped_column(sa.DateTime)

    user = db.relationship("User")

    __table_args__ = (sa.Index("ix_room_visit_room_open", "consultation_id", "left_at"),)


class FloorOpinion(db.Model):
    """A minority opinion recorded from the floor (少数意见) by the chair or the secretary:
    a marked message, or a note. Append-only; the outcome takes it over.

    ``motion_id`` is a plain integer on purpose: motions are another feature, which reads
    these rows by it.
    """

    __tablename__ = "room_floor_opinion"

    id: Mapped[int] = mapped_column(primary_key=True)
    consultation_id: Mapped[int] = mapped_column(
        sa.ForeignKey("consultation.id"), nullable=False, index=True
    )
    message_id: Mapped[int | None] = mapped_column(sa.ForeignKey("room_message.id"))
    #: Whose opinion it is, when known.
    author_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    text: Mapped[str] = mapped_column(sa.Text, nullable=False)
    recorded_by_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"), nullable=False)
    motion_id: Mapped[int | None] = mapped_column(sa.Integer)
    created_at: Mapped[sa.DateTime] = mapped_column(sa.DateTime, default=utcnow, nullable=False)

    author = db.relationship("User", foreign_keys=[author_id])
    recorded_by = db.relationship("User", foreign_keys=[recorded_by_id])
    message = db.relationship(Message)
