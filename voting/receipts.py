"""Receipt codes (回执码) for secret ballots.

A secret ballot holds only its choice, its reason and a random receipt code shown to the
voter once. The published outcome lists every receipt with its choice, sorted by the code,
so that each voter can check that their ballot was counted as cast while nobody can tell
from the list who cast which ballot (not even from the order of casting).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable

#: No 0/O, 1/I/L: a code is read aloud and copied by hand.
ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
GROUPS = 3
GROUP_LENGTH = 4
RECEIPT_RE = re.compile(
    rf"[{ALPHABET}]{{{GROUP_LENGTH}}}(-[{ALPHABET}]{{{GROUP_LENGTH}}}){{{GROUPS - 1}}}"
)


def new_receipt() -> str:
    """A fresh random code such as ``K7QX-3MHD-W9TP`` (about 59 bits of chance)."""
    return "-".join(
        "".join(secrets.choice(ALPHABET) for _ in range(GROUP_LENGTH)) for _ in range(GROUPS)
    )


def is_receipt(code: str) -> bool:
    return isinstance(code, str) and RECEIPT_RE.fullmatch(code) is not None


def published_receipts(ballots: Iterable[tuple[str, str]]) -> list[dict]:
    """Every secret ballot's ``receipt`` and ``choice``, sorted by receipt.

    Takes ``(receipt, choice)`` pairs — there is nothing else to give it: a secret ballot
    knows no voter.
    """
    return [{"receipt": receipt, "choice": choice} for receipt, choice in sorted(ballots)]
