"""Topic collection (议题征集): categories, proposing, supporting, accepting, declining.

Topics are for the members of a community: reading, proposing and supporting all need a
membership. The proposer does not support their own topic (support comes from others, as
SPEC 8 says); the chair of the community (a chair or a community admin) accepts a topic into
a draft consultation or declines it with a reason the proposer sees.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.orm import selectinload

from consult import audit
from consult.communities.models import Community
from consult.communities.service import can_chair, is_member, require_admin
from consult.consultations import service as consultations
from consult.consultations.models import Consultation
from consult.core.database import lock_for_write
from consult.core.payload import clean_text
from consult.core.time import isoformat, utcnow
from consult.errors import Conflict, Forbidden, Invalid, NotFound
from consult.extensions import db

from .models import (
    CATEGORY_NAME_MAX,
    DESCRIPTION_MAX,
    REASON_MAX,
    TITLE_MAX,
    TOPIC_STATUSES,
    Category,
    Topic,
    TopicSupport,
)

SORTS = ("support", "new")
MAX_PAGE = 200


# --- shared -------------------------------------------------------------------------------


def require_member(user, community: Community) -> None:
    if not getattr(user, "is_authenticated", False):
        from consult.errors import Unauthorized

        raise Unauthorized("unauthorized", _("Sign in to see the topics of your community."))
    if not is_member(user, community):
        raise Forbidden("not_member", _("Topics are for the members of this community."))


# --- categories ---------------------------------------------------------------------------


def categories(community: Community, include_retired: bool = False) -> list[Category]:
    query = sa.select(Category).where(Category.community_id == community.id)
    if not include_retired:
        query = query.where(Category.retired.is_(False))
    return list(db.session.scalars(query.order_by(Category.name, Category.id)))


def get_category(community: Community, category_id) -> Category:
    try:
        key = int(category_id)
    except (TypeError, ValueError):
        key = None
    category = db.session.get(Category, key) if key and 0 < key < 2**63 else None
    if category is None or category.community_id != community.id:
        raise NotFound("category_not_found", _("No such category in this community."))
    return category


def _check_name_free(community: Community, name: str, exclude_id: int | None = None) -> None:
    query = sa.select(Category.id).where(
        Category.community_id == community.id, sa.func.lower(Category.name) == name.lower()
    )
    if exclude_id is not None:
        query = query.where(Category.id != exclude_id)
    if db.session.scalar(query) is not None:
        raise Conflict("category_exists", _("A category with this name exists already."))


def add_category(actor, community: Community, name) -> Category:
    require_admin(actor, community)
    name = clean_text(name, "name", CATEGORY_NAME_MAX, required=True)
    lock_for_write()
    _check_name_free(community, name)
    category = Category(community_id=community.id, name=name)
    db.session.add(category)
    db.session.flush()
    audit.record(actor, "topic_category.created", category, name=name)
    db.session.commit()
    return category


def update_category(actor, category: Category, name=None, retired=None) -> Category:
    """Rename a category and/or retire it (or bring it back)."""
    require_admin(actor, category.community)
    changes = {}
    if name is not None:
        name = clean_text(name, "name", CATEGORY_NAME_MAX, required=True)
    if retired is not None and not isinstance(retired, bool):
        raise Invalid("invalid_type", _("Field “%(name)s” must be true or false.", name="retired"))
    lock_for_write()
    if name is not None and name != category.name:
        _check_name_free(category.community, name, exclude_id=category.id)
        changes["name"] = [category.name, name]
        category.name = name
    if retired is not None and retired != category.retired:
        changes["retired"] = retired
        category.retired = retired
    if changes:
        audit.record(actor, "topic_category.updated", category, **changes)
    db.session.commit()
    return category


def resolve_category(community: Community, value) -> Category | None:
    """The active category a new topic is filed under: an id, or a name (case-insensitive).

    A community with categories needs one; a community without any takes topics unfiled.
    """
    active = categories(community)
    if value is None or value == "":
        if active:
            raise Invalid("category_required", _("Choose a category for the topic."))
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise Invalid("invalid_type", _("Field “%(name)s” must be text.", name="category"))
    text = str(value).strip()
    for category in active:
        if str(category.id) == text:
            return category
    if isinstance(value, str):
        for category in active:
            if category.name.lower() == text.lower():
                return category
    raise Invalid("unknown_category", _("There is no such category in this community."))


# --- topics -------------------------------------------------------------------------------


def get_topic(topic_id) -> Topic:
    try:
        key = int(topic_id)
    except (TypeError, ValueError):
        key = None
    topic = db.session.get(Topic, key) if key and 0 < key < 2**63 else None
    if topic is None:
        raise NotFound("topic_not_found", _("No such topic."))
    return topic


def require_view_topic(user, topic: Topic) -> None:
    require_member(user, topic.community)


def propose_topic(actor, community: Community, title, description="", category=None) -> Topic:
    """A member proposes a topic (提出议题)."""
    require_member(actor, community)
    title = clean_text(title, "title", TITLE_MAX, required=True)
    description = clean_text(description, "description", DESCRIPTION_MAX)
    found = resolve_category(community, category)
    topic = Topic(
        community_id=community.id,
        proposer_id=actor.id,
        title=title,
        description=description,
        category_id=found.id if found else None,
        status="open",
    )
    db.session.add(topic)
    db.session.flush()
    audit.record(actor, "topic.proposed", topic, title=title)
    db.session.commit()
    return topic


def support_count(topic: Topic) -> int:
    return db.session.scalar(
        sa.select(sa.func.count())
        .select_from(TopicSupport)
        .where(TopicSupport.topic_id == topic.id)
    )


def has_supported(user, topic: Topic) -> bool:
    if not getattr(user, "is_authenticated", False):
        return False
    return (
        db.session.scalar(
            sa.select(TopicSupport.id).where(
                TopicSupport.topic_id == topic.id, TopicSupport.user_id == user.id
            )
        )
        is not None
    )


def supporters(topic: Topic) -> list[TopicSupport]:
    return list(
        db.session.scalars(
            sa.select(TopicSupport)
            .where(TopicSupport.topic_id == topic.id)
            .order_by(TopicSupport.created_at, TopicSupport.id)
        )
    )


def support_topic(actor, topic: Topic) -> int:
    """Support (附议) a topic, once. Returns the new number of supporters."""
    require_member(actor, topic.community)
    if topic.proposer_id == actor.id:
        raise Forbidden(
            "own_topic", _("You proposed this topic; its support comes from other members.")
        )
    lock_for_write()
    db.session.refresh(topic)
    if topic.status != "open":
        raise Conflict("topic_not_open", _("This topic has been decided; it takes no support."))
    if has_supported(actor, topic):
        raise Conflict("already_supported", _("You already support this topic."))
    support = TopicSupport(topic_id=topic.id, user_id=actor.id)
    db.session.add(support)
    try:
        db.session.flush()
    except sa.exc.IntegrityError as exc:  # a concurrent second click on PostgreSQL
        db.session.rollback()
        raise Conflict("already_supported", _("You already support this topic.")) from exc
    audit.record(actor, "topic.supported", topic)
    db.session.commit()
    return support_count(topic)


def _require_decider(actor, topic: Topic) -> None:
    if not can_chair(actor, topic.community):
        raise Forbidden(
            "not_chair", _("Only a chair or an admin of this community may decide on topics.")
        )


def _require_open(topic: Topic) -> None:
    if topic.status != "open":
        raise Conflict(
            "topic_not_open",
            _("This topic was decided already: %(status)s.", status=topic.status_label),
        )


def accept_topic(actor, topic: Topic, title=None) -> Consultation:
    """Turn the topic into a draft consultation chaired by ``actor``; the topic links to it."""
    _require_decider(actor, topic)
    title = clean_text(title, "title", 200) or topic.title
    lock_for_write()
    db.session.refresh(topic)
    _require_open(topic)
    # The topic is marked in the same commit that creates the consultation; the link follows.
    topic.status = "accepted"
    topic.decided_by_id = actor.id
    topic.decided_at = utcnow()
    try:
        consultation = consultations.create_consultation(
            actor, topic.community, title=title, description=topic.description
        )
    except Exception:
        db.session.rollback()
        raise
    topic.consultation_id = consultation.id
    audit.record(actor, "topic.accepted", topic, consultation_id=consultation.id)
    db.session.commit()
    from . import notifications

    notifications.notify_topic_decided(actor, topic)
    return consultation


def decline_topic(actor, topic: Topic, reason) -> Topic:
    """Decline the topic with a reason the proposer (and every member) sees."""
    _require_decider(actor, topic)
    reason = clean_text(reason, "reason", REASON_MAX)
    if not reason:
        raise Invalid("reason_required", _("Say why the topic is declined; the proposer sees it."))
    lock_for_write()
    db.session.refresh(topic)
    _require_open(topic)
    topic.status = "declined"
    topic.decline_reason = reason
    topic.decided_by_id = actor.id
    topic.decided_at = utcnow()
    audit.record(actor, "topic.declined", topic, reason=reason)
    db.session.commit()
    from . import notifications

    notifications.notify_topic_decided(actor, topic)
    return topic


def list_topics(
    communities: list[Community],
    sort: str = "support",
    status: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[tuple[Topic, int]]:
    """Topics of ``communities`` with their number of supporters."""
    if sort not in SORTS:
        raise Invalid("invalid_sort", _("Sort by “support” or “new”."))
    if status not in (None, "", "all") and status not in TOPIC_STATUSES:
        raise Invalid("invalid_status", _("Status is open, accepted, declined or all."))
    if not communities:
        return []
    counts = (
        sa.select(TopicSupport.topic_id, sa.func.count().label("n"))
        .group_by(TopicSupport.topic_id)
        .subquery()
    )
    n = sa.func.coalesce(counts.c.n, 0)
    query = (
        sa.select(Topic, n)
        .outerjoin(counts, counts.c.topic_id == Topic.id)
        .where(Topic.community_id.in_([c.id for c in communities]))
        .options(
            selectinload(Topic.community),
            selectinload(Topic.proposer),
            selectinload(Topic.category),
            selectinload(Topic.consultation),
            selectinload(Topic.decided_by),
        )
    )
    if status and status != "all":
        query = query.where(Topic.status == status)
    if sort == "support":
        query = query.order_by(n.desc(), Topic.created_at.desc(), Topic.id.desc())
    else:
        query = query.order_by(Topic.created_at.desc(), Topic.id.desc())
    limit = max(1, min(int(limit), MAX_PAGE))
    query = query.limit(limit).offset(max(0, int(offset)))
    return [(topic, count) for topic, count in db.session.execute(query).all()]


def supported_ids(user, topic_ids) -> set[int]:
    """Which of ``topic_ids`` the user supports (one query, for lists)."""
    if not getattr(user, "is_authenticated", False) or not topic_ids:
        return set()
    return set(
        db.session.scalars(
            sa.select(TopicSupport.topic_id).where(
                TopicSupport.user_id == user.id, TopicSupport.topic_id.in_(list(topic_ids))
            )
        )
    )


def topic_for_consultation(consultation: Consultation) -> Topic | None:
    return db.session.scalar(sa.select(Topic).where(Topic.consultation_id == consultation.id))


def to_dict(
    topic: Topic, viewer=None, count: int | None = None, supported: bool | None = None
) -> dict:
    consultation = topic.consultation
    return {
        "id": topic.id,
        "community": topic.community.slug,
        "title": topic.title,
        "description": topic.description,
        "category": topic.category.to_dict() if topic.category else None,
        "status": topic.status,
        "proposer": {
            "username": topic.proposer.username,
            "display_name": topic.proposer.display_name,
        },
        "supports": support_count(topic) if count is None else count,
        "supported_by_me": has_supported(viewer, topic) if supported is None else supported,
        "decline_reason": topic.decline_reason,
        "consultation": (
            {"id": consultation.id, "title": consultation.title, "status": consultation.status}
            if consultation
            else None
        ),
        "decided_by": topic.decided_by.username if topic.decided_by else None,
        "decided_at": isoformat(topic.decided_at),
        "created_at": isoformat(topic.created_at),
    }
