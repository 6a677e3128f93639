"""Months, the finest date grain anything public shows: one key format, one set of helpers.

Published statistics, the register of publications and the API all write a month as
"YYYY-MM" and read it back with these functions, so they cannot drift apart.
"""

from __future__ import annotations

from datetime import UTC, date, datetime


def month_of(moment: date | datetime) -> date:
    """The first day of the month of `moment`."""
    return date(moment.year, moment.month, 1)


def month_key(month: date) -> str:
    """A month as YYYY-MM."""
    return f"{month.year:04d}-{month.month:02d}"


def month_from_key(key: str) -> date:
    """The first day of the month a YYYY-MM key names (ValueError if it names none)."""
    year, month = key[:7].split("-")
    return date(int(year), int(month), 1)


def month_start_utc(moment: date | datetime) -> datetime:
    """The first instant (UTC) of the month, for timestamps that must stay month-level."""
    return datetime(moment.year, moment.month, 1, tzinfo=UTC)
