"""Motions (动议), amendments (修正案), seconding (附议) and votes (表决).

- ``models``: motions with their revisions, amendments and seconds; votes with their frozen
  eligibility, open ballots (and their history), secret ballots with voter marks, and the
  minority opinions compiled at close;
- ``service``: every state change, and the readers other features use (``motions_of``,
  ``votes_of``, ``motion_to_dict``, ``vote_to_dict``); ``tasks``: the deadline task;
- ``events``: the Socket.IO events (imported by ``create_app`` before the server is built);
- ``api``: the JSON calls under ``/api/v1``; ``routes``: the motion page, the room's panel
  fragments and the forms that work without JavaScript.

The rules themselves — quorum, thresholds, ties, minority opinions — are in :mod:`voting`.
"""

from . import models  # noqa: F401


def init_app(app):
    from . import api, routes, service, tasks  # noqa: F401

    app.register_blueprint(routes.bp)
    app.jinja_env.globals["motions_panel"] = routes.motions_panel
    app.jinja_env.globals["choice_label"] = service.choice_label
    app.jinja_env.globals["result_label"] = service.result_label

    @app.before_request
    def _start_deadline_task():
        # Votes close at their deadline even when nobody is in the room: the task starts
        # with the first request the server answers (and when a vote with a deadline opens).
        tasks.start_deadline_sweeper(app)
