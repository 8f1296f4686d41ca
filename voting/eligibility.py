"""Who may vote (表决权).

Eligible voters are the consultation's participants with role ``voter``, and the chair
(主持人) who votes with them, frozen when the vote opens: a role given or taken away later
does not change who may vote in a vote already open.
"""

from __future__ import annotations

from collections.abc import Iterable

#: Participant roles that carry a vote.
VOTING_ROLES = frozenset({"voter", "chair"})


def has_vote(role: str | None) -> bool:
    """Eligible voters: the consultation's participants with role voter (or chair)."""
    return role in VOTING_ROLES


def freeze(participants: Iterable[tuple[int, str]]) -> tuple[int, ...]:
    """The eligible voters' ids, fixed at opening, from ``(user_id, role)`` pairs."""
    return tuple(sorted({user_id for user_id, role in participants if has_vote(role)}))


def is_eligible(frozen: Iterable[int], user_id: int) -> bool:
    """Only someone on the list frozen at opening may cast a ballot."""
    return user_id in set(frozen)
