"""Shared column helpers for the models."""

from __future__ import annotations

from datetime import UTC, date, datetime


def utcnow() -> datetime:
    """The current time in UTC, as a naive value the database stores portably."""
    return datetime.now(UTC).replace(tzinfo=None)


def today() -> date:
    """Today's date in UTC; report dates are kept to the day on purpose."""
    return utcnow().date()
