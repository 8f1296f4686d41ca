"""The room page: ``/consultations/<id>`` while the consultation is live (or closed, then
read-only), for someone who may read the room. It is rendered on the server (recent
history included, so it reads without JavaScript); ``static/js/room.js`` makes it live.
"""

from __future__ import annotations

import os
import uuid
from datetime import datetime

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import format_time
from flask_babel import gettext as _
from flask_login import current_user, login_required

from consult.consultations.models import PARTICIPANT_ROLES
from consult.consultations.service import get_consultation
from consult.errors import DomainError

from . import service
from .forms import ComposerForm

bp = Blueprint("room", __name__)

#: Messages rendered into a live room's page; the whole transcript once it is closed.
PAGE_HISTORY = 100
PAGE_STATUSES = ("live", "closed")


def ui_strings() -> dict:
    """Texts the page's script writes, in the reader's language."""
    return {
        "connecting": _("Connecting…"),
        "connected": _("Connected: the discussion updates by itself."),
        "reconnecting": _("Connection lost. Reconnecting…"),
        "caught_up": _("Reconnected. Missed messages are shown."),
        "refused": _("The room refused the connection: %(message)s"),
        "send": _("Send"),
        "sending": _("Sending…"),
        "send_failed": _("Not sent: %(message)s"),
        "timeout": _("No answer from the server. Your message is kept; send it again."),
        "hide": _("Hide"),
        "hide_label": _("Hide the message of %(name)s"),
        "hidden_note": _("Hidden by %(name)s. Reason: %(reason)s"),
        "hidden_text": _("This message is hidden."),
        "minority": _("Record as minority opinion"),
        "minority_label": _("Record as minority opinion: the message of %(name)s"),
        "minority_done": _("Recorded as a minority opinion."),
        "mute": _("Mute"),
        "unmute": _("Unmute"),
        "mute_label": _("Mute %(name)s"),
        "unmute_label": _("Unmute %(name)s"),
        "muted_marker": _("muted"),
        "online": _("online"),
        "offline": _("not here"),
        "give": _("Give the floor"),
        "give_label": _("Give the floor to %(name)s"),
        "you": _("(you)"),
        "no_hands": _("No hands raised."),
        "no_floor": _("No one holds the floor."),
        "holder": _("%(name)s has the floor."),
        "you_hold": _("You have the floor."),
        "time_left": _("Speaking time left: %(time)s"),
        "time_up": _("Speaking time is over."),
        "mode_open": _("Open floor: every participant may post."),
        "mode_moderated": _(
            "Moderated floor: only the speaker who holds the floor and the chair may post."
        ),
        "raise": _("Raise hand to speak"),
        "lower": _("Lower hand"),
        "hand_position": _("Your hand is raised: you are number %(n)s in the queue."),
        "why_muted": _("The chair has muted you in this room."),
        "why_floor": _("The floor is moderated: raise your hand and wait for the chair."),
        "why_closed": _("The room is closed: it is read-only now."),
        "why_observer": _("Observers follow the discussion but do not post."),
        "system": _("Notice"),
        "announcement": _("Announcement from the chair"),
        "online_count": _("%(n)s in the room now"),
        "done": _("Done."),
    }


def message_time(value: str | None) -> str:
    """``HH:MM`` in the community's time zone for a message's ISO 8601 time."""
    if not value:
        return ""
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return ""
    return format_time(moment, "HH:mm")


def _motions_script() -> bool:
    folder = current_app.static_folder or ""
    return os.path.exists(os.path.join(folder, "js", "motions.js"))


def render_room(consultation):
    """The page renderer registered with the consultation page (None: not ours)."""
    if consultation.status not in PAGE_STATUSES:
        return None
    if not current_user.is_authenticated or not service.can_read(current_user, consultation):
        return None
    user = current_user._get_current_object()
    closed = consultation.status != "live"
    show_all = closed or request.args.get("all") == "1"
    if show_all:
        messages = service.transcript(consultation, user)
    else:
        messages = service.recent_messages(consultation, user, PAGE_HISTORY)
    me = service.me_dict(user, consultation)
    participants = service.participants(consultation)
    presence = service.presence(consultation)
    client = {
        "consultation_id": consultation.id,
        "status": consultation.status,
        "timezone": consultation.community.timezone,
        "me": me,
        "floor": service.floor_dict(service.room_state(consultation)),
        "participants": participants,
        "presence": presence,
        "max_length": current_app.config["ROOM_MESSAGE_MAX_LENGTH"],
        "texts": service.client_texts(),
        "strings": ui_strings(),
    }
    return render_template(
        "room/room.html",
        consultation=consultation,
        me=me,
        me_role=me["role"],
        messages=messages,
        has_earlier=bool(messages and messages[0]["seq"] > 1 and not show_all),
        participants=participants,
        presence=presence,
        floor=client["floor"],
        roles=PARTICIPANT_ROLES,
        composer=ComposerForm(),
        new_client_id=uuid.uuid4().hex,
        client=client,
        closed=closed,
        motions_script=_motions_script(),
    )


def _register_page() -> None:
    """Render ``/consultations/<id>`` as the room (once per process)."""
    from consult.consultations import routes as pages

    renderers = pages.page_renderers
    for renderer in renderers:
        if (getattr(renderer, "__module__", None), getattr(renderer, "__qualname__", None)) == (
            __name__,
            render_room.__qualname__,
        ):
            return
    renderers.append(render_room)


_register_page()


@bp.post("/consultations/<int:consultation_id>/messages")
@login_required
def post_message(consultation_id):
    """The composer without JavaScript: post, then back to the room."""
    consultation = get_consultation(consultation_id)
    form = ComposerForm()
    target = url_for("consultations.show", consultation_id=consultation.id)
    if form.validate_on_submit():
        try:
            service.post_message(
                current_user._get_current_object(),
                consultation,
                form.body.data or "",
                form.client_id.data or None,
            )
        except DomainError as error:
            flash(error.message, "error")
            return redirect(target + "#composer")
    else:
        flash(_("The message could not be sent. Please try again."), "error")
        return redirect(target + "#composer")
    return redirect(target + "#composer")
