from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from consult.communities.service import can_chair, get_community
from consult.core.time import to_storage
from consult.errors import DomainError, Forbidden, Invalid, NotFound
from consult.web.i18n import use_timezone

from . import service
from .calendar import calendar_entry
from .forms import ConsultationForm, ParticipantForm, TransitionForm
from .models import PARTICIPANT_ROLES

bp = Blueprint("consultations", __name__)

#: Other features may render the consultation page for some statuses (the live room).
page_renderers = []


def _scheduled_at(form: ConsultationForm, tz: str):
    if not form.scheduled_at.data:
        return None
    try:
        return to_storage(form.scheduled_at.data, tz)
    except OverflowError as exc:  # a date at the very edge of the calendar
        raise Invalid("invalid_scheduled_at", _("The time is not a valid date and time.")) from exc


def _fields(form: ConsultationForm, tz: str) -> dict:
    return {
        "title": form.title.data,
        "description": form.description.data or "",
        "form": form.form.data,
        "access": form.access.data,
        "scheduled_at": _scheduled_at(form, tz),
        "place": form.place.data or "",
        "agenda": [line for line in (form.agenda.data or "").splitlines() if line.strip()],
        "seconds_required": form.seconds_required.data
        if form.seconds_required.data is not None
        else 1,
        "default_threshold": form.default_threshold.data,
    }


@bp.route("/communities/<slug>/consultations/new", methods=["GET", "POST"])
@login_required
def new(slug):
    community = get_community(slug)
    if not can_chair(current_user, community):
        raise Forbidden(
            "not_allowed_to_create",
            _("Only a community admin or a chair of this community may create consultations."),
        )
    use_timezone(community.timezone)
    form = ConsultationForm()
    status = 200
    if form.validate_on_submit():
        try:
            consultation = service.create_consultation(
                current_user, community, **_fields(form, community.timezone)
            )
        except DomainError as exc:
            flash(exc.message, "error")
            status = exc.status
        else:
            return redirect(url_for(".show", consultation_id=consultation.id))
    elif form.is_submitted():
        status = 422
    return render_template(
        "consultations/edit.html", form=form, community=community, consultation=None
    ), status


@bp.route("/consultations/<int:consultation_id>")
def show(consultation_id):
    consultation = service.get_consultation(consultation_id)
    service.require_view(current_user, consultation)
    use_timezone(consultation.community.timezone)
    for renderer in page_renderers:
        page = renderer(consultation)
        if page is not None:
            return page
    return render_template(
        "consultations/show.html",
        consultation=consultation,
        participants=service.participants(consultation),
        can_manage=service.can_manage(current_user, consultation),
        my_role=service.role_of(current_user, consultation),
        participant_form=ParticipantForm(),
        roles=PARTICIPANT_ROLES,
        transitions=sorted(service.TRANSITIONS.get(consultation.status, set())),
    )


@bp.route("/consultations/<int:consultation_id>/calendar.ics")
def calendar(consultation_id):
    """The consultation's time and place for a calendar, for whoever may see its page."""
    consultation = service.get_consultation(consultation_id)
    service.require_view(current_user, consultation)
    if consultation.scheduled_at is None:
        raise NotFound("not_scheduled", _("This consultation has no time set yet."))
    url = url_for("consultations.show", consultation_id=consultation.id, _external=True)
    response = Response(
        calendar_entry(consultation, url, request.host),
        content_type="text/calendar; charset=utf-8",
    )
    response.headers["Content-Disposition"] = (
        f'attachment; filename="consultation-{consultation.id}.ics"'
    )
    return response


@bp.route("/consultations/<int:consultation_id>/edit", methods=["GET", "POST"])
@login_required
def edit(consultation_id):
    consultation = service.get_consultation(consultation_id)
    service.require_manage(current_user, consultation)
    tz = consultation.community.timezone
    use_timezone(tz)
    form = ConsultationForm(obj=consultation)
    if not form.is_submitted():
        form.agenda.data = "\n".join(item.title for item in consultation.agenda_items)
        if consultation.scheduled_at:
            from consult.core.time import as_utc, zone

            form.scheduled_at.data = as_utc(consultation.scheduled_at).astimezone(zone(tz))
    status = 200
    if form.validate_on_submit():
        try:
            service.update_consultation(current_user, consultation, **_fields(form, tz))
        except DomainError as exc:
            flash(exc.message, "error")
            status = exc.status
        else:
            flash(_("Saved."), "ok")
            return redirect(url_for(".show", consultation_id=consultation.id))
    elif form.is_submitted():
        status = 422
    return render_template(
        "consultations/edit.html",
        form=form,
        community=consultation.community,
        consultation=consultation,
    ), status


@bp.route("/consultations/<int:consultation_id>/participants", methods=["POST"])
@login_required
def invite(consultation_id):
    consultation = service.get_consultation(consultation_id)
    form = ParticipantForm()
    if form.validate_on_submit():
        try:
            service.set_participant(
                current_user, consultation, form.username.data.strip(), form.role.data
            )
        except DomainError as exc:
            flash(exc.message, "error")
        else:
            flash(_("%(name)s takes part.", name=form.username.data), "ok")
    else:
        flash(_("Enter a username and a role."), "error")
    return redirect(url_for(".show", consultation_id=consultation.id) + "#participants")


@bp.route("/consultations/<int:consultation_id>/participants/<username>/remove", methods=["POST"])
@login_required
def remove(consultation_id, username):
    consultation = service.get_consultation(consultation_id)
    try:
        service.remove_participant(current_user, consultation, username)
    except DomainError as exc:
        flash(exc.message, "error")
    return redirect(url_for(".show", consultation_id=consultation.id) + "#participants")


@bp.route("/consultations/<int:consultation_id>/transition", methods=["POST"])
@login_required
def move(consultation_id):
    consultation = service.get_consultation(consultation_id)
    form = TransitionForm()
    if form.validate_on_submit():
        try:
            service.transition(current_user, consultation, form.to.data, form.reason.data)
        except DomainError as exc:
            flash(exc.message, "error")
        else:
            flash(_("Status: %(status)s", status=consultation.status_label), "ok")
    return redirect(url_for(".show", consultation_id=consultation.id))
