"""Shared column helpers for the models."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import event
from sqlalchemy.engine import Engine

# Kota Serang is in WIB. WIB has been UTC+7 without daylight saving since 1964, so a
# fixed offset is exact where the tz database is missing.
LOCAL_TIMEZONE: tzinfo
try:
    LOCAL_TIMEZONE = ZoneInfo("Asia/Jakarta")
except ZoneInfoNotFoundError:  # pragma: no cover - systems without a tz database
    LOCAL_TIMEZONE = timezone(timedelta(hours=7), "WIB")


def _system_clock() -> datetime:
    """The machine's time, aware, in UTC."""
    return datetime.now(UTC)


# The one clock every date and time in the portal is read from. Tests move it (with
# `moved_clock`) to cross period boundaries without editing rows or sleeping.
_clock: Callable[[], datetime] = _system_clock


def now() -> datetime:
    """The current time, aware, in UTC, from the portal's clock."""
    return _clock()


@contextmanager
def moved_clock(clock: Callable[[], datetime]) -> Iterator[None]:
    """Read the time from `clock` (an aware UTC datetime) inside the block."""
    global _clock
    previous, _clock = _clock, clock
    try:
        yield
    finally:
        _clock = previous


def utcnow() -> datetime:
    """The current time in UTC, as a naive value the database stores portably."""
    return now().replace(tzinfo=None)


def today() -> date:
    """Today's date in Kota Serang (WIB).

    Report dates are kept to the day on purpose, and the day is the local one: the
    working-day calendar, the citizen's "today" and the inspectorate's all run on WIB.
    """
    return now().astimezone(LOCAL_TIMEZONE).date()


@event.listens_for(Engine, "connect")
def _sqlite_foreign_keys(connection: Any, _record: Any) -> None:
    """SQLite enforces foreign keys (and ON DELETE CASCADE) only when asked, per connection."""
    if isinstance(connection, sqlite3.Connection):
        cursor = connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        # A deleted row (a signed-out session, a crypto-shredded key) is overwritten on
        # disk, not left in a free page for a copy of the file to give back.
        cursor.execute("PRAGMA secure_delete=ON")
        cursor.close()
