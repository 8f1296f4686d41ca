from flask import Blueprint, current_app, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user

from consult.core import sessions
from consult.errors import DomainError
from consult.web.routes import _safe_next

from . import service
from .forms import LoginForm, RegisterForm

bp = Blueprint("accounts", __name__)


def client_address() -> str:
    return request.remote_addr or "unknown"


def start_session(user) -> None:
    """Sign in with a fresh session (no fixation: the old session's data is dropped)."""
    keep = {k: session[k] for k in ("_flashes",) if k in session}
    session.clear()
    session.update(keep)
    login_user(user)
    sessions.start()  # its idle and absolute limits count from now
    session.permanent = True


def demo_site() -> bool:
    from consult.cli.demo import DEMO_SLUG, is_demo

    return current_app.config.get("SHOW_DEMO_NOTICE", True) and is_demo(DEMO_SLUG)


@bp.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    error = None
    status = 200
    if form.validate_on_submit():
        try:
            user = service.authenticate(form.username.data, form.password.data, client_address())
        except DomainError as exc:
            error, status = exc, exc.status
        else:
            start_session(user)
            return redirect(_safe_next(url_for("web.home")) if request.args.get("next") else "/")
    elif form.is_submitted():
        status = 422
    demo = demo_site()
    return render_template("accounts/login.html", form=form, error=error, demo=demo), status


@bp.route("/register", methods=["GET", "POST"])
def register():
    if current_user.is_authenticated:
        return redirect(url_for("web.home"))
    form = RegisterForm()
    error = None
    status = 200
    if form.validate_on_submit():
        try:
            user = service.register(
                form.username.data.strip(), form.display_name.data, form.password.data
            )
        except DomainError as exc:
            error, status = exc, exc.status
        else:
            start_session(user)
            from flask import flash

            flash(_("Welcome! Ask your community worker to add you to your community."), "ok")
            return redirect(url_for("web.home"))
    elif form.is_submitted():
        status = 422
    return render_template("accounts/register.html", form=form, error=error), status


@bp.route("/logout", methods=["POST"])
def logout():
    logout_user()
    session.clear()
    return redirect(url_for("web.home"))
