"""Community operations: create communities, register members, set roles, import a CSV."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field

import sqlalchemy as sa
from flask_babel import gettext as _

from consult import audit
from consult.accounts.models import User
from consult.accounts.service import create_user, find_user
from consult.core.database import lock_for_write, remember, remembered
from consult.core.payload import check_text
from consult.core.time import zone
from consult.errors import Conflict, DomainError, Forbidden, Invalid, NotFound
from consult.extensions import db

from .models import COMMUNITY_ROLES, Community, Membership


def get_community(slug: str) -> Community:
    community = db.session.scalar(sa.select(Community).where(Community.slug == slug))
    if community is None:
        raise NotFound("community_not_found", _("No such community."))
    return community


_MEMBERSHIP = sa.select(Membership).where(
    Membership.community_id == sa.bindparam("community"),
    Membership.user_id == sa.bindparam("user"),
)


def remember_membership(community: Community, user_id: int, found) -> None:
    """Keep ``community`` and ``user_id``'s membership of it (``found``), read elsewhere, as
    :func:`membership` would have read them."""
    remember(("community", community.id), community)  # held: the session holds it weakly
    remember(("membership", community.id, user_id), found)


def membership(user, community: Community) -> Membership | None:
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    params = {"community": community.id, "user": user.id}
    return remembered(
        ("membership", community.id, user.id), lambda: db.session.scalar(_MEMBERSHIP, params)
    )


def community_role(user, community: Community) -> str | None:
    member = membership(user, community)
    return member.role if member else None


def is_member(user, community: Community) -> bool:
    return bool(getattr(user, "is_site_admin", False)) or membership(user, community) is not None


def is_community_admin(user, community: Community) -> bool:
    return bool(getattr(user, "is_site_admin", False)) or community_role(user, community) == "admin"


def can_chair(user, community: Community) -> bool:
    """Committee members (chair) and community admins may create and chair consultations."""
    return is_community_admin(user, community) or community_role(user, community) == "chair"


def require_admin(user, community: Community) -> None:
    if not is_community_admin(user, community):
        raise Forbidden("not_community_admin", _("Only a community admin may do this."))


def communities_of(user) -> list[Community]:
    if not getattr(user, "is_authenticated", False):
        return []
    return list(
        db.session.scalars(
            sa.select(Community)
            .join(Membership)
            .where(Membership.user_id == user.id)
            .order_by(Community.name)
        )
    )


def create_community(actor, slug: str, name: str, timezone: str = "Asia/Shanghai") -> Community:
    if not getattr(actor, "is_site_admin", False):
        raise Forbidden("not_site_admin", _("Only a site admin may create communities."))
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]{1,39}", slug or ""):
        raise Invalid("invalid_slug", _("Use 2–40 lower-case letters, digits or dashes."))
    if not (name or "").strip() or len(name) > 100:
        raise Invalid("invalid_name", _("The name must be 1–100 characters."))
    check_text(name)
    if zone(timezone).key != timezone:
        raise Invalid("invalid_timezone", _("Unknown time zone."))
    if db.session.scalar(sa.select(Community).where(Community.slug == slug)):
        raise Conflict("slug_taken", _("That short name is already used."))
    community = Community(slug=slug, name=check_text(name.strip()), timezone=timezone)
    db.session.add(community)
    db.session.flush()
    audit.record(actor, "community.created", community, slug=slug)
    db.session.commit()
    return community


def _check_role(role: str) -> str:
    if role not in COMMUNITY_ROLES:
        raise Invalid("invalid_role", _("Unknown role: use resident, chair or admin."))
    return role


def _add_member(actor, community, username, display_name, password, role) -> Membership:
    role = _check_role(role or "resident")
    user = find_user(username) if isinstance(username, str) else None
    if user is None:
        if not password:
            raise Invalid(
                "password_required", _("A new resident needs a password of 8 to 128 characters.")
            )
        user = create_user(username, display_name or username, password, actor=actor)
    elif password:
        # A password means "register a new account": never take over someone else's.
        raise Conflict("username_taken", _("That username is already taken."))
    elif membership(user, community) is not None:
        raise Conflict("already_member", _("This person is already a member."))
    member = Membership(community_id=community.id, user_id=user.id, role=role)
    db.session.add(member)
    db.session.flush()
    audit.record(actor, "membership.created", member, username=user.username, role=role)
    return member


def add_member(actor, community: Community, username, display_name=None, password=None,
               role="resident") -> Membership:  # fmt: skip
    """Register a resident (a new account) or add an existing account to the community."""
    require_admin(actor, community)
    try:
        member = _add_member(actor, community, username, display_name, password, role)
        db.session.commit()
    except DomainError:
        db.session.rollback()
        raise
    return member


def set_role(actor, community: Community, username: str, role: str) -> Membership:
    require_admin(actor, community)
    _check_role(role)
    user = find_user(username)
    member = membership(user, community) if user else None
    if member is None:
        raise NotFound("member_not_found", _("No such member."))
    if member.role == "admin" and role != "admin":
        admins = db.session.scalar(
            sa.select(sa.func.count())
            .select_from(Membership)
            .where(Membership.community_id == community.id, Membership.role == "admin")
        )
        if admins <= 1:
            raise Conflict("last_admin", _("A community needs at least one admin."))
    old = member.role
    member.role = role
    audit.record(actor, "membership.role_changed", member, username=username, old=old, new=role)
    db.session.commit()
    return member


def members(community: Community) -> list[tuple[Membership, User]]:
    return list(
        db.session.execute(
            sa.select(Membership, User)
            .join(User, Membership.user_id == User.id)
            .where(Membership.community_id == community.id)
            .order_by(User.username)
        ).all()
    )


@dataclass
class ImportReport:
    added: list[str] = field(default_factory=list)
    refused: list[dict] = field(default_factory=list)


CSV_COLUMNS = ("username", "display_name", "password", "role")
MAX_IMPORT_ROWS = 5000


def import_members(actor, community: Community, data: bytes) -> ImportReport:
    """Import residents from CSV (``username,display_name,password[,role]``, header first).

    Each row is taken or refused on its own; the report says which and why.
    """
    require_admin(actor, community)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise Invalid("invalid_csv", _("The file is not UTF-8 text.")) from exc
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    if not {"username", "display_name", "password"} <= set(header):
        raise Invalid(
            "invalid_csv",
            _("The first line must name the columns: username, display_name, password, role."),
        )
    reader.fieldnames = header
    # One outer transaction around the per-row savepoints. (On SQLite a savepoint opened
    # outside a transaction would start one, and releasing it would commit the row at once.)
    lock_for_write()
    report = ImportReport()
    rows = 0
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            db.session.rollback()
            raise Invalid(
                "invalid_csv",
                # The reader counts a line only once it has read it whole.
                _("Line %(line)d of the file cannot be read.", line=reader.line_num + 1),
            ) from exc
        line = reader.line_num  # the file's own line number, blank lines included
        rows += 1
        if rows > MAX_IMPORT_ROWS:
            report.refused.append(
                {"line": line, "username": "", "code": "too_many_rows",
                 "message": _("Only %(n)d rows are read per file.", n=MAX_IMPORT_ROWS)}
            )  # fmt: skip
            break
        username = (row.get("username") or "").strip()
        savepoint = db.session.begin_nested()
        try:
            if None in row:
                raise Invalid("invalid_row", _("The row has more columns than the header."))
            _add_member(
                actor,
                community,
                username,
                (row.get("display_name") or "").strip(),
                row.get("password") or "",
                (row.get("role") or "resident").strip() or "resident",
            )
            savepoint.commit()
            report.added.append(username)
        except DomainError as error:
            savepoint.rollback()
            report.refused.append(
                {"line": line, "username": username, "code": error.code, "message": error.message}
            )
    audit.record(
        actor, "membership.imported", community,
        added=len(report.added), refused=len(report.refused),
    )  # fmt: skip
    db.session.commit()
    return report
