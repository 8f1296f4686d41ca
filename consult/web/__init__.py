"""Site-wide web glue: language and text-size switches, security headers, error pages,
the home page and the served browser dependencies."""


def init_app(app):
    from consult.core.markdown import render, render_light

    from . import errors, i18n, routes, security

    app.jinja_env.filters["markdown"] = render
    app.jinja_env.filters["markdown_light"] = render_light
    i18n.init_app(app)
    security.init_app(app)
    errors.init_app(app)
    app.register_blueprint(routes.bp)
    # Runs before every other before-request function.
    app.before_request_funcs.setdefault(None, []).insert(0, _forget_earlier_request)


def _forget_earlier_request():
    """Start each request without the signed-in user, language, time zone or CSRF token of an
    earlier one. Flask reuses an application context that is already pushed (tests, scripts),
    and Flask-Login, Flask-Babel, Flask-WTF and ``use_timezone`` keep per-request values in
    ``g``."""
    from flask import current_app, g

    keys = ("_login_user", "_flask_babel", "timezone", current_app.config["WTF_CSRF_FIELD_NAME"])
    for key in keys:
        g.pop(key, None)
