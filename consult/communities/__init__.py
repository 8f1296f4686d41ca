"""Communities (社区) and memberships: residents, chairs, community admins."""


def init_app(app):
    from . import api, routes  # noqa: F401

    app.register_blueprint(routes.bp)
