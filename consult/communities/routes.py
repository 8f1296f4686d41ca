from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from consult.consultations.service import visible_consultations
from consult.errors import DomainError
from consult.web.i18n import use_timezone

from . import service
from .forms import ImportForm, MemberForm, RoleForm

bp = Blueprint("communities", __name__, url_prefix="/communities")


@bp.route("/<slug>")
def show(slug):
    community = service.get_community(slug)
    use_timezone(community.timezone)
    return render_template(
        "communities/show.html",
        community=community,
        consultations=visible_consultations(current_user, community),
        role=service.community_role(current_user, community),
        can_create=service.can_chair(current_user, community),
        is_admin=service.is_community_admin(current_user, community),
    )


@bp.route("/<slug>/admin", methods=["GET", "POST"])
@login_required
def admin(slug):
    community = service.get_community(slug)
    service.require_admin(current_user, community)
    form = MemberForm(prefix="member")
    import_form = ImportForm(prefix="import")
    report = None
    status = 200
    if form.validate_on_submit():
        try:
            service.add_member(
                current_user, community, form.username.data, form.display_name.data,
                form.password.data, form.role.data,
            )  # fmt: skip
        except DomainError as exc:
            flash(exc.message, "error")
            status = exc.status
        else:
            flash(_("%(name)s was added.", name=form.username.data), "ok")
            return redirect(url_for(".admin", slug=slug))
    elif import_form.validate_on_submit():
        try:
            report = service.import_members(current_user, community, import_form.file.data.read())
        except DomainError as exc:
            flash(exc.message, "error")
            status = exc.status
    elif form.is_submitted() and form.errors:
        status = 422
    return render_template(
        "communities/admin.html",
        community=community,
        form=form,
        import_form=import_form,
        role_form=RoleForm(),
        report=report,
        members=service.members(community),
    ), status


@bp.route("/<slug>/members/<username>/role", methods=["POST"])
@login_required
def change_role(slug, username):
    community = service.get_community(slug)
    service.require_admin(current_user, community)
    form = RoleForm()
    if form.validate_on_submit():
        try:
            service.set_role(current_user, community, username, form.role.data)
        except DomainError as exc:
            flash(exc.message, "error")
        else:
            flash(_("Role changed."), "ok")
    else:
        flash(_("Choose one of the roles."), "error")
    return redirect(url_for(".admin", slug=slug))
