"""The server process uses the system's futex hash, not a small one of its own
(consult/core/futex.py). Each check runs in a fresh Python process: the setting is the
process's, and the test process's own threads must not decide it."""

import json
import os
import subprocess
import sys

from tests.conftest import ROOT

THREADS_THEN_GLOBAL = """
import json, threading
from consult.core import futex

def threads(count):
    started = [threading.Thread(target=done.wait) for _ in range(count)]
    for thread in started:
        thread.start()
    return started

done = threading.Event()
first = threads(50)
before = futex.slots()
used = futex.use_global_hash()
after = futex.slots()
more = threads(200)
later = futex.slots()
again = futex.use_global_hash()
done.set()
print(json.dumps({"before": before, "used": used, "after": after, "later": later, "again": again}))
"""

SERVER_START = """
import json, threading
import app
from consult.core import futex

done = threading.Event()
threading.Thread(target=done.wait).start()  # a thread, as a server has before it serves
before = futex.slots()
app.serving.serve = lambda *args, **kwargs: None  # start as the server does, without serving
app.main()
after = futex.slots()
done.set()
print(json.dumps({"before": before, "after": after}))
"""


def run(code: str, **env) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={**os.environ, **env},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.strip().splitlines()[-1]


def test_a_process_with_threads_moves_to_the_system_hash_and_stays_there():
    seen = json.loads(run(THREADS_THEN_GLOBAL))
    if seen["before"] is None:  # a kernel without private futex hashes: nothing to change
        assert seen == {"before": None, "used": False, "after": None, "later": None, "again": False}
        return
    # Linux 6.17 and later: threads gave the process a small hash of its own (16 slots here)
    assert seen["before"] > 0
    # after the switch it has none, more threads do not bring one back, and asking twice is
    # no error
    assert seen == {**seen, "used": True, "after": 0, "later": 0, "again": True}


def test_the_server_switches_before_it_serves(tmp_path):
    seen = json.loads(run(SERVER_START, SOCKETIO_ASYNC_MODE="threading", YITING_DATA=str(tmp_path)))
    if seen["before"] is None:  # a kernel without private futex hashes
        assert seen["after"] is None
    else:
        assert seen["before"] > 0 and seen["after"] == 0, seen
