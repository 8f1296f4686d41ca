"""Consultations (协商议题): preparation, participants and the lifecycle."""


def init_app(app):
    from . import api, routes  # noqa: F401

    app.register_blueprint(routes.bp)
