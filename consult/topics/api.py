"""API calls for topics, categories, attendance, written opinions and notifications."""

from flask import jsonify, request
from flask_babel import gettext as _
from flask_login import current_user

from consult.api import bp, json_body, require_user
from consult.communities.service import communities_of, get_community
from consult.consultations import service as consultations
from consult.core.payload import parse
from consult.errors import Invalid

from . import announcement, notifications, service
from .forms import (
    AcceptPayload,
    AttendancePayload,
    CategoryPayload,
    DeclinePayload,
    OpinionPayload,
    TopicPayload,
)


def _int_arg(name: str, default: int | None, low: int, high: int) -> int | None:
    raw = request.args.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        value = None
    if value is None or not low <= value <= high:
        raise Invalid(
            f"invalid_{name}",
            _("“%(name)s” must be a whole number from %(low)d to %(high)d.", name=name, low=low,
              high=high),
        )  # fmt: skip
    return value


def _topic_list(communities):
    rows = service.list_topics(
        communities,
        sort=request.args.get("sort") or "support",
        status=request.args.get("status") or None,
        limit=_int_arg("limit", 50, 1, service.MAX_PAGE),
        offset=_int_arg("offset", 0, 0, 10**9),
    )
    mine = service.supported_ids(current_user, [topic.id for topic, _count in rows])
    return [
        service.to_dict(topic, current_user, count, supported=topic.id in mine)
        for topic, count in rows
    ]


# --- topics ----------------------------------------------------------------------------------


@bp.post("/communities/<slug>/topics")
def propose_topic(slug):
    """``{title, description?, category}`` → the new topic (201)."""
    actor = require_user()
    community = get_community(slug)
    raw = json_body()
    form = parse(TopicPayload, raw)
    topic = service.propose_topic(
        actor,
        community,
        raw.get("title") if "title" in raw else None,
        form.description.data or "",
        raw.get("category"),
    )
    return jsonify(service.to_dict(topic, actor)), 201


@bp.get("/communities/<slug>/topics")
def list_community_topics(slug):
    """``?sort=support|new&status=open|accepted|declined|all&limit=&offset=``."""
    actor = require_user()
    community = get_community(slug)
    service.require_member(actor, community)
    return jsonify({"community": community.slug, "topics": _topic_list([community])})


@bp.get("/topics")
def list_my_topics():
    """Topics of every community the caller belongs to (same filters)."""
    actor = require_user()
    return jsonify({"topics": _topic_list(communities_of(actor))})


@bp.get("/topics/<int:topic_id>")
def get_topic(topic_id):
    actor = require_user()
    topic = service.get_topic(topic_id)
    service.require_view_topic(actor, topic)
    data = service.to_dict(topic, actor)
    data["supporters"] = [s.user.username for s in service.supporters(topic)]
    return jsonify(data)


@bp.post("/topics/<int:topic_id>/support")
def support_topic(topic_id):
    actor = require_user()
    topic = service.get_topic(topic_id)
    service.support_topic(actor, topic)
    return jsonify(service.to_dict(topic, actor)), 201


@bp.post("/topics/<int:topic_id>/accept")
def accept_topic(topic_id):
    """``{title?}`` → ``{topic, consultation}``: the new draft consultation, chaired by you."""
    actor = require_user()
    topic = service.get_topic(topic_id)
    form = parse(AcceptPayload, json_body() if request.data else {})
    consultation = service.accept_topic(actor, topic, form.title.data or None)
    return jsonify(
        {
            "topic": service.to_dict(topic, actor),
            "consultation": consultations.to_dict(consultation, with_participants=True),
        }
    ), 201


@bp.post("/topics/<int:topic_id>/decline")
def decline_topic(topic_id):
    """``{reason}`` (required)."""
    actor = require_user()
    topic = service.get_topic(topic_id)
    form = parse(DeclinePayload, json_body())
    service.decline_topic(actor, topic, form.reason.data)
    return jsonify(service.to_dict(topic, actor))


# --- categories -------------------------------------------------------------------------------


@bp.get("/communities/<slug>/categories")
def list_categories(slug):
    """``?include_retired=1`` lists retired categories too."""
    actor = require_user()
    community = get_community(slug)
    service.require_member(actor, community)
    everything = request.args.get("include_retired") in ("1", "true", "yes")
    return jsonify({"categories": [c.to_dict() for c in service.categories(community, everything)]})


@bp.post("/communities/<slug>/categories")
def add_category(slug):
    """``{name}`` (community admin) → the category (201)."""
    actor = require_user()
    community = get_community(slug)
    raw = json_body()
    parse(CategoryPayload, raw)
    category = service.add_category(actor, community, raw.get("name"))
    return jsonify(category.to_dict()), 201


@bp.patch("/communities/<slug>/categories/<int:category_id>")
def update_category(slug, category_id):
    """``{name?, retired?}``: rename, retire (``true``) or bring back (``false``)."""
    actor = require_user()
    community = get_community(slug)
    category = service.get_category(community, category_id)
    raw = json_body()
    parse(CategoryPayload, raw)
    service.update_category(actor, category, name=raw.get("name"), retired=raw.get("retired"))
    return jsonify(category.to_dict())


# --- attendance and written opinions ----------------------------------------------------------


@bp.get("/consultations/<int:consultation_id>/attendance")
def get_attendance(consultation_id):
    consultation = consultations.get_consultation(consultation_id)
    consultations.require_view(current_user, consultation)
    return jsonify(
        {
            "consultation_id": consultation.id,
            "counts": announcement.attendance_counts(consultation),
            "mine": announcement.my_attendance(current_user, consultation),
            **_roll(current_user, consultation),
        }
    )


def _roll(viewer, consultation) -> dict:
    """``roll`` (who answered what) for the chair and the community's admins only."""
    roll = announcement.attendance_roll(viewer, consultation)
    return {} if roll is None else {"roll": roll}


@bp.post("/consultations/<int:consultation_id>/attendance")
def answer_attendance(consultation_id):
    """``{answer: yes|no|maybe}`` → ``{counts, mine}``."""
    actor = require_user()
    consultation = consultations.get_consultation(consultation_id)
    form = parse(AttendancePayload, json_body())
    result = announcement.answer_attendance(actor, consultation, form.answer.data)
    return jsonify({"consultation_id": consultation.id, **result})


@bp.get("/consultations/<int:consultation_id>/written-opinions")
def list_written_opinions(consultation_id):
    consultation = consultations.get_consultation(consultation_id)
    consultations.require_view(current_user, consultation)
    return jsonify(
        {
            "consultation_id": consultation.id,
            "written_opinions": [o.to_dict() for o in announcement.written_opinions(consultation)],
        }
    )


@bp.post("/consultations/<int:consultation_id>/written-opinions")
def submit_written_opinion(consultation_id):
    """``{text}`` (≤ 5,000): create (201) or replace (200) my written opinion."""
    actor = require_user()
    consultation = consultations.get_consultation(consultation_id)
    raw = json_body()
    parse(OpinionPayload, raw)
    opinion, created = announcement.submit_written_opinion(actor, consultation, raw.get("text"))
    return jsonify(opinion.to_dict()), 201 if created else 200


# --- notifications ---------------------------------------------------------------------------


@bp.get("/notifications")
def list_notifications():
    """Newest first; ``?before=<id>&limit=`` pages back. → ``{notifications, unread}``."""
    actor = require_user()
    items = notifications.notifications_of(
        actor,
        before=_int_arg("before", None, 1, 2**63 - 1),
        limit=_int_arg("limit", 50, 1, 200),
    )
    return jsonify(
        {
            "notifications": [notifications.to_dict(n) for n in items],
            "unread": notifications.unread_count(actor),
        }
    )


@bp.post("/notifications/read")
def mark_notifications_read():
    """``{ids?: [int]}``: mark those (or, without ``ids``, all) as read. → ``{marked, unread}``."""
    actor = require_user()
    raw = json_body() if request.data else {}
    ids = raw.get("ids")
    if ids is not None:
        if (
            not isinstance(ids, list)
            or len(ids) > 1000
            or not all(
                isinstance(i, int) and not isinstance(i, bool) and 0 < i < 2**63 for i in ids
            )
        ):
            raise Invalid("invalid_ids", _("“ids” is a list of notification numbers."))
    marked = notifications.mark_read(actor, ids)
    return jsonify({"marked": marked, "unread": notifications.unread_count(actor)})
