"""Pages and forms for motions and votes. They work without JavaScript; in the room,
``static/js/motions.js`` sends the same forms as Socket.IO events and swaps in the fragments
below when something changes."""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from consult.communities.service import is_member
from consult.consultations import service as consultations
from consult.consultations.service import get_consultation
from consult.core.time import utcnow
from consult.errors import DomainError
from consult.extensions import db
from consult.web.i18n import use_timezone

from . import service
from .forms import (
    QUORUM_CHOICES,
    THRESHOLD_CHOICES,
    AmendmentPayload,
    BallotPayload,
    MotionPayload,
    OpenVoteForm,
    ReasonPayload,
)
from .models import OPEN_STATES, Motion, Vote

bp = Blueprint("motions", __name__)


# --- what the current person may do --------------------------------------------------------


def _may_speak(user, consultation) -> bool:
    if not getattr(user, "is_authenticated", False):
        return False
    if consultations.can_manage(user, consultation):
        return True
    found = consultations.participant(user, consultation)
    if found is not None:
        return found.can_speak
    return (
        consultation.access == "open"
        and consultation.status in ("announced", "live")
        and is_member(user, consultation.community)
    )


def _vote_view(vote: Vote, user, manage: bool) -> dict:
    data = service.vote_to_dict(vote, user)
    me = data.get("me") or {"eligible": False, "voted": False, "choice": None}
    live = vote.consultation.status == "live"
    rows = []
    counts = data.get("counts")
    if counts is not None:
        top = max(counts.values()) if counts else 0
        for choice in data["choices"]:
            n = counts.get(choice, 0)
            share = (100 * n / data["ballots_cast"]) if data["ballots_cast"] else 0
            rows.append(
                {
                    "choice": choice,
                    "label": service.choice_label(choice),
                    "count": n,
                    "width": round(100 * n / top, 2) if top else 0,
                    "percent": round(share),
                }
            )
    return {
        "vote": vote,
        "data": data,
        "me": me,
        "chart": rows,
        "choices": [(c, service.choice_label(c)) for c in data["choices"]],
        "can_cast": vote.is_open and live and me["eligible"] and not (vote.secret and me["voted"]),
        "can_close": manage and vote.is_open,
    }


def _card(motion: Motion, user, manage: bool, speak: bool) -> dict:
    consultation = motion.consultation
    writable = consultation.status in service.WRITABLE
    live = consultation.status == "live"
    open_state = motion.state in OPEN_STATES
    proposer = getattr(user, "id", None) == motion.proposer_id
    seconder_ids = {s.user_id for s in motion.seconds}
    votes = service.votes_of_motion(motion)
    vote_open = any(v.is_open for v in votes)
    return {
        "motion": motion,
        "votes": [_vote_view(v, user, manage) for v in votes],
        "seconders": [s.user for s in motion.seconds],
        "rights": {
            "edit": writable and open_state and (proposer or manage),
            "submit": writable and motion.state == "draft" and (proposer or manage),
            "second": writable
            and speak
            and motion.state in ("submitted", "seconded")
            and not proposer
            and getattr(user, "id", None) not in seconder_ids,
            "withdraw": writable and open_state and proposer,
            "table": writable and open_state and manage,
            "amend": writable and open_state and speak,
            "decide": writable and open_state and manage and not vote_open,
            "open_vote": live and manage and motion.state == "seconded" and not vote_open,
        },
        "needs_seconds": max(0, consultation.seconds_required - len(seconder_ids)),
    }


def panel_context(consultation, user=None) -> dict:
    """Everything the motion panel shows, for ``user`` (default: who is signed in)."""
    user = user if user is not None else current_user
    manage = consultations.can_manage(user, consultation) if user.is_authenticated else False
    speak = _may_speak(user, consultation)
    return {
        "consultation": consultation,
        "cards": [_card(m, user, manage, speak) for m in service.motions_of(consultation)],
        "can_draft": speak and consultation.status in service.WRITABLE,
        "manage": manage,
        "threshold_choices": THRESHOLD_CHOICES,
        "quorum_choices": QUORUM_CHOICES,
        "default_threshold": consultation.default_threshold,
        "default_quorum": consultation.default_quorum or "",
        "default_secret": consultation.default_secret,
        "client_texts": client_texts(),
        "back_url": url_for("consultations.show", consultation_id=consultation.id),
    }


def client_texts() -> dict:
    """Texts the browser needs in the page's language."""
    return {
        "receipt_title": _("Your receipt code"),
        "receipt_note": _(
            "Write it down now: it is shown only this once. When the vote closes, the list "
            "of receipts shows that your ballot was counted as cast."
        ),
        "ballot_recorded": _("Your ballot is recorded."),
        "ballot_changed": _("Your ballot is changed."),
        "ballot_unchanged": _("Your ballot was already recorded like this."),
        "saved": _("Done."),
        "failed": _("Could not reach the server. Try again."),
        "updated": _("Motions updated."),
        "ballots_cast": _("%(n)s of %(m)s have voted"),
        "chart_caption": _("Ballots cast: %(n)s of %(m)s eligible"),
        "rules": service.rule_texts(),
        # the result of a vote as announced in the room, in the page's language
        "results": {key: label() for key, label in service.RESULT_LABELS.items()},
        "chosen": _("Chosen: %(option)s"),
    }


def motions_panel(consultation) -> dict:
    """The Jinja global that ``templates/motions/_panel.html`` calls."""
    service.close_due_votes_of(consultation)
    return panel_context(consultation)


# --- pages and fragments -------------------------------------------------------------------


def _viewable_motion(motion_id) -> Motion:
    motion = service.get_motion(motion_id)
    consultations.require_view(current_user, motion.consultation)
    use_timezone(motion.consultation.community.timezone)
    return motion


@bp.get("/motions/<int:motion_id>")
def show(motion_id):
    """The motion page: current text, every revision, the diff between two, amendments,
    seconders and votes with their results. Works without JavaScript."""
    motion = _viewable_motion(motion_id)
    consultation = motion.consultation
    service.close_due_votes_of(consultation)
    panel = panel_context(consultation)
    card = next(c for c in panel["cards"] if c["motion"].id == motion.id)
    diff = None
    if motion.revision > 1 or request.args.get("to"):
        try:
            diff = service.diff(motion, request.args.get("from"), request.args.get("to"))
        except DomainError as exc:
            flash(exc.message, "error")
    return render_template(
        "motions/show.html",
        motion=motion,
        consultation=consultation,
        card=card,
        panel=panel,
        diff=diff,
        back_url=url_for(".show", motion_id=motion.id),
    )


@bp.get("/motions/<int:motion_id>/card")
def card(motion_id):
    """One motion's card, as the room's panel shows it (an HTML fragment)."""
    motion = _viewable_motion(motion_id)
    service.close_due_votes_of(motion.consultation)
    panel = panel_context(motion.consultation)
    found = next(c for c in panel["cards"] if c["motion"].id == motion.id)
    return render_template("motions/_card.html", card=found, panel=panel)


@bp.get("/consultations/<int:consultation_id>/motions/panel")
def panel(consultation_id):
    """Every motion card of the consultation (an HTML fragment)."""
    consultation = get_consultation(consultation_id)
    consultations.require_view(current_user, consultation)
    use_timezone(consultation.community.timezone)
    return render_template("motions/_list.html", panel=motions_panel(consultation))


# --- forms ---------------------------------------------------------------------------------


def _back(default: str) -> str:
    target = request.form.get("next") or ""
    if target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return default


def _act(action, done: str, default: str):
    try:
        action()
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    else:
        flash(done, "ok")
    return redirect(_back(default), code=303)


def _room_url(consultation_id: int, anchor: str = "") -> str:
    url = url_for("consultations.show", consultation_id=consultation_id)
    return url + (f"#{anchor}" if anchor else "")


@bp.post("/consultations/<int:consultation_id>/motions/new")
@login_required
def create(consultation_id):
    consultation = get_consultation(consultation_id)
    consultations.require_view(current_user, consultation)
    form = MotionPayload()
    created = {}

    def action():
        created["motion"] = service.create_motion(
            current_user, consultation, form.title.data, form.text.data
        )

    response = _act(action, _("Motion drafted."), _room_url(consultation.id, "motions-panel"))
    if "motion" in created and not request.form.get("next"):
        return redirect(url_for(".show", motion_id=created["motion"].id), code=303)
    return response


def _motion_action(motion_id, run, done):
    motion = service.get_motion(motion_id)
    consultations.require_view(current_user, motion.consultation)
    return _act(lambda: run(motion), done, _room_url(motion.consultation_id, f"motion-{motion.id}"))


@bp.post("/motions/<int:motion_id>/edit")
@login_required
def edit(motion_id):
    form = MotionPayload()
    return _motion_action(
        motion_id,
        lambda m: service.edit_motion(current_user, m, title=form.title.data, text=form.text.data),
        _("Saved as a new revision."),
    )


@bp.post("/motions/<int:motion_id>/submit")
@login_required
def submit(motion_id):
    return _motion_action(
        motion_id, lambda m: service.submit_motion(current_user, m), _("Motion submitted.")
    )


@bp.post("/motions/<int:motion_id>/second")
@login_required
def second(motion_id):
    return _motion_action(
        motion_id, lambda m: service.second_motion(current_user, m), _("You seconded the motion.")
    )


@bp.post("/motions/<int:motion_id>/withdraw")
@login_required
def withdraw(motion_id):
    reason = ReasonPayload().reason.data
    return _motion_action(
        motion_id,
        lambda m: service.withdraw_motion(current_user, m, reason),
        _("Motion withdrawn."),
    )


@bp.post("/motions/<int:motion_id>/table")
@login_required
def table(motion_id):
    reason = ReasonPayload().reason.data
    return _motion_action(
        motion_id, lambda m: service.table_motion(current_user, m, reason), _("Motion tabled.")
    )


@bp.post("/motions/<int:motion_id>/amendments")
@login_required
def amend(motion_id):
    text = AmendmentPayload().text.data
    return _motion_action(
        motion_id,
        lambda m: service.propose_amendment(current_user, m, text),
        _("Amendment proposed."),
    )


def _settings_from_form(form: OpenVoteForm) -> dict:
    options = [line.strip() for line in (form.options.data or "").splitlines() if line.strip()]
    options_vote = form.kind.data == "options"
    settings = {
        "kind": form.kind.data or None,
        "options": options if options_vote else None,
        "secret": bool(form.secret.data),
        # The page shows the motion rules to a browser without JavaScript too; an option
        # vote is decided by plurality whatever was left selected there.
        "threshold": None if options_vote else (form.threshold.data or None),
        "quorum": form.quorum.data or None,
        "results": form.results.data or None,
    }
    if form.duration_minutes.data:
        settings["deadline"] = utcnow() + timedelta(minutes=form.duration_minutes.data)
    return settings


def _vote_form_settings() -> dict:
    form = OpenVoteForm()
    if not form.validate():
        from consult.core.payload import invalid_form

        raise invalid_form(form)
    return _settings_from_form(form)


@bp.post("/motions/<int:motion_id>/vote")
@login_required
def open_vote(motion_id):
    def run(motion):
        service.open_vote(current_user, motion, **_vote_form_settings())

    return _motion_action(motion_id, run, _("The vote is open."))


@bp.post("/amendments/<int:amendment_id>/<action>")
@login_required
def amendment_action(amendment_id, action):
    amendment = service.get_amendment(amendment_id)
    consultations.require_view(current_user, amendment.motion.consultation)
    default = _room_url(amendment.motion.consultation_id, f"motion-{amendment.motion_id}")
    if action == "accept":
        return _act(
            lambda: service.accept_amendment(current_user, amendment),
            _("Amendment accepted: it is the motion's new text."),
            default,
        )
    if action == "reject":
        reason = ReasonPayload().reason.data
        return _act(
            lambda: service.reject_amendment(current_user, amendment, reason),
            _("Amendment rejected."),
            default,
        )
    if action == "vote":

        def run():
            settings = _vote_form_settings()
            settings.pop("kind", None), settings.pop("options", None)
            service.open_amendment_vote(current_user, amendment, **settings)

        return _act(run, _("The vote on the amendment is open."), default)
    abort(404)


@bp.post("/votes/<int:vote_id>/ballot")
@login_required
def ballot(vote_id):
    vote = service.get_vote(vote_id)
    consultation = vote.consultation
    consultations.require_view(current_user, consultation)
    form = BallotPayload()
    default = _room_url(consultation.id, f"vote-{vote.id}")
    try:
        answer = service.cast_ballot(current_user, vote, form.choice.data, form.reason.data)
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(_back(default), code=303)
    if answer.get("receipt"):
        # Shown this once: the page is not cached and the code is stored nowhere with you.
        use_timezone(consultation.community.timezone)
        response = render_template(
            "motions/receipt.html",
            vote=vote,
            answer=answer,
            choice_label=service.choice_label(answer["choice"]),
            back=_back(default),
        )
        return response, 201, {"Cache-Control": "no-store"}
    texts = client_texts()
    flash(texts["ballot_" + answer["status"]], "ok")
    return redirect(_back(default), code=303)


@bp.post("/votes/<int:vote_id>/close")
@login_required
def close(vote_id):
    vote = service.get_vote(vote_id)
    consultations.require_view(current_user, vote.consultation)
    return _act(
        lambda: service.close_vote(current_user, vote),
        _("The vote is closed."),
        _room_url(vote.consultation_id, f"vote-{vote.id}"),
    )
