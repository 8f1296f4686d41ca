"""Python's full garbage collections on a clock, in the server process.

Left to itself, Python collects its oldest generation whenever enough objects have survived
into it since the last time. A server with a room of 1,000 open did so every 2–5 s while
messages went out (the messages waiting in each connection's queue survive a young
collection or two before they are sent and freed), and each such collection walked every
connection's objects, stopping the whole process — every green thread — for 45–113 ms.
Each of them freed at most 2,700 objects.

:func:`collect_on_a_clock` leaves the young generations to Python (their collections took
2–14 ms there) and makes the full collection once every ``seconds`` on a background task
instead: in 100 s of that room, 31 full collections (2.6 s in all) became 5 (0.36 s, four of
them at start), and the largest resident size went from 245 to 255 MB.
"""

from __future__ import annotations

import gc
from collections.abc import Callable

#: The oldest generation's threshold that its count (young collections since the last full
#: one) never reaches: Python makes no full collection by itself.
NEVER = 2**31 - 1


def collect_on_a_clock(
    seconds: float,
    start_task: Callable[..., object],
    sleep: Callable[[float], object],
) -> bool:
    """Stop Python's own full collections and make one every ``seconds`` on a task started
    with ``start_task(function, *args)`` that waits with ``sleep`` (``socketio``'s, so that
    it is a thread or a green thread as the async mode decides). With ``seconds`` 0 or less
    nothing changes. Returns whether the clock was started."""
    if seconds <= 0:
        return False
    young, middle, _oldest = gc.get_threshold()
    gc.set_threshold(young, middle, NEVER)
    start_task(_collect_forever, seconds, sleep)
    return True


def _collect_forever(seconds: float, sleep: Callable[[float], object]) -> None:
    while True:
        sleep(seconds)
        gc.collect()  # a finalizer's error is printed by Python, not raised here
