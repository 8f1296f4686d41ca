"""Serving on a listening socket whose queue holds a crowd arriving at once.

The kernel completes a client's connection before the server takes it; the listening socket's
backlog is how many such connections may wait. Left to the libraries it is 50 under eventlet
(Flask-SocketIO's ``run`` gives no way to change it) and 128 under gevent and Werkzeug. When
a hundred residents cast their ballots at the same moment, each on a new connection, the
queue overflowed: the kernel dropped the surplus, those clients waited a second to try again,
and now and then one was reset ("Connection reset by peer") and saw no answer at all.

``LISTEN_BACKLOG`` (1024) sets the backlog in every async mode. Linux caps it at
``net.core.somaxconn`` (4096 since Linux 5.4).
"""

from __future__ import annotations

import socket


def serve(app, socketio, mode: str, host: str, port: int, backlog: int) -> None:
    """Serve ``app`` with Flask-SocketIO's server for ``mode`` until the process stops."""
    if mode == "eventlet":
        import eventlet
        import eventlet.wsgi

        # What SocketIO.run does for eventlet (no TLS, no reloader), with our backlog.
        family, _type, _proto, _name, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM
        )[0]
        listener = eventlet.listen(address, family, backlog=backlog)
        eventlet.wsgi.server(listener, app, log_output=False)
    elif mode == "gevent":
        # gevent's WSGIServer takes the backlog among the options SocketIO.run passes on.
        socketio.run(app, host=host, port=port, log_output=False, backlog=backlog)
    else:
        from werkzeug.serving import BaseWSGIServer

        # socketserver's documented knob: the queue size the server listens with.
        BaseWSGIServer.request_queue_size = backlog
        socketio.run(app, host=host, port=port, log_output=False, allow_unsafe_werkzeug=True)
