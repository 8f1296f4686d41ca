"""Which futex hash the kernel uses for this process: its own, or the system's.

Every lock a thread waits on (Python's GIL, a queue's condition, a socket's) is a futex, and
the kernel finds a futex's waiters through a hash table. Since Linux 6.17 a process that
starts threads gets a table of its own, and on the kernel Yiting was measured on it stayed
at 16 slots however many threads the process had. In threading mode a server has about four
threads per connection, nearly all waiting: at 500 connections some 2,000 waiters share 16
slots, and waking one thread means a walk along a long list under a spin lock that the
other CPU wants too. A server process of 500 connections (Yiting's or the benchmark's bare
one) was then slow for its whole life, at random: 8 of 92 bare processes, with 1.5–2.0
times the CPU per message, a median latency of 187–780 ms instead of 32–86 ms, and, in a
profile, 41% of its time in the kernel's ``futex_wake``. On the system's table (256 slots
per CPU), as before 6.17, none of 28 was (docs/performance.md).
"""

from __future__ import annotations

import ctypes
import sys

PR_FUTEX_HASH = 78
PR_FUTEX_HASH_SET_SLOTS = 1
PR_FUTEX_HASH_GET_SLOTS = 2


def _prctl(*args: int) -> int:
    libc = ctypes.CDLL(None, use_errno=True)
    return libc.prctl(*(ctypes.c_ulong(arg) for arg in args))


def slots() -> int | None:
    """The slots of this process's own futex hash: 0 when it uses the system's, ``None``
    where the kernel has no such setting (not Linux, or Linux before 6.17)."""
    if not sys.platform.startswith("linux"):
        return None
    found = _prctl(PR_FUTEX_HASH, PR_FUTEX_HASH_GET_SLOTS, 0, 0, 0)
    return None if found < 0 else found


def use_global_hash() -> bool:
    """Have this process use the system's futex hash. True if it does now; False where the
    kernel has no private hashes, or this process's can no longer be changed."""
    if slots() is None:
        return False
    _prctl(PR_FUTEX_HASH, PR_FUTEX_HASH_SET_SLOTS, 0, 0, 0)
    return slots() == 0
