"""The server's full garbage collections run on a clock (consult/core/collector.py): Python
makes none by itself, however many objects survive into the oldest generation, and the
clock makes one each time it wakes."""

import gc

import pytest

from consult import config
from consult.core import collector
from tests.conftest import fresh_python


@pytest.fixture
def thresholds():
    """Python's thresholds as they were, back after the test."""
    before = gc.get_threshold()
    yield before
    gc.set_threshold(*before)


class _Stop(Exception):
    pass


def _full_collections(during) -> int:
    """How many full collections Python made while ``during()`` ran."""
    seen = []

    def count(phase, info):
        if phase == "start" and info["generation"] == 2:
            seen.append(1)

    gc.callbacks.append(count)
    try:
        during()
    finally:
        gc.callbacks.remove(count)
    return len(seen)


def _survivors():
    """Objects that live through many young collections, as a room's connections do: more
    than a quarter of those already in the oldest generation, Python's own rule for a full
    collection."""
    return [[] for _ in range(len(gc.get_objects()) // 2 + 100_000)]


def test_python_makes_no_full_collection_by_itself_once_the_clock_runs(thresholds):
    started = []
    assert collector.collect_on_a_clock(60, lambda *task: started.append(task), lambda s: None)
    assert gc.get_threshold() == (thresholds[0], thresholds[1], collector.NEVER)
    assert len(started) == 1 and started[0][1] == 60
    assert _full_collections(_survivors) == 0
    gc.set_threshold(*thresholds)
    assert _full_collections(_survivors) > 0  # Python's own rule, for comparison


def test_the_clock_makes_a_full_collection_each_time_it_wakes(thresholds):
    started = []
    collector.collect_on_a_clock(0.5, lambda *task: started.append(task), lambda s: None)
    task, seconds, _sleep = started[0]
    waits = []

    def sleep(s):
        waits.append(s)
        if len(waits) == 3:
            raise _Stop

    def run():
        with pytest.raises(_Stop):
            task(seconds, sleep)

    assert _full_collections(run) == 2
    assert waits == [0.5, 0.5, 0.5]


def test_zero_leaves_python_to_its_own_rule(thresholds):
    started = []
    assert not collector.collect_on_a_clock(0, lambda *task: started.append(task), lambda s: 0)
    assert gc.get_threshold() == thresholds and started == []


SERVER_AS_STARTED = (
    "import gc, app; app.prepare(); before = gc.get_stats()[2]['collections']; "
    "app.socketio.sleep(1.2); "
    "print(gc.get_threshold()[2], gc.get_stats()[2]['collections'] - before)"
)


def _server_collections(tmp_path, mode: str, seconds: str | None) -> tuple[int, int]:
    """In a fresh process started as the server starts (``app.prepare()``) in ``mode``, then
    idle for 1.2 s: the oldest generation's threshold, and the full collections made."""
    seen = fresh_python(
        SERVER_AS_STARTED, tmp_path, SOCKETIO_ASYNC_MODE=mode, FULL_COLLECTION_SECONDS=seconds
    )
    threshold, collections = seen.split()
    return int(threshold), int(collections)


@pytest.mark.parametrize("mode", ["eventlet", "gevent", "threading"])
def test_the_server_collects_on_its_clock_in_each_mode(tmp_path, mode):
    threshold, collections = _server_collections(tmp_path, mode, "0.25")
    assert threshold == collector.NEVER
    assert 3 <= collections <= 5  # at 0.25, 0.5, 0.75 and 1.0 s


def test_the_server_collects_by_pythons_rule_when_set_to_zero(tmp_path):
    assert _server_collections(tmp_path, "eventlet", "0") == (10, 0)


def test_the_clock_ticks_every_minute_unless_told(monkeypatch):
    monkeypatch.delenv("FULL_COLLECTION_SECONDS", raising=False)
    assert config.from_environment()["FULL_COLLECTION_SECONDS"] == 60
