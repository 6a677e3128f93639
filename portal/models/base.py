"""Shared column helpers for the models."""

from __future__ import annotations

import sqlite3
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


def utcnow() -> datetime:
    """The current time in UTC, as a naive value the database stores portably."""
    return datetime.now(UTC).replace(tzinfo=None)


def today() -> date:
    """Today's date in Kota Serang (WIB).

    Report dates are kept to the day on purpose, and the day is the local one: the
    working-day calendar, the citizen's "today" and the inspectorate's all run on WIB.
    """
    return datetime.now(UTC).astimezone(LOCAL_TIMEZONE).date()


@event.listens_for(Engine, "connect")
def _sqlite_foreign_keys(connection: Any, _record: Any) -> None:
    """SQLite enforces foreign keys (and ON DELETE CASCADE) only when asked, per connection."""
    if isinstance(connection, sqlite3.Connection):
        cursor = connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()
