"""Errors as JSON under /api/ and as pages elsewhere; never a bare traceback."""

from flask import jsonify, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from consult.errors import DomainError
from consult.extensions import db

HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    429: "rate_limited",
}


def _wants_json() -> bool:
    return request.path.startswith("/api/")


def render_error(error: DomainError):
    if _wants_json():
        response = jsonify({"error": error.to_dict()})
        response.status_code = error.status
        return response
    return render_template("error.html", error=error), error.status


def init_app(app):
    @app.errorhandler(DomainError)
    def domain_error(error):
        db.session.rollback()
        return render_error(error)

    @app.errorhandler(CSRFError)
    def csrf_error(error):
        return render_error(
            DomainError(
                "csrf_failed",
                _("The form expired or came from elsewhere. Please go back and try again."),
            )
        )

    @app.errorhandler(HTTPException)
    def http_error(error):
        code = HTTP_CODES.get(error.code, "http_error")
        messages = {
            404: _("Not found."),
            405: _("This method is not allowed here."),
            413: _("The request is too large."),
        }
        wrapped = DomainError(code, messages.get(error.code, error.description))
        wrapped.status = error.code
        return render_error(wrapped)

    @app.errorhandler(Exception)
    def unexpected(error):
        app.logger.exception("unexpected error")
        db.session.rollback()
        wrapped = DomainError("server_error", _("Something went wrong on our side."))
        wrapped.status = 500
        return render_error(wrapped)
