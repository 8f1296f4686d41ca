"""Minority opinions (少数意见): the reasons of the losing side and of abstentions.

When a vote closes, the reason on every ballot whose choice did not carry, and on every
abstention, becomes one of that vote's minority opinions — named in an open ballot,
anonymous in a secret one. Opinions recorded from the floor are added beside them. None is
ever dropped or edited: the text is kept as written (only surrounding blanks are trimmed).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .rules import Settings, losing_choices


@dataclass(frozen=True)
class CastBallot:
    """A ballot as the compilation sees it; ``author`` is None for a secret ballot."""

    choice: str
    reason: str | None = None
    author: str | None = None


def compile_minority_opinions(
    settings: Settings, result: str, ballots: Iterable[CastBallot], secret: bool
) -> list[dict]:
    """The minority opinions of a closed vote: reasons of the losing side and of abstentions.

    Each is ``{"text", "choice", "source": "ballot", "author"}``; ``author`` is the voter's
    name in an open ballot and None in a secret one. They are listed by choice (in ballot
    paper order), then by author, then by text — never in the order they were cast.
    """
    losing = losing_choices(settings, result)
    order = {choice: n for n, choice in enumerate(settings.choices)}
    opinions = []
    for ballot in ballots:
        text = (ballot.reason or "").strip()
        if ballot.choice not in losing or not text:
            continue
        opinions.append(
            {
                "text": text,
                "choice": ballot.choice,
                "source": "ballot",
                "author": None if secret else ballot.author,
            }
        )
    opinions.sort(key=lambda o: (order.get(o["choice"], len(order)), o["author"] or "", o["text"]))
    return opinions


def with_floor_opinions(from_ballots: Sequence[dict], from_floor: Iterable[dict]) -> list[dict]:
    """Ballot opinions first, then those recorded from the floor (``source`` = ``floor``),
    in the order they were recorded; the floor's ``choice`` is None unless it said one."""
    floor = [
        {
            "text": (item.get("text") or "").strip(),
            "choice": item.get("choice"),
            "source": "floor",
            "author": item.get("author"),
        }
        for item in from_floor
        if (item.get("text") or "").strip()
    ]
    return [*from_ballots, *floor]
