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
