from flask import jsonify
from wtforms import PasswordField, SelectField, StringField
from wtforms.validators import InputRequired, Length, Optional

from consult.api import bp, json_body, require_user
from consult.consultations.service import to_dict, visible_consultations
from consult.core.forms import Form
from consult.core.payload import parse
from consult.core.time import isoformat
from consult.extensions import db

from . import service
from .forms import ROLE_CHOICES
from .models import Community


class MemberPayload(Form):
    username = StringField(validators=[InputRequired(), Length(max=64)])
    display_name = StringField(validators=[Optional(), Length(max=64)])
    password = PasswordField(validators=[Optional(), Length(max=128)])
    role = SelectField(choices=ROLE_CHOICES, validators=[Optional()], validate_choice=False)


class CommunityPayload(Form):
    slug = StringField(validators=[InputRequired(), Length(max=40)])
    name = StringField(validators=[InputRequired(), Length(max=100)])
    timezone = StringField(validators=[Optional(), Length(max=64)])


@bp.get("/communities")
def list_communities():
    communities = db.session.scalars(db.select(Community).order_by(Community.name))
    return jsonify({"communities": [c.to_dict() for c in communities]})


@bp.post("/communities")
def create_community():
    actor = require_user()
    form = parse(CommunityPayload, json_body())
    community = service.create_community(
        actor, form.slug.data, form.name.data, form.timezone.data or "Asia/Shanghai"
    )
    return jsonify(community.to_dict()), 201


@bp.get("/communities/<slug>/members")
def list_members(slug):
    actor = require_user()
    community = service.get_community(slug)
    service.require_admin(actor, community)
    return jsonify(
        {
            "members": [
                {**user.to_dict(), "role": member.role, "since": isoformat(member.created_at)}
                for member, user in service.members(community)
            ]
        }
    )


@bp.post("/communities/<slug>/members")
def add_member(slug):
    """A community admin registers a resident (or adds an existing account)."""
    actor = require_user()
    community = service.get_community(slug)
    service.require_admin(actor, community)
    form = parse(MemberPayload, json_body())
    member = service.add_member(
        actor, community, form.username.data.strip(), form.display_name.data,
        form.password.data, form.role.data or "resident",
    )  # fmt: skip
    return jsonify({**member.user.to_dict(), "role": member.role, "community": slug}), 201


@bp.post("/communities/<slug>/members/<username>/role")
def set_member_role(slug, username):
    actor = require_user()
    community = service.get_community(slug)
    service.require_admin(actor, community)
    form = parse(MemberPayload, {**json_body(), "username": username})
    member = service.set_role(actor, community, username, form.role.data or "")
    return jsonify({**member.user.to_dict(), "role": member.role})


@bp.get("/communities/<slug>/consultations")
def list_consultations(slug):
    community = service.get_community(slug)
    from flask_login import current_user

    return jsonify(
        {"consultations": [to_dict(c) for c in visible_consultations(current_user, community)]}
    )
