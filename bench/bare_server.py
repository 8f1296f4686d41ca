"""The floor Yiting stands on: a bare python-socketio server with the same broadcast as a
consultation room — no authentication, no database. Used only by the benchmark.

It broadcasts a message of the same shape as Yiting's ``message:new`` (the same fields,
an author, the text as HTML): a room's clients share one process, and how fast they read
weighs on both servers, so a smaller message would make the floor look faster for a reason
that is not the server's.

    SOCKETIO_ASYNC_MODE=eventlet PORT=5100 python bench/bare_server.py
"""

import os

MODE = os.environ.get("SOCKETIO_ASYNC_MODE", "eventlet")
if MODE == "eventlet":
    import eventlet

    eventlet.monkey_patch()
elif MODE == "gevent":
    from gevent import monkey

    monkey.patch_all()

import html  # noqa: E402
import itertools  # noqa: E402
from datetime import UTC, datetime  # noqa: E402

from flask import Flask  # noqa: E402
from flask_socketio import SocketIO, join_room  # noqa: E402

from consult.core import futex, serving  # noqa: E402

app = Flask(__name__)
# The connections are kept alive as Yiting keeps its own (a ping every 20 s to every client).
socketio = SocketIO(
    app, async_mode=MODE, cors_allowed_origins=None, ping_interval=20, ping_timeout=20
)
sequence = itertools.count(1)


@app.route("/")
def index():
    return "bare"


@socketio.on("room:join")
def on_join(data):
    join_room(f"consultation:{data['consultation_id']}")
    return {"ok": True, "messages": []}


@socketio.on("message:send")
def on_send(data):
    seq = next(sequence)
    message = {
        "id": seq,
        "seq": seq,
        "uid": seq,
        "consultation_id": data["consultation_id"],
        "kind": "message",
        "author": {"username": "bench00000", "display_name": "Bench 0", "role": "voter"},
        "body": data["body"],
        "html": f"<p>{html.escape(data['body'])}</p>",
        "client_id": data["client_id"],
        "created_at": datetime.now(UTC).replace(tzinfo=None).isoformat() + "Z",
        "hidden": False,
    }
    socketio.emit("message:new", message, to=f"consultation:{data['consultation_id']}")
    return {"ok": True, "message": message}


if __name__ == "__main__":
    futex.use_global_hash()  # as Yiting's server does (app.py): the same floor
    # The same listening queue as Yiting's server (LISTEN_BACKLOG's default): the same door.
    serving.serve(app, socketio, MODE, "127.0.0.1", int(os.environ["PORT"]), 1024)
