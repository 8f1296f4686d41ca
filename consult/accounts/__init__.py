"""Accounts: people, passwords, sign-in, API tokens."""


def init_app(app):
    from . import api, routes  # noqa: F401

    app.register_blueprint(routes.bp)
