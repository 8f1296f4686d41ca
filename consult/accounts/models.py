import sqlalchemy as sa
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, mapped_column

from consult.core.time import utcnow
from consult.extensions import db


class User(UserMixin, db.Model):
    """A person who can sign in. Community roles live in ``Membership``."""

    __tablename__ = "user"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(sa.String(32), unique=True, nullable=False)
    display_name: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    password_hash: Mapped[str] = mapped_column(sa.String(255), nullable=False)
    is_site_admin: Mapped[bool] = mapped_column(sa.Boolean, default=False, nullable=False)
    created_at: Mapped[sa.DateTime] = mapped_column(sa.DateTime, default=utcnow, nullable=False)
    # Bumped when the password changes, so that existing sessions end.
    session_epoch: Mapped[int] = mapped_column(sa.Integer, default=0, nullable=False)

    def get_id(self) -> str:
        return f"{self.id}:{self.session_epoch}"

    def to_dict(self) -> dict:
        return {"id": self.id, "username": self.username, "display_name": self.display_name}

    def __repr__(self) -> str:
        return f"<User {self.username}>"


class ApiToken(db.Model):
    """A bearer token for kiosks, screens and mobile clients. Only its SHA-256 is stored."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"), nullable=False, index=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True, nullable=False)
    label: Mapped[str] = mapped_column(sa.String(64), default="", nullable=False)
    created_at: Mapped[sa.DateTime] = mapped_column(sa.DateTime, default=utcnow, nullable=False)
    last_used_at: Mapped[sa.DateTime | None] = mapped_column(sa.DateTime)
    revoked_at: Mapped[sa.DateTime | None] = mapped_column(sa.DateTime)

    user = db.relationship(User)


class LoginAttempt(db.Model):
    """A failed sign-in, kept to rate-limit by account and by address."""

    __tablename__ = "login_attempt"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(sa.String(64), nullable=False, index=True)
    address: Mapped[str] = mapped_column(sa.String(64), nullable=False, index=True)
    at: Mapped[sa.DateTime] = mapped_column(sa.DateTime, default=utcnow, nullable=False)
