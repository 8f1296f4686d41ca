"""`flask --app app …` commands run in threading mode whatever the server's async mode: the
command has imported Flask before app.py could monkey-patch, and eventlet's late patching
printed a traceback for every command. The server itself still runs in its mode."""

import pytest

from tests.conftest import fresh_python, run_fresh

MODE_AS_SEEN = "import app; print(app.ASYNC_MODE, app.app.config['SOCKETIO_ASYNC_MODE'])"


@pytest.mark.parametrize("mode", ["eventlet", "gevent"])
def test_a_command_runs_without_a_traceback_in_threading_mode(tmp_path, mode):
    flask = ["-m", "flask", "--app", "app"]
    upgrade = run_fresh([*flask, "db", "upgrade"], tmp_path, SOCKETIO_ASYNC_MODE=mode)
    assert "Traceback" not in upgrade.stderr and "monkey_patch" not in upgrade.stderr
    assert "Running upgrade" in upgrade.stderr  # Alembic's log: the command did its work
    routes = run_fresh([*flask, "routes"], tmp_path, SOCKETIO_ASYNC_MODE=mode)
    assert "/notice" in routes.stdout, routes.stderr
    assert "Traceback" not in routes.stderr


def _mode_seen(tmp_path, mode: str, first: str = "") -> list[str]:
    """``app.ASYNC_MODE`` and the app's setting, in a fresh process that runs ``first``
    before it imports app.py."""
    return fresh_python(first + MODE_AS_SEEN, tmp_path, SOCKETIO_ASYNC_MODE=mode).split()


@pytest.mark.parametrize("mode", ["eventlet", "gevent", "threading"])
def test_the_server_keeps_its_mode_and_a_command_runs_in_threading(tmp_path, mode):
    assert _mode_seen(tmp_path, mode) == [mode, mode]  # python app.py
    assert _mode_seen(tmp_path, mode, "import flask; ") == ["threading", "threading"]
