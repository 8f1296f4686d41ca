"""The floor Yiting stands on: a bare python-socketio server with the same broadcast as a
consultation room — no authentication, no database. Used only by the benchmark.

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

import itertools  # noqa: E402

from flask import Flask  # noqa: E402
from flask_socketio import SocketIO, join_room  # noqa: E402

app = Flask(__name__)
socketio = SocketIO(app, async_mode=MODE, cors_allowed_origins=None)
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
    message = {"id": next(sequence), "body": data["body"], "client_id": data["client_id"]}
    socketio.emit("message:new", message, to=f"consultation:{data['consultation_id']}")
    return {"ok": True, "message": message}


if __name__ == "__main__":
    options = {"allow_unsafe_werkzeug": True} if MODE == "threading" else {}
    socketio.run(app, host="127.0.0.1", port=int(os.environ["PORT"]), log_output=False, **options)
