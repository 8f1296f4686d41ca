"""Pages: the public notice board (公示栏), each outcome and its versions, the Atom feed,
the chair's drafting and correction forms, objections, progress, ratings and the minutes."""

from __future__ import annotations

import json

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from consult.communities.service import get_community, is_member
from consult.consultations import service as consultations
from consult.consultations.models import FORMS
from consult.core.cache import public_page, shared_html, shared_page
from consult.errors import DomainError, Forbidden, NotFound
from consult.web.i18n import use_timezone

from . import charts, feed, minutes, service
from .forms import (
    AnswerForm,
    CorrectionForm,
    EmptyForm,
    ObjectionForm,
    OutcomeForm,
    ProgressForm,
    RatingForm,
)
from .models import MINORITY_SOURCES, PUBLIC_STATUSES, STATUSES

bp = Blueprint("outcomes", __name__)


def category_label(value: str) -> str:
    return str(FORMS[value]) if value in FORMS else value


def _flash_error(exc: DomainError) -> None:
    flash(exc.message, "error")


# --- the notice board ----------------------------------------------------------------------


@bp.route("/notice")
@public_page
def notice():
    args = request.args
    community_slug = (args.get("community") or "").strip() or None
    community = None
    if community_slug:
        try:
            community = get_community(community_slug)
        except NotFound:
            community = None
        else:
            use_timezone(community.timezone)
    return shared_page(
        "notice/index.html",
        lambda: dict(
            community=community,
            board=shared_html("notice/_board.html", lambda: _board(community, community_slug)),
        ),
    )


def _board(community, community_slug: str | None) -> dict:
    """What the notice board's list and its filters show: the same for every reader, so
    they are rendered once and shared for a few seconds (core/cache.py)."""
    args = request.args
    status = args.get("status") if args.get("status") in PUBLIC_STATUSES else None
    q = (args.get("q") or "").strip()[: service.MAX_QUERY]
    category = (args.get("category") or "").strip()[:64] or None
    page = service.notice_page(
        community=community_slug,
        category=category,
        status=status,
        q=q or None,
        page=args.get("page", 1),
    )
    filters = {
        k: v
        for k, v in {
            "community": community_slug,
            "category": category,
            "status": status,
            "q": q,
        }.items()
        if v
    }
    return dict(
        page=page,
        community=community,
        community_slug=community_slug,
        filters=filters,
        other_filters={k: v for k, v in filters.items() if k != "community"},
        status=status,
        q=q,
        category=category,
        categories=service.categories(community_slug),
        statuses={k: v for k, v in STATUSES.items() if k in PUBLIC_STATUSES},
        category_label=category_label,
    )


def _feed(community_slug: str | None):
    community = get_community(community_slug) if community_slug else None
    page = service.notice_page(community=community_slug, per_page=50)
    if community:
        feed_url = url_for("outcomes.community_feed", slug=community.slug, _external=True)
        site_url = url_for("outcomes.notice", community=community.slug, _external=True)
        title = _("Notice board of %(name)s", name=community.name)
        author = community.name
    else:
        feed_url = url_for("outcomes.notice_feed", _external=True)
        site_url = url_for("outcomes.notice", _external=True)
        title = _("Yiting notice board")
        author = _("Yiting")
    body = feed.build_feed(
        page.items,
        feed_url=feed_url,
        site_url=site_url,
        title=title,
        author=author,
        entry_url=lambda item: url_for("outcomes.show", outcome_id=item.id, _external=True),
        status_label=lambda item: item.status_label,
    )
    return Response(
        body, mimetype="application/atom+xml", content_type="application/atom+xml; charset=utf-8"
    )


@bp.route("/notice/feed.atom")
@public_page
def notice_feed():
    """``?community=<slug>`` for one community; all communities otherwise."""
    return _feed((request.args.get("community") or "").strip() or None)


@bp.route("/communities/<slug>/notice.atom")
@public_page
def community_feed(slug):
    return _feed(slug)


# --- one outcome -----------------------------------------------------------------------------


def rule_text(threshold) -> str:
    """The voting rule in words, in the reader's language."""
    words = service._optional("consult.motions.service", "rule_text")
    return words(threshold) if words and threshold else str(threshold or "")


def motion_state(state) -> str:
    states = service._optional("consult.motions.models", "MOTION_STATES") or {}
    return str(states.get(state, state or ""))


def source_label(source) -> str:
    return str(MINORITY_SOURCES.get(source, source or ""))


def decision_title(decision: dict) -> str:
    if decision.get("amendment_id"):
        return _(
            "Amendment %(n)d to “%(title)s”", n=decision["amendment_id"], title=decision["title"]
        )
    return decision.get("title") or ""


def _record_context(record: dict) -> dict:
    """What ``notice/_record.html`` renders a version's record (``record``) with."""
    return {
        "record": record,
        "charts": charts,
        "category_label": category_label,
        "choice_label": minutes.choice_label,
        "result_label": minutes.result_label,
        "rule_text": rule_text,
        "decision_title": decision_title,
    }


def _notice_forms() -> dict:
    """The notice page's forms, for those signed in. A visitor's page has none, and so no
    CSRF token in a session cookie: it stays cacheable (core/cache.py)."""
    names = {
        "objection_form": ObjectionForm,
        "answer_form": AnswerForm,
        "progress_form": ProgressForm,
        "rating_form": RatingForm,
        "empty_form": EmptyForm,
    }
    signed_in = current_user.is_authenticated
    return {name: form() if signed_in else None for name, form in names.items()}


def _render_notice(outcome, number=None):
    use_timezone(outcome.community.timezone)
    versions = service.versions(outcome)
    version = service.get_version(outcome, number, among=versions)
    record = service.record_of(version)
    manage = service.can_manage(current_user, outcome)
    member = current_user.is_authenticated and is_member(current_user, outcome.community)
    # The progress reports and the ratings are read once: the latest percentage, the
    # ratings' summary and the reader's own rating come from them.
    progress = service.progress_reports(outcome)
    ratings = service.ratings(outcome)
    reader_id = current_user.id if current_user.is_authenticated else None
    return render_template(
        "notice/show.html",
        outcome=outcome,
        version=version,
        is_latest=version.version == outcome.current_version,
        versions=versions,
        objections=service.objections(outcome),
        progress=progress,
        percent=progress[-1].percent if progress else None,
        ratings=service.summarize_ratings(ratings),
        rating_comments=[r for r in ratings if r.comment],
        my_rating=next((r for r in ratings if r.user_id == reader_id), None),
        notice_open=service.notice_open(outcome),
        can_manage=manage,
        can_report=service.can_report(current_user, outcome),
        is_member=member,
        **_notice_forms(),
        page_url=url_for("outcomes.show", outcome_id=outcome.id, _external=True),
        version_url=url_for(
            "outcomes.show_version", outcome_id=outcome.id, number=version.version, _external=True
        ),
        record_url=url_for(
            "outcomes.version_record", outcome_id=outcome.id, number=version.version
        ),
        record=record,
        charts=charts,
        # The version's record is the same for every reader (it is what the fingerprint
        # covers): rendered once and shared, as the board's list is.
        record_html=shared_html("notice/_record.html", lambda: _record_context(record)),
    )


def _public_outcome(outcome_id):
    outcome = service.get_outcome(outcome_id, current_user)
    if not outcome.is_public:
        raise NotFound("outcome_not_found", _("No such outcome."))
    return outcome


@bp.route("/notice/<int:outcome_id>")
@public_page
def show(outcome_id):
    return _render_notice(_public_outcome(outcome_id))


@bp.route("/notice/<int:outcome_id>/v/<int:number>")
@public_page
def show_version(outcome_id, number):
    return _render_notice(_public_outcome(outcome_id), number)


@bp.route("/notice/<int:outcome_id>/v/<int:number>/record.json")
def version_record(outcome_id, number):
    """The version's canonical record, byte for byte: its SHA-256 is the fingerprint."""
    version = service.get_version(_public_outcome(outcome_id), number)
    response = Response(
        version.record.encode("utf-8"), content_type="application/json; charset=utf-8"
    )
    response.headers["X-Content-Fingerprint"] = version.fingerprint
    return response


def _back(outcome, anchor: str = ""):
    return redirect(url_for("outcomes.show", outcome_id=outcome.id) + anchor)


@bp.route("/notice/<int:outcome_id>/objections", methods=["POST"])
@login_required
def object_to(outcome_id):
    outcome = service.get_visible_outcome(outcome_id, current_user)
    form = ObjectionForm()
    if form.validate_on_submit():
        try:
            service.file_objection(current_user, outcome, form.reason.data)
        except DomainError as exc:
            _flash_error(exc)
        else:
            flash(_("Your objection is on the notice board. The chair will answer it."), "ok")
    else:
        flash(_("Give the reason for your objection (at most 2,000 characters)."), "error")
    return _back(outcome, "#objections")


@bp.route("/notice/objections/<int:objection_id>/answer", methods=["POST"])
@login_required
def answer(objection_id):
    objection = service.get_objection(objection_id)
    outcome = service.get_visible_outcome(objection.outcome_id, current_user)
    form = AnswerForm()
    if form.validate_on_submit():
        try:
            service.answer_objection(current_user, objection, form.answer.data)
        except DomainError as exc:
            _flash_error(exc)
        else:
            flash(_("Your answer is published."), "ok")
    else:
        flash(_("Write an answer of at most 2,000 characters."), "error")
    return _back(outcome, f"#objection-{objection.id}")


@bp.route("/notice/<int:outcome_id>/progress", methods=["POST"])
@login_required
def progress(outcome_id):
    outcome = service.get_visible_outcome(outcome_id, current_user)
    form = ProgressForm()
    if form.validate_on_submit():
        try:
            service.report_progress(current_user, outcome, form.percent.data, form.note.data)
        except DomainError as exc:
            _flash_error(exc)
        else:
            flash(_("Progress reported."), "ok")
    else:
        flash(_("Progress is a whole number from 0 to 100."), "error")
    return _back(outcome, "#progress")


@bp.route("/notice/<int:outcome_id>/complete", methods=["POST"])
@login_required
def complete(outcome_id):
    outcome = service.get_visible_outcome(outcome_id, current_user)
    if EmptyForm().validate_on_submit():
        try:
            service.complete_outcome(current_user, outcome)
        except DomainError as exc:
            _flash_error(exc)
        else:
            flash(_("Marked as completed. Members may now rate it."), "ok")
    return _back(outcome, "#progress")


@bp.route("/notice/<int:outcome_id>/ratings", methods=["POST"])
@login_required
def rate(outcome_id):
    outcome = service.get_visible_outcome(outcome_id, current_user)
    form = RatingForm()
    if form.validate_on_submit():
        try:
            service.rate_outcome(current_user, outcome, form.stars.data, form.comment.data)
        except DomainError as exc:
            _flash_error(exc)
        else:
            flash(_("Thank you for your rating."), "ok")
    else:
        flash(_("Rate with 1 to 5 stars."), "error")
    return _back(outcome, "#ratings")


# --- the chair: draft, publish, correct --------------------------------------------------------


def _form_fields(form) -> dict:
    return {
        "title": form.title.data or None,
        "summary": form.summary.data or "",
        "category": form.category.data or "",
        "responsible": form.responsible.data or "",
        "responsible_user": form.responsible_user.data or "",
        "due": form.due.data or None,
        "notice_days": form.notice_days.data,
        "minority_opinion": form.minority_opinion.data or None,
    }


def _fill(form, outcome) -> None:
    form.title.data = outcome.title
    form.summary.data = outcome.summary
    form.category.data = outcome.category
    form.responsible.data = outcome.responsible
    form.responsible_user.data = (
        outcome.responsible_user.username if outcome.responsible_user else ""
    )
    form.due.data = outcome.due.isoformat() if outcome.due else ""
    form.notice_days.data = outcome.notice_days


@bp.route("/consultations/<int:consultation_id>/outcome", methods=["GET", "POST"])
@login_required
def draft(consultation_id):
    consultation = consultations.get_consultation(consultation_id)
    consultations.require_view(current_user, consultation)
    consultations.require_manage(current_user, consultation)
    use_timezone(consultation.community.timezone)
    outcome = service.outcome_for(consultation)
    if outcome is not None and outcome.is_public:
        return redirect(url_for("outcomes.show", outcome_id=outcome.id))
    form = OutcomeForm()
    status = 200
    if form.validate_on_submit():
        try:
            outcome = service.draft_outcome(current_user, consultation, **_form_fields(form))
        except DomainError as exc:
            _flash_error(exc)
            status = exc.status
        else:
            flash(_("Draft saved. Check the preview below, then publish."), "ok")
            return redirect(url_for("outcomes.draft", consultation_id=consultation.id) + "#preview")
    elif form.is_submitted():
        status = 422
    elif outcome is not None:
        _fill(form, outcome)
    else:
        form.title.data = consultation.title
        form.category.data = consultation.form
        form.notice_days.data = service.DEFAULT_NOTICE_DAYS
    record = None
    if outcome is not None:
        record = json.loads(service.canonical_json(service.draft_record(outcome, current_user)))
    context = _record_context(record) if record else {}
    return render_template(
        "outcomes/edit.html",
        consultation=consultation,
        outcome=outcome,
        form=form,
        publish_form=EmptyForm(),
        is_closed=consultation.status == "closed",
        categories=FORMS,
        **context,
    ), status


@bp.route("/outcomes/<int:outcome_id>/publish", methods=["POST"])
@login_required
def publish(outcome_id):
    outcome = service.get_visible_outcome(outcome_id, current_user)
    if not EmptyForm().validate_on_submit():
        return redirect(url_for("outcomes.draft", consultation_id=outcome.consultation_id))
    try:
        service.publish_outcome(current_user, outcome)
    except DomainError as exc:
        _flash_error(exc)
        return redirect(url_for("outcomes.draft", consultation_id=outcome.consultation_id))
    flash(_("Published on the notice board. The notice period has started."), "ok")
    return redirect(url_for("outcomes.show", outcome_id=outcome.id))


@bp.route("/notice/<int:outcome_id>/correct", methods=["GET", "POST"])
@login_required
def correct(outcome_id):
    outcome = _public_outcome(outcome_id)
    if not service.can_manage(current_user, outcome):
        raise Forbidden("not_chair", _("Only the chair of this consultation may do this."))
    use_timezone(outcome.community.timezone)
    form = CorrectionForm()
    status = 200
    if form.validate_on_submit():
        fields = _form_fields(form)
        try:
            version = service.correct_outcome(current_user, outcome, form.reason.data, **fields)
        except DomainError as exc:
            _flash_error(exc)
            status = exc.status
        else:
            flash(_("Version %(n)d is published.", n=version.version), "ok")
            return redirect(url_for("outcomes.show", outcome_id=outcome.id))
    elif form.is_submitted():
        status = 422
    else:
        _fill(form, outcome)
    return render_template(
        "outcomes/correct.html", outcome=outcome, form=form, categories=FORMS
    ), status


# --- minutes -------------------------------------------------------------------------------------


def _minutes(consultation_id):
    consultation = consultations.get_consultation(consultation_id)
    minutes.require_minutes(current_user, consultation)
    use_timezone(consultation.community.timezone)
    return consultation, minutes.build_minutes(consultation, current_user)


def _filename(consultation, ext: str) -> str:
    return f"minutes-{consultation.id}.{ext}"


@bp.route("/consultations/<int:consultation_id>/minutes")
def minutes_page(consultation_id):
    consultation, data = _minutes(consultation_id)
    return render_template(
        "minutes/show.html",
        consultation=consultation,
        minutes=data,
        clock=minutes.Clock(consultation.community.timezone),
        who=minutes.who,
        choice_label=minutes.choice_label,
        result_label=minutes.result_label,
        rule_text=rule_text,
        motion_state=motion_state,
        source_label=source_label,
        category_label=category_label,
        can_manage=consultations.can_manage(current_user, consultation),
        outcome=service.outcome_for(consultation),
    )


@bp.route("/consultations/<int:consultation_id>/minutes.md")
def minutes_markdown(consultation_id):
    consultation, data = _minutes(consultation_id)
    response = Response(minutes.to_markdown(data), content_type="text/markdown; charset=utf-8")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="{_filename(consultation, "md")}"'
    )
    return response


@bp.route("/consultations/<int:consultation_id>/minutes.json")
def minutes_json(consultation_id):
    consultation, data = _minutes(consultation_id)
    body = json.dumps(data, ensure_ascii=False, indent=2)
    response = Response(body, content_type="application/json; charset=utf-8")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="{_filename(consultation, "json")}"'
    )
    return response


def consultation_panel(consultation) -> dict:
    """What the consultation page shows about the outcome and minutes (templates call it)."""
    outcome = service.outcome_for(consultation)
    closed = consultation.status in service.CLOSED_STATUSES
    return {
        "outcome": outcome
        if outcome is not None
        and (outcome.is_public or consultations.can_manage(current_user, consultation))
        else None,
        "can_manage": consultations.can_manage(current_user, consultation),
        "closed": closed,
        "can_draft": closed and consultation.status == "closed",
    }
