from urllib.parse import urlsplit, urlunsplit

from flask import (
    Blueprint,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    send_from_directory,
    url_for,
)
from flask_login import current_user

from consult.communities.service import communities_of
from consult.config import ROOT
from consult.consultations.service import meetings_of

from .i18n import COOKIE

bp = Blueprint("web", __name__)

VENDOR = {
    "socket.io.esm.min.js": ROOT / "node_modules" / "socket.io-client" / "dist",
}
ONE_YEAR = 365 * 24 * 3600


def _safe_next(default: str = "/") -> str:
    """``next`` (or the referrer) if it is a page of this site, else ``default``."""
    target = request.args.get("next") or request.referrer or default
    # Browsers ignore tabs and newlines inside URLs and read "\\" as "/": refuse them all,
    # with every other control character and space, rather than guess what a browser makes
    # of them.
    if "\\" in target or any(ord(char) <= 0x20 or ord(char) == 0x7F for char in target):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        if parts.scheme not in ("http", "https") or parts.netloc != request.host:
            return default
        target = urlunsplit(("", "", parts.path or "/", parts.query, parts.fragment))
    # Only a path on this site: never a protocol-relative "//host".
    if not target.startswith("/") or target.startswith("//"):
        return default
    return target


@bp.route("/")
def home():
    return render_template(
        "home.html",
        meetings=meetings_of(current_user),
        communities=communities_of(current_user),
    )


def _secure() -> bool:
    """Preference cookies are Secure wherever the session cookie is (SESSION_COOKIE_SECURE)."""
    return bool(current_app.config.get("SESSION_COOKIE_SECURE"))


@bp.route("/lang/<code>")
def set_language(code):
    response = redirect(_safe_next())
    if code in ("zh", "en"):
        response.set_cookie(
            COOKIE, code, max_age=ONE_YEAR, samesite="Lax", httponly=True, secure=_secure()
        )
    return response


@bp.route("/text/<size>")
def set_text_size(size):
    response = redirect(_safe_next())
    if size in ("normal", "large"):
        response.set_cookie(
            "text", size, max_age=ONE_YEAR, samesite="Lax", httponly=True, secure=_secure()
        )
    return response


@bp.route("/vendor/<name>")
def vendor(name):
    folder = VENDOR.get(name)
    if folder is None:
        abort(404)
    return send_from_directory(folder, name, max_age=3600)


@bp.app_context_processor
def page_globals():
    return {
        "large_text": request.cookies.get("text") == "large",
        "switch_next": request.full_path.rstrip("?"),
        "url_for": url_for,
    }
