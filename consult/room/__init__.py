"""The live room (协商室): presence, discussion, moderation, the speaker queue (发言排队)
and minority opinions from the floor (少数意见).

- ``models``: messages in a per-room sequence, the room's state (floor), mutes, raised
  hands, visits and floor opinions;
- ``service``: every state change and the readers other features use (``transcript``,
  ``attendance``, ``floor_opinions``, ``messages_after``);
- ``events``: the Socket.IO events (imported by ``create_app`` before the server is built);
- ``api``: ``/api/v1/consultations/<id>/messages`` and friends;
- ``routes``: the room page (a renderer of ``/consultations/<id>`` while live or closed).
"""

from . import models  # noqa: F401


def init_app(app):
    from . import api, routes  # noqa: F401

    app.register_blueprint(routes.bp)
    app.jinja_env.filters["room_time"] = routes.message_time
