import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from consult.core.time import DEFAULT_TZ, utcnow
from consult.extensions import db

#: Roles within a community: a resident (居民), a committee member who may chair (主持人),
#: and residents' committee staff who manage members (社区管理员).
COMMUNITY_ROLES = ("resident", "chair", "admin")


class Community(db.Model):
    """A residential community (社区) with its own members and notice page."""

    __tablename__ = "community"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(sa.String(40), unique=True, nullable=False)
    name: Mapped[str] = mapped_column(sa.String(100), nullable=False)
    timezone: Mapped[str] = mapped_column(sa.String(64), default=DEFAULT_TZ, nullable=False)
    created_at: Mapped[sa.DateTime] = mapped_column(sa.DateTime, default=utcnow, nullable=False)

    def to_dict(self) -> dict:
        return {"slug": self.slug, "name": self.name, "timezone": self.timezone}


class Membership(db.Model):
    """A user's membership of a community, with a role."""

    __tablename__ = "membership"

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(sa.ForeignKey("community.id"), nullable=False)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"), nullable=False, index=True)
    role: Mapped[str] = mapped_column(sa.String(16), default="resident", nullable=False)
    created_at: Mapped[sa.DateTime] = mapped_column(sa.DateTime, default=utcnow, nullable=False)

    community = db.relationship(Community)
    user = db.relationship("User")

    __table_args__ = (
        sa.UniqueConstraint("community_id", "user_id"),
        sa.CheckConstraint("role IN ('resident', 'chair', 'admin')", name="role"),
    )
