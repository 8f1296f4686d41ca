"""The room over HTTP: the transcript page by page, posting (for terminals without a
socket), the room's state and the minority opinions recorded from the floor."""

from flask import jsonify, request

from consult.api import bp, json_body, require_user
from consult.consultations.service import get_consultation
from consult.core.payload import parse

from . import service
from .forms import MessageBody, MessagesQuery


def _readable(consultation_id):
    actor = require_user()
    consultation = get_consultation(consultation_id)
    service.require_read(actor, consultation)
    return actor, consultation


@bp.get("/consultations/<int:consultation_id>/messages")
def room_messages(consultation_id):
    """``?after=<id>&limit=<n>``: the messages with an id greater than ``after``, oldest
    first (``id`` is the room's sequence number). ``last_seq`` is the id to ask after next."""
    actor, consultation = _readable(consultation_id)
    query = parse(MessagesQuery, request.args.to_dict())
    after = query.after.data or 0
    limit = query.limit.data or service.HISTORY_LIMIT
    messages = service.messages_after(consultation, after, actor, limit + 1)
    has_more = len(messages) > limit
    messages = messages[:limit]
    return jsonify(
        {
            "messages": messages,
            "last_seq": messages[-1]["seq"] if messages else after,
            "room_last_seq": service.room_state(consultation).last_seq or 0,
            "has_more": has_more,
        }
    )


@bp.post("/consultations/<int:consultation_id>/messages")
def room_post_message(consultation_id):
    """``{body, client_id?}`` → 201 ``{message}`` (200 for a resend of a stored one)."""
    actor = require_user()
    consultation = get_consultation(consultation_id)
    form = parse(MessageBody, json_body())
    message = service.post_message(actor, consultation, form.body.data or "", form.client_id.data)
    duplicate = bool(getattr(message, "duplicate", False))
    body = {
        "message": service.message_for(message, actor, consultation),
        "duplicate": duplicate,
    }
    return jsonify(body), 200 if duplicate else 201


@bp.get("/consultations/<int:consultation_id>/room")
def room_snapshot(consultation_id):
    """The room now: participants, presence with raised hands, the floor, ``me``."""
    actor, consultation = _readable(consultation_id)
    return jsonify(service.snapshot(actor, consultation))


@bp.get("/consultations/<int:consultation_id>/floor-opinions")
def room_floor_opinions(consultation_id):
    """Minority opinions recorded from the floor; ``?motion_id=`` filters."""
    _actor, consultation = _readable(consultation_id)
    motion_id = request.args.get("motion_id", type=int)
    return jsonify({"opinions": service.floor_opinions(consultation, motion_id)})
