"""Counting ballots (计票): one count per choice, every choice listed, zeros included."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from .rules import RuleError


def tally(choices: Sequence[str], cast: Iterable[str]) -> dict[str, int]:
    """Ballots per choice, in the order of the ballot paper; the counts sum to ballots cast.

    A choice that is not on the ballot paper is refused rather than silently dropped.
    """
    counts = dict.fromkeys(choices, 0)
    for choice in cast:
        if choice not in counts:
            raise RuleError("invalid_choice", f"not a choice of this vote: {choice!r}")
        counts[choice] += 1
    return counts
