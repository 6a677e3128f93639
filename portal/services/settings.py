"""Admin settings stored in the database: working-day deadlines per status and retention.

Values live in the `Setting` table (JSON), never in process memory, so every app
server sees a change at its next request. Config holds the defaults.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from flask import current_app

from portal.extensions import db
from portal.models import Setting
from portal.services import audit

# The statuses that carry a deadline (DESIGN.md, "Report lifecycle"), in lifecycle order.
DEADLINE_STATUSES = ("received", "needs_info", "verified", "in_progress")
# A working-day deadline of 1 to 60 days: a quarter of a year is already generous.
MIN_DEADLINE_DAYS, MAX_DEADLINE_DAYS = 1, 60
# Closed reports are kept 1 to 120 months (ten years) before their keys are shredded.
MIN_RETENTION_MONTHS, MAX_RETENTION_MONTHS = 1, 120

DEADLINES_KEY = "deadlines"
RETENTION_KEY = "retention_months"


class InvalidSetting(ValueError):
    """A setting outside its allowed range, or for an unknown status."""


def _stored(key: str) -> Any:
    """The stored JSON value of `key`, or None (the session's identity map avoids re-reads)."""
    row = db.session.get(Setting, key)
    return json.loads(row.value) if row is not None else None


def _store(key: str, value: Any) -> None:
    """Write `key` in the current transaction."""
    row = db.session.get(Setting, key)
    text = json.dumps(value, sort_keys=True)
    if row is None:
        db.session.add(Setting(key=key, value=text))
    else:
        row.value = text


def default_deadlines() -> dict[str, int]:
    """The deadlines from config, for the statuses that have one."""
    configured = current_app.config["DEADLINE_WORKING_DAYS"]
    return {status: int(configured[status]) for status in DEADLINE_STATUSES if status in configured}


def get_deadlines() -> dict[str, int]:
    """Working days allowed per status: the admin's values over the config defaults."""
    deadlines = default_deadlines()
    stored = _stored(DEADLINES_KEY)
    if isinstance(stored, dict):
        for status in DEADLINE_STATUSES:
            if _is_int(stored.get(status)):
                deadlines[status] = stored[status]
    return deadlines


def get_retention_months() -> int:
    """Months a closed report is kept before crypto-shredding."""
    stored = _stored(RETENTION_KEY)
    return stored if _is_int(stored) else int(current_app.config["RETENTION_MONTHS"])


def _is_int(value: object) -> bool:
    """A real integer (JSON true/false are not day counts)."""
    return isinstance(value, int) and not isinstance(value, bool)


def _check_deadlines(deadlines: Mapping[str, int]) -> dict[str, int]:
    """The deadlines as a complete, valid mapping; InvalidSetting otherwise."""
    if set(deadlines) != set(DEADLINE_STATUSES):
        raise InvalidSetting(f"deadlines need exactly {', '.join(DEADLINE_STATUSES)}")
    for status, days in deadlines.items():
        if not _is_int(days) or not MIN_DEADLINE_DAYS <= days <= MAX_DEADLINE_DAYS:
            raise InvalidSetting(f"{status}: {MIN_DEADLINE_DAYS} to {MAX_DEADLINE_DAYS} days")
    return {status: deadlines[status] for status in DEADLINE_STATUSES}


def _check_retention(months: int) -> int:
    """The retention period if within range; InvalidSetting otherwise."""
    if not _is_int(months) or not MIN_RETENTION_MONTHS <= months <= MAX_RETENTION_MONTHS:
        raise InvalidSetting(f"retention: {MIN_RETENTION_MONTHS} to {MAX_RETENTION_MONTHS} months")
    return months


def update(
    *,
    actor: str,
    deadlines: Mapping[str, int] | None = None,
    retention_months: int | None = None,
) -> list[str]:
    """Validate and save the given settings in the open block; returns what changed.

    Each changed setting gets an audit entry with its old and new value; nothing is
    written (and nothing audited) if any value is invalid or nothing changed.
    """
    changes: list[tuple[str, Any, Any]] = []
    if deadlines is not None:
        new_deadlines, old_deadlines = _check_deadlines(deadlines), get_deadlines()
        if new_deadlines != old_deadlines:
            changes.append((DEADLINES_KEY, old_deadlines, new_deadlines))
    if retention_months is not None:
        new_months, old_months = _check_retention(retention_months), get_retention_months()
        if new_months != old_months:
            changes.append((RETENTION_KEY, old_months, new_months))
    for key, old, new in changes:
        _store(key, new)
        audit.record(
            actor=actor,
            action=f"settings.{key}",
            target=key,
            detail=json.dumps({"old": old, "new": new}, sort_keys=True),
        )
    return [key for key, _, _ in changes]
