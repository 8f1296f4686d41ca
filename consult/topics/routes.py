"""Pages: topics, categories, notifications, and the announcement's forms."""

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from wtforms import SelectChoice

from consult.communities.service import can_chair as can_chair_in
from consult.communities.service import communities_of, get_community, is_community_admin
from consult.consultations import service as consultations
from consult.errors import DomainError

from . import announcement, notifications, service
from .forms import (
    AcceptForm,
    ActionForm,
    AttendanceForm,
    CategoryEditForm,
    CategoryForm,
    DeclineForm,
    OpinionForm,
    TopicForm,
)
from .models import TOPIC_STATUSES

bp = Blueprint("topics", __name__)


# --- topics ----------------------------------------------------------------------------------


@bp.route("/topics")
def index():
    """Topics of the communities the user belongs to; visitors are asked to sign in."""
    if not current_user.is_authenticated:
        return render_template("topics/index.html", signed_out=True)
    mine = communities_of(current_user)
    chosen = None
    slug = request.args.get("community")
    if slug:
        chosen = get_community(slug)
        service.require_member(current_user, chosen)
    sort = request.args.get("sort") or "support"
    status = request.args.get("status") or "all"
    if sort not in service.SORTS:
        sort = "support"
    if status != "all" and status not in TOPIC_STATUSES:
        status = "all"
    rows = service.list_topics([chosen] if chosen else mine, sort=sort, status=status, limit=200)
    return render_template(
        "topics/index.html",
        signed_out=False,
        communities=mine,
        chosen=chosen,
        rows=rows,
        sort=sort,
        status=status,
        statuses=TOPIC_STATUSES,
        admin_of=[c for c in ([chosen] if chosen else mine) if is_community_admin(current_user, c)],
    )


def _category_choices(community):
    return [SelectChoice(str(c.id), c.name) for c in service.categories(community)]


@bp.route("/topics/new", methods=["GET", "POST"])
@login_required
def new():
    mine = communities_of(current_user)
    slug = request.args.get("community") or (mine[0].slug if len(mine) == 1 else None)
    if not slug:
        return render_template("topics/choose_community.html", communities=mine)
    community = get_community(slug)
    service.require_member(current_user, community)
    form = TopicForm()
    form.category.choices = _category_choices(community)
    status = 200
    if form.validate_on_submit():
        try:
            topic = service.propose_topic(
                current_user,
                community,
                form.title.data,
                form.description.data or "",
                form.category.data or None,
            )
        except DomainError as exc:
            flash(exc.message, "error")
            status = exc.status
        else:
            flash(_("Your topic was posted. Members can now support it."), "ok")
            return redirect(url_for(".show", topic_id=topic.id))
    elif form.is_submitted():
        status = 422
    return render_template("topics/new.html", form=form, community=community), status


@bp.route("/topics/<int:topic_id>")
def show(topic_id):
    if not current_user.is_authenticated:
        return render_template("topics/index.html", signed_out=True), 401
    topic = service.get_topic(topic_id)
    service.require_view_topic(current_user, topic)
    from consult.web.i18n import use_timezone

    use_timezone(topic.community.timezone)
    is_chair = can_chair_in(current_user, topic.community)
    consultation = topic.consultation
    return render_template(
        "topics/show.html",
        topic=topic,
        supporters=service.supporters(topic),
        supported=service.has_supported(current_user, topic),
        is_proposer=topic.proposer_id == current_user.id,
        is_chair=is_chair,
        can_view_consultation=bool(
            consultation and consultations.can_view(current_user, consultation)
        ),
        action_form=ActionForm(),
        accept_form=AcceptForm(),
        decline_form=DeclineForm(),
    )


@bp.route("/topics/<int:topic_id>/support", methods=["POST"])
@login_required
def support(topic_id):
    topic = service.get_topic(topic_id)
    if ActionForm().validate_on_submit():
        try:
            service.support_topic(current_user, topic)
        except DomainError as exc:
            flash(exc.message, "error")
        else:
            flash(_("Thank you: you support this topic."), "ok")
    return redirect(url_for(".show", topic_id=topic.id))


@bp.route("/topics/<int:topic_id>/accept", methods=["POST"])
@login_required
def accept(topic_id):
    topic = service.get_topic(topic_id)
    form = AcceptForm()
    if form.validate_on_submit():
        try:
            consultation = service.accept_topic(current_user, topic, form.title.data or None)
        except DomainError as exc:
            flash(exc.message, "error")
        else:
            flash(_("The topic is now a draft consultation. Prepare it, then announce it."), "ok")
            return redirect(url_for("consultations.show", consultation_id=consultation.id))
    return redirect(url_for(".show", topic_id=topic.id))


@bp.route("/topics/<int:topic_id>/decline", methods=["POST"])
@login_required
def decline(topic_id):
    topic = service.get_topic(topic_id)
    form = DeclineForm()
    if form.validate_on_submit():
        try:
            service.decline_topic(current_user, topic, form.reason.data)
        except DomainError as exc:
            flash(exc.message, "error")
        else:
            flash(_("The topic was declined; the proposer sees your reason."), "ok")
    else:
        flash(_("The reason may have at most 2,000 characters."), "error")
    return redirect(url_for(".show", topic_id=topic.id))


# --- categories -------------------------------------------------------------------------------


@bp.route("/communities/<slug>/categories", methods=["GET", "POST"])
@login_required
def categories(slug):
    community = get_community(slug)
    from consult.communities.service import require_admin

    require_admin(current_user, community)
    form = CategoryForm()
    status = 200
    if form.validate_on_submit():
        try:
            service.add_category(current_user, community, form.name.data)
        except DomainError as exc:
            flash(exc.message, "error")
            status = exc.status
        else:
            flash(_("Category “%(name)s” added.", name=form.name.data.strip()), "ok")
            return redirect(url_for(".categories", slug=slug))
    elif form.is_submitted():
        status = 422
    return render_template(
        "topics/categories.html",
        community=community,
        form=form,
        edit_form=CategoryEditForm(),
        categories=service.categories(community, include_retired=True),
    ), status


@bp.route("/communities/<slug>/categories/<int:category_id>", methods=["POST"])
@login_required
def edit_category(slug, category_id):
    community = get_community(slug)
    category = service.get_category(community, category_id)
    form = CategoryEditForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        if form.action.data == "rename":
            service.update_category(current_user, category, name=form.name.data)
            flash(_("Renamed."), "ok")
        elif form.action.data == "retire":
            service.update_category(current_user, category, retired=True)
            flash(_("“%(name)s” is retired: kept on old topics, offered no more.",
                    name=category.name), "ok")  # fmt: skip
        elif form.action.data == "restore":
            service.update_category(current_user, category, retired=False)
            flash(_("“%(name)s” is offered again.", name=category.name), "ok")
        else:
            abort(400)
    except DomainError as exc:
        if exc.status == 403:
            raise
        flash(exc.message, "error")
    return redirect(url_for(".categories", slug=slug))


# --- notifications ---------------------------------------------------------------------------


@bp.route("/notifications")
@login_required
def notifications_page():
    """The newest notifications; opening the page marks them as read."""
    before = request.args.get("before", type=int)
    items = notifications.notifications_of(current_user, before=before, limit=50)
    unread_ids = {n.id for n in items if n.read_at is None}
    shown = [
        {
            "id": n.id,
            "text": notifications.render(n),
            "link": notifications.link(n),
            "created_at": n.created_at,
            "new": n.id in unread_ids,
        }
        for n in items
    ]
    if unread_ids:
        notifications.mark_read(current_user, sorted(unread_ids))
    return render_template(
        "topics/notifications.html",
        items=shown,
        older=items[-1].id if len(items) == 50 else None,
    )


# --- the announcement: attendance and written opinions ---------------------------------------


@bp.route("/consultations/<int:consultation_id>/attendance", methods=["POST"])
@login_required
def attendance(consultation_id):
    consultation = consultations.get_consultation(consultation_id)
    form = AttendanceForm()
    if form.validate_on_submit():
        try:
            announcement.answer_attendance(current_user, consultation, form.answer.data)
        except DomainError as exc:
            if exc.status == 404:
                raise
            flash(exc.message, "error")
        else:
            flash(_("Thank you, your answer is saved."), "ok")
    return redirect(url_for("consultations.show", consultation_id=consultation.id) + "#attendance")


@bp.route("/consultations/<int:consultation_id>/written-opinion", methods=["POST"])
@login_required
def written_opinion(consultation_id):
    consultation = consultations.get_consultation(consultation_id)
    form = OpinionForm()
    if form.validate_on_submit():
        try:
            _opinion, created = announcement.submit_written_opinion(
                current_user, consultation, form.text.data
            )
        except DomainError as exc:
            if exc.status == 404:
                raise
            flash(exc.message, "error")
        else:
            flash(
                _("Your written opinion was submitted.")
                if created
                else _("Your written opinion was updated."),
                "ok",
            )
    else:
        flash(_("A written opinion may have at most 5,000 characters."), "error")
    return redirect(
        url_for("consultations.show", consultation_id=consultation.id) + "#written-opinions"
    )
