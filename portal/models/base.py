"""Shared column helpers for the models."""

from __future__ import annotations

import sqlite3
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine


def utcnow() -> datetime:
    """The current time in UTC, as a naive value the database stores portably."""
    return datetime.now(UTC).replace(tzinfo=None)


def today() -> date:
    """Today's date in UTC; report dates are kept to the day on purpose."""
    return utcnow().date()


@event.listens_for(Engine, "connect")
def _sqlite_foreign_keys(connection: Any, _record: Any) -> None:
    """SQLite enforces foreign keys (and ON DELETE CASCADE) only when asked, per connection."""
    if isinstance(connection, sqlite3.Connection):
        cursor = connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()
