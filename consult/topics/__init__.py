"""Topic collection (议题征集), announcements and written opinions, notifications.

- ``service``: categories and topics (propose, support, accept into a consultation, decline);
- ``announcement``: attendance and written opinions (书面意见) before the room opens;
- ``notifications``: in-app notifications and the ``deliver`` seam for other channels.
"""

# Importing ``notifications`` registers its transition hook and announcement listener, once
# per process.
from . import models, notifications  # noqa: F401

#: Requests that show no page: they need no reader read before they start.
NOT_PAGES = {"static", "web.vendor"}


def init_app(app):
    from flask import request, session
    from flask_login import current_user

    from consult.motions import tasks

    from . import announcement, api, reminders, routes  # noqa: F401

    app.register_blueprint(routes.bp)
    # The server's periodic task (started with its first request) reminds of meetings too.
    tasks.add_sweep(reminders.remind_coming, "REMINDER_SWEEP_SECONDS")

    @app.before_request
    def read_page_reader():
        # A signed-in page shows the reader's unread notifications: read them with the user.
        if (
            request.method == "GET"
            and "_user_id" in session
            and request.blueprint != "api"
            and request.endpoint not in NOT_PAGES
        ):
            notifications.preload_page_reader(session["_user_id"])

    def unread_notifications() -> int:
        if not current_user.is_authenticated:
            return 0
        return notifications.unread_count(current_user)

    def announcement_panel(consultation) -> dict:
        return announcement.panel(current_user, consultation)

    app.jinja_env.globals.update(
        unread_notifications=unread_notifications,
        announcement_panel=announcement_panel,
        written_opinions=announcement.written_opinions,
    )
