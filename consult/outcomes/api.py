"""Outcomes and the notice board in the JSON API (``/api/v1``)."""

from flask import jsonify, request
from flask_login import current_user

from consult.api import bp, json_body, require_user
from consult.consultations import service as consultations
from consult.core.payload import parse
from consult.errors import NotFound

from . import service
from .forms import AnswerForm, CorrectionForm, ObjectionForm, OutcomeForm, ProgressForm, RatingForm

#: Numbers go to the service as sent, which refuses a bad one with its own code
#: (``invalid_stars``, ``invalid_percent``, ``invalid_notice_days``).
NUMBERS = ("notice_days", "percent", "stars")


def _payload(form_cls):
    raw = json_body()
    form = parse(form_cls, {k: v for k, v in raw.items() if k not in NUMBERS})
    return raw, form


def _fields(raw: dict, form) -> dict:
    """Only the outcome fields the caller sent."""
    fields = {}
    for name in ("title", "summary", "category", "responsible", "responsible_user", "due"):
        if name in raw:
            fields[name] = getattr(form, name).data if raw[name] is not None else None
    if "due" in raw and raw["due"] is None:
        fields["due"] = None
    if raw.get("notice_days") is not None:
        fields["notice_days"] = raw["notice_days"]
    if raw.get("minority_opinion") is not None:
        fields["minority_opinion"] = form.minority_opinion.data
    return fields


def _detail(outcome, status=200):
    return jsonify(service.outcome_to_dict(outcome, viewer=current_user)), status


@bp.post("/consultations/<int:consultation_id>/outcome")
def draft_outcome(consultation_id):
    """``{summary, title?, category?, responsible?, responsible_user?, due?, notice_days?,
    minority_opinion?}`` — create or update the draft; decisions and minority opinions are
    brought in from the votes and the room."""
    actor = require_user()
    consultation = consultations.get_consultation(consultation_id)
    consultations.require_view(actor, consultation)
    raw, form = _payload(OutcomeForm)
    created = service.outcome_for(consultation) is None
    outcome = service.draft_outcome(actor, consultation, **_fields(raw, form))
    return _detail(outcome, 201 if created else 200)


@bp.get("/consultations/<int:consultation_id>/outcome")
def consultation_outcome(consultation_id):
    consultation = consultations.get_consultation(consultation_id)
    consultations.require_view(current_user, consultation)
    outcome = service.outcome_for(consultation)
    if outcome is None or not (outcome.is_public or service.can_manage(current_user, outcome)):
        raise NotFound("outcome_not_found", "This consultation has no published outcome.")
    return _detail(outcome)


@bp.post("/outcomes/<int:outcome_id>/publish")
def publish_outcome(outcome_id):
    actor = require_user()
    outcome = service.get_visible_outcome(outcome_id, actor)
    service.publish_outcome(actor, outcome)
    return _detail(outcome)


@bp.post("/outcomes/<int:outcome_id>/corrections")
def correct_outcome(outcome_id):
    """``{reason, summary?, title?, category?, responsible?, responsible_user?, due?,
    notice_days?, minority_opinion?}`` — a new version; the old ones stay readable."""
    actor = require_user()
    outcome = service.get_visible_outcome(outcome_id, actor)
    raw, form = _payload(CorrectionForm)
    service.correct_outcome(actor, outcome, form.reason.data, **_fields(raw, form))
    return _detail(outcome, 201)


@bp.post("/outcomes/<int:outcome_id>/objections")
def file_objection(outcome_id):
    actor = require_user()
    outcome = service.get_visible_outcome(outcome_id, actor)
    raw, form = _payload(ObjectionForm)
    objection = service.file_objection(actor, outcome, form.reason.data)
    return jsonify(service.objection_to_dict(objection, actor)), 201


@bp.post("/objections/<int:objection_id>/answer")
def answer_objection(objection_id):
    actor = require_user()
    objection = service.get_objection(objection_id)
    service.get_visible_outcome(objection.outcome_id, actor)
    raw, form = _payload(AnswerForm)
    service.answer_objection(actor, objection, form.answer.data)
    return jsonify(service.objection_to_dict(objection, actor))


@bp.post("/outcomes/<int:outcome_id>/progress")
def report_progress(outcome_id):
    """``{percent, note?}`` by the responsible party or the chair."""
    actor = require_user()
    outcome = service.get_visible_outcome(outcome_id, actor)
    raw, form = _payload(ProgressForm)
    report = service.report_progress(actor, outcome, raw.get("percent"), form.note.data)
    return jsonify({**service.progress_to_dict(report), "status": outcome.status}), 201


@bp.post("/outcomes/<int:outcome_id>/complete")
def complete_outcome(outcome_id):
    actor = require_user()
    outcome = service.get_visible_outcome(outcome_id, actor)
    service.complete_outcome(actor, outcome)
    return _detail(outcome)


@bp.post("/outcomes/<int:outcome_id>/ratings")
def rate_outcome(outcome_id):
    """``{stars, comment?}``: once per member, after completion."""
    actor = require_user()
    outcome = service.get_visible_outcome(outcome_id, actor)
    raw, form = _payload(RatingForm)
    rating = service.rate_outcome(actor, outcome, raw.get("stars"), form.comment.data)
    return jsonify(
        {**service.rating_to_dict(rating), "ratings": service.rating_summary(outcome)}
    ), 201


@bp.get("/notice")
def notice_list():
    """Public: ``?community=<slug>&category=&status=&q=&page=&per_page=``, newest first."""
    args = request.args
    page = service.notice_page(
        community=args.get("community") or None,
        category=args.get("category") or None,
        status=args.get("status") or None,
        q=args.get("q") or None,
        page=args.get("page", 1),
        per_page=service.parse_page(args.get("per_page", service.PER_PAGE)),
    )
    return jsonify(
        {
            "items": [service.notice_item_to_dict(item) for item in page.items],
            "total": page.total,
            "page": page.page,
            "pages": page.pages,
            "per_page": page.per_page,
        }
    )


@bp.get("/notice/<int:outcome_id>")
def notice_detail(outcome_id):
    """Public: the latest version of a published outcome, its fingerprint and history."""
    outcome = service.get_visible_outcome(outcome_id, None)
    return _detail(outcome)


@bp.get("/notice/<int:outcome_id>/versions/<int:number>")
def notice_version(outcome_id, number):
    outcome = service.get_visible_outcome(outcome_id, None)
    version = service.get_version(outcome, number)
    return jsonify(service.outcome_to_dict(outcome, viewer=current_user, number=version.version))
