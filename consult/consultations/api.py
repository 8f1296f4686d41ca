from flask import jsonify
from flask_babel import gettext as _
from wtforms import FieldList, IntegerField, StringField
from wtforms.validators import InputRequired, Length, Optional

from consult.api import bp, json_body, require_user
from consult.communities.service import get_community
from consult.core.forms import Form
from consult.core.payload import parse
from consult.core.time import to_storage
from consult.errors import Invalid

from . import service


class ConsultationPayload(Form):
    community = StringField(validators=[Optional(), Length(max=40)])
    title = StringField(validators=[Optional(), Length(max=200)])
    description = StringField(validators=[Optional(), Length(max=50_000)])
    form = StringField(validators=[Optional(), Length(max=32)])
    access = StringField(validators=[Optional(), Length(max=16)])
    place = StringField(validators=[Optional(), Length(max=200)])
    scheduled_at = StringField(validators=[Optional(), Length(max=40)])
    agenda = FieldList(
        StringField(validators=[Length(max=200)]), max_entries=service.MAX_AGENDA_ITEMS
    )
    seconds_required = IntegerField(validators=[Optional()])
    default_threshold = StringField(validators=[Optional(), Length(max=24)])


class ParticipantPayload(Form):
    username = StringField(validators=[InputRequired(), Length(max=64)])
    role = StringField(validators=[InputRequired(), Length(max=16)])


class TransitionPayload(Form):
    to = StringField(validators=[InputRequired(), Length(max=32)])
    reason = StringField(validators=[Optional(), Length(max=2000)])


def _parse(raw: dict) -> ConsultationPayload:
    # FieldList drops entries past max_entries silently: refuse a longer agenda instead.
    agenda = raw.get("agenda")
    if isinstance(agenda, list) and len(agenda) > service.MAX_AGENDA_ITEMS:
        raise Invalid(
            "invalid_agenda", _("At most %(n)d agenda items.", n=service.MAX_AGENDA_ITEMS)
        )
    return parse(ConsultationPayload, raw)


def _fields(raw: dict, form: ConsultationPayload, tz: str) -> dict:
    """Only the fields the caller sent, converted for the service."""
    from datetime import datetime

    fields = {}
    for name in ("title", "description", "form", "access", "place", "default_threshold"):
        if name in raw:
            fields[name] = getattr(form, name).data
    if "seconds_required" in raw:
        fields["seconds_required"] = form.seconds_required.data
    if "agenda" in raw:
        fields["agenda"] = list(form.agenda.data)
    if "scheduled_at" in raw:
        value = form.scheduled_at.data
        if value:
            try:
                parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
                fields["scheduled_at"] = to_storage(parsed, tz)
            except (ValueError, OverflowError) as exc:
                raise Invalid(
                    "invalid_scheduled_at",
                    _("The time is not a valid ISO 8601 date and time."),
                ) from exc
        else:
            fields["scheduled_at"] = None
    return fields


@bp.post("/consultations")
def create_consultation():
    """``{community, title, description?, form?, access?, ...}``; the creator chairs it."""
    actor = require_user()
    raw = json_body()
    form = _parse(raw)
    if not form.community.data:
        raise Invalid("community_required", _("Name the community (its short name)."))
    community = get_community(form.community.data)
    if "title" not in raw:
        raw["title"] = None
    consultation = service.create_consultation(
        actor, community, **_fields(raw, form, community.timezone)
    )
    return jsonify(service.to_dict(consultation, with_participants=True)), 201


@bp.get("/consultations/<int:consultation_id>")
def get_consultation(consultation_id):
    from flask_login import current_user

    consultation = service.get_consultation(consultation_id)
    service.require_view(current_user, consultation)
    return jsonify(service.to_dict(consultation, with_participants=True))


@bp.patch("/consultations/<int:consultation_id>")
def update_consultation(consultation_id):
    actor = require_user()
    consultation = service.get_consultation(consultation_id)
    raw = json_body()
    form = _parse(raw)
    fields = _fields(raw, form, consultation.community.timezone)
    service.update_consultation(actor, consultation, **fields)
    return jsonify(service.to_dict(consultation, with_participants=True))


@bp.post("/consultations/<int:consultation_id>/participants")
def set_participant(consultation_id):
    """Invite someone with a role, or change their role."""
    actor = require_user()
    consultation = service.get_consultation(consultation_id)
    form = parse(ParticipantPayload, json_body())
    found = service.set_participant(actor, consultation, form.username.data, form.role.data)
    return jsonify(found.to_dict()), 200


@bp.delete("/consultations/<int:consultation_id>/participants/<username>")
def remove_participant(consultation_id, username):
    actor = require_user()
    consultation = service.get_consultation(consultation_id)
    service.remove_participant(actor, consultation, username)
    return "", 204


@bp.post("/consultations/<int:consultation_id>/transition")
def transition(consultation_id):
    """``{to, reason?}`` with ``to`` one of announced, live, closed, cancelled."""
    actor = require_user()
    consultation = service.get_consultation(consultation_id)
    form = parse(TransitionPayload, json_body())
    service.transition(actor, consultation, form.to.data, form.reason.data)
    return jsonify(service.to_dict(consultation))
