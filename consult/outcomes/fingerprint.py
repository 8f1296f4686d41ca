"""The content fingerprint of a published outcome (内容指纹).

``fingerprint(record)`` is ``"sha256:"`` followed by the 64 lower-case hex digits of the
SHA-256 of the record's canonical form:

- JSON with keys sorted, no insignificant whitespace (``","`` and ``":"`` separators),
  non-ASCII characters written as themselves (not ``\\u`` escapes), encoded as UTF-8;
- dates as ``YYYY-MM-DD``, times as ISO 8601 in UTC with whole seconds and a ``Z``
  (``2025-03-01T08:00:00Z``);
- text normalised to Unicode NFC and to ``\\n`` line endings;
- no floating point: an integral float becomes an integer, any other number is written as
  a decimal string, so no float formatting can change the value;
- tuples are lists; sets are refused (they have no order).

The same record therefore gives the same fingerprint in any process, on any machine and
from any database. This module has no Flask import so that anyone can check a fingerprint
with Python alone::

    python -c "import json,sys; from consult.outcomes.fingerprint import fingerprint; \\
               print(fingerprint(json.load(sys.stdin)))" < record.json
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from datetime import UTC, date, datetime
from decimal import Decimal

PREFIX = "sha256:"


def _text(value: str) -> str:
    return unicodedata.normalize("NFC", value.replace("\r\n", "\n").replace("\r", "\n"))


def _time(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)  # stored times are naive UTC
    value = value.astimezone(UTC).replace(microsecond=0)
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def _number(value):
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError("a fingerprinted record cannot hold NaN or infinity")
        if value.is_integer():
            return int(value)
        return format(Decimal(repr(value)).normalize(), "f")
    if isinstance(value, Decimal):
        if value == value.to_integral_value():
            return int(value)
        return format(value.normalize(), "f")
    return value


def normalise(value):
    """The record as plain JSON values, with the rules above applied."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float | Decimal):
        return _number(value)
    if isinstance(value, str):
        return _text(value)
    if isinstance(value, datetime):
        return _time(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"record keys must be text, not {type(key).__name__}")
            out[_text(key)] = normalise(item)
        return out
    if isinstance(value, list | tuple):
        return [normalise(item) for item in value]
    raise TypeError(f"cannot put {type(value).__name__} into a fingerprinted record")


def canonical_json(record: dict) -> str:
    """The canonical text of ``record`` (what is hashed, and what is stored)."""
    return json.dumps(
        normalise(record),
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
    )


def fingerprint_of_text(canonical: str) -> str:
    return PREFIX + hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def fingerprint(record: dict) -> str:
    """``sha256:`` + 64 hex digits over the canonical form of ``record``."""
    return fingerprint_of_text(canonical_json(record))


def is_fingerprint(value) -> bool:
    if not isinstance(value, str) or not value.startswith(PREFIX):
        return False
    digest = value[len(PREFIX) :]
    return len(digest) == 64 and all(c in "0123456789abcdef" for c in digest)
