"""Working-day arithmetic on the Indonesian calendar: weekends, national holidays, cuti bersama."""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache

import holidays

from portal.models.base import today
from portal.services import settings

# "public" = national holidays, "government" = cuti bersama (joint leave days).
HOLIDAY_CATEGORIES = ("public", "government")


def local_today() -> date:
    """Today's date in Asia/Jakarta (WIB): the day deadlines are counted from and against."""
    return today()


@lru_cache(maxsize=64)
def _holidays(year: int) -> frozenset[date]:
    calendar = holidays.country_holidays("ID", years=year, categories=HOLIDAY_CATEGORIES)
    return frozenset(calendar)


def is_working_day(day: date) -> bool:
    """Monday to Friday and not a national holiday or cuti bersama."""
    return day.weekday() < 5 and day not in _holidays(day.year)


def add_working_days(start: date, days: int) -> date:
    """The date `days` working days after `start` (start itself does not count)."""
    current = start
    remaining = days
    while remaining > 0:
        current += timedelta(days=1)
        if is_working_day(current):
            remaining -= 1
    return current


def working_days_between(start: date, end: date) -> int:
    """Working days after `start` up to and including `end` (0 if end <= start)."""
    count, current = 0, start
    while current < end:
        current += timedelta(days=1)
        if is_working_day(current):
            count += 1
    return count


def due_date(status: str, since: date) -> date | None:
    """When the current status must be acted on, or None if it has no deadline.

    The admin's deadlines are read from the database each time (no process cache, so
    every app server applies a change at once); config holds the defaults.
    """
    days = settings.get_deadlines().get(status)
    return add_working_days(since, days) if days else None
