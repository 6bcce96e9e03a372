"""Protocol timestamps: UTC, millisecond precision, ``Z`` suffix (``2026-11-22T10:00:00.123Z``)."""

from __future__ import annotations

import re
from datetime import datetime, timezone

from .errors import MalformedError

__all__ = [
    "format_time",
    "parse_time",
    "require_aware",
]

_TS_RE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z")


def format_time(moment: datetime) -> str:
    """Format an aware datetime as a protocol timestamp (truncated to milliseconds)."""
    if moment.tzinfo is None:
        raise ValueError("protocol times must be timezone-aware")
    utc = moment.astimezone(timezone.utc)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def parse_time(value: object) -> datetime:
    """Parse a protocol timestamp into an aware UTC datetime, or raise ``MalformedError``."""
    if not isinstance(value, str) or not _TS_RE.fullmatch(value):
        raise MalformedError(f"not a UTC timestamp (YYYY-MM-DDTHH:MM:SS.sssZ): {value!r}")
    try:
        return datetime.fromisoformat(value[:-1]).replace(tzinfo=timezone.utc)
    except ValueError as exc:
        raise MalformedError(f"not a valid timestamp: {value!r}") from exc


def require_aware(moment: datetime) -> datetime:
    """Reject naive datetimes: every explicit ``now`` in the core must be timezone-aware."""
    if moment.tzinfo is None:
        raise ValueError("now must be a timezone-aware datetime")
    return moment
