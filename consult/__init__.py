"""Yiting (议厅): online community consultation.

``create_app`` builds the Flask application; each feature is a sub-package with an
``init_app(app)`` that registers its models, routes, API calls and Socket.IO events.
"""

from __future__ import annotations

from importlib import import_module

from flask import Flask

from . import config
from .extensions import babel, csrf, db, login_manager, migrate, socketio

#: The features, in the order their routes are registered.
FEATURES = (
    "audit",
    "accounts",
    "communities",
    "consultations",
    "room",
    "motions",
    "outcomes",
    "topics",
    "web",
    "cli",
)


def _import_socket_events() -> None:
    """Import every feature's ``events`` module before the Socket.IO server is built, so its
    handlers are registered on every app this process creates (tests create many)."""
    import_module(".core.sockets", __name__)
    for name in FEATURES:
        try:
            import_module(f".{name}.events", __name__)
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}.events":
                raise


def create_app(overrides: dict | None = None) -> Flask:
    app = Flask(
        __name__,
        template_folder=str(config.ROOT / "templates"),
        static_folder=str(config.ROOT / "static"),
    )
    app.config.update(config.DEFAULTS)
    app.config.update(config.from_environment())
    if overrides:
        app.config.update(overrides)

    if app.config.get("PROXY_HOPS"):
        from werkzeug.middleware.proxy_fix import ProxyFix

        hops = app.config["PROXY_HOPS"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)

    db.init_app(app)
    migrate.init_app(app, db, directory=str(config.ROOT / "migrations"))
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "accounts.login"
    login_manager.session_protection = "basic"

    from .accounts.service import load_session_user

    login_manager.user_loader(load_session_user)

    from .consultations.service import preload_reader
    from .core.sockets import preload_readers
    from .motions.service import preload_vote_reader

    preload_readers(app, {"vote_id": preload_vote_reader, "consultation_id": preload_reader})

    from .core import sessions

    sessions.init_app(app)

    from .web import i18n

    babel.init_app(
        app,
        locale_selector=i18n.select_locale,
        timezone_selector=i18n.select_timezone,
        default_translation_directories=str(config.ROOT / "consult" / "translations"),
    )
    _import_socket_events()
    from .core import queue, sockets

    # A Redis queue gets a client manager that tells clients when it is away (core/queue.py);
    # other kinds of queue are built by Flask-SocketIO. Naming the manager (None: in memory)
    # also keeps one app's queue from outliving it in the shared SocketIO object.
    manager = queue.manager_for(app.config)
    if manager is not None or not app.config["SOCKETIO_MESSAGE_QUEUE"]:
        queue_options = {"client_manager": manager, "message_queue": None}
    else:
        queue_options = {"message_queue": app.config["SOCKETIO_MESSAGE_QUEUE"]}
    socketio.init_app(
        app,
        async_mode=app.config["SOCKETIO_ASYNC_MODE"],
        **queue_options,
        cors_allowed_origins=app.config["SOCKETIO_CORS_ORIGINS"],
        max_http_buffer_size=app.config["SOCKETIO_MAX_HTTP_BUFFER_SIZE"],
        serializer=sockets.Packet,
        ping_interval=20,
        ping_timeout=20,
    )

    with app.app_context():
        from .core import database

        database.configure(app)

    for name in FEATURES:
        module = import_module(f".{name}", __name__)
        if hasattr(module, "init_app"):
            module.init_app(app)

    from .api import bp as api_bp

    app.register_blueprint(api_bp)
    return app
