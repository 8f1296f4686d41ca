"""Times are stored in UTC (naive, as every engine round-trips them) and shown in the
community's time zone."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_TZ = "Asia/Shanghai"


def utcnow() -> datetime:
    """The current time in UTC, without tzinfo, as stored in the database."""
    return datetime.now(UTC).replace(tzinfo=None)


def as_utc(value: datetime) -> datetime:
    """An aware UTC datetime for a stored naive one."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def to_storage(value: datetime, tz: str = DEFAULT_TZ) -> datetime:
    """A naive UTC datetime for one given in ``tz`` (naive) or aware."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=zone(tz))
    return value.astimezone(UTC).replace(tzinfo=None)


def zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or DEFAULT_TZ)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(DEFAULT_TZ)


def isoformat(value: datetime | None) -> str | None:
    """ISO 8601 with an explicit ``Z`` for the API."""
    if value is None:
        return None
    if value.tzinfo is None:  # stored times are naive UTC (the common, cheaper case)
        return value.isoformat() + "Z"
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
