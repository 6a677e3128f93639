"""Browsing and exporting the audit log: filters, keyset pages, the audited CSV export."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import ColumnElement, Select, func

from portal.extensions import db
from portal.models import AuditEntry
from portal.services.audit.chain import BATCH_SIZE, record
from portal.services.audit.verify import head


@dataclass(frozen=True)
class AuditFilter:
    """What the log is narrowed to; empty values mean "any". Dates are days in WIB."""

    actor: str = ""
    action: str = ""
    target: str = ""
    since: date | None = None
    until: date | None = None

    def describe(self) -> str:
        """The filters in a compact form for the export's own audit entry."""
        parts = [
            f"{name}={value}"
            for name, value in (
                ("actor", self.actor),
                ("action", self.action),
                ("target", self.target),
                ("since", self.since.isoformat() if self.since else ""),
                ("until", self.until.isoformat() if self.until else ""),
            )
            if value
        ]
        return "; ".join(parts)


@dataclass(frozen=True)
class AuditPage:
    """One keyset page, newest first, with cursors for the neighbouring pages."""

    entries: list[AuditEntry]
    newer: int | None  # pass as `after` to see the page before this one
    older: int | None  # pass as `before` to see the page after this one


def _utc_start_of(day: date) -> datetime:
    """Midnight of a WIB day as the naive UTC value entries are stored with."""
    local = datetime.combine(
        day, time(), tzinfo=ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])
    )
    return local.astimezone(ZoneInfo("UTC")).replace(tzinfo=None)


def _terms(filters: AuditFilter) -> list[ColumnElement[bool]]:
    """SQL conditions for the filters (portable: LIKE with escaping, lower())."""
    terms: list[ColumnElement[bool]] = []
    if filters.actor:
        terms.append(
            func.lower(AuditEntry.actor).contains(filters.actor.strip().lower(), autoescape=True)
        )
    if filters.action:
        terms.append(AuditEntry.action == filters.action)
    if filters.target:
        terms.append(
            func.lower(AuditEntry.target).contains(filters.target.strip().lower(), autoescape=True)
        )
    if filters.since:
        terms.append(AuditEntry.at >= _utc_start_of(filters.since))
    if filters.until:
        terms.append(AuditEntry.at < _utc_start_of(filters.until + timedelta(days=1)))
    return terms


def known_actions() -> list[str]:
    """Every action name present in the log, for the filter's select (index-only scan)."""
    return list(
        db.session.scalars(db.select(AuditEntry.action).distinct().order_by(AuditEntry.action))
    )


def page(
    filters: AuditFilter, *, before: int | None = None, after: int | None = None, size: int = 50
) -> AuditPage:
    """A page of matching entries, newest first: below `before`, or just above `after`."""
    statement: Select[Any] = db.select(AuditEntry).where(*_terms(filters))
    if after is not None:
        rows = list(
            db.session.scalars(
                statement.where(AuditEntry.id > after).order_by(AuditEntry.id).limit(size + 1)
            )
        )
        more_newer = len(rows) > size
        entries = list(reversed(rows[:size]))
        return AuditPage(
            entries,
            newer=entries[0].id if more_newer and entries else None,
            older=entries[-1].id if entries else after + 1,
        )
    if before is not None:
        statement = statement.where(AuditEntry.id < before)
    rows = list(db.session.scalars(statement.order_by(AuditEntry.id.desc()).limit(size + 1)))
    entries = rows[:size]
    more_older = len(rows) > size
    return AuditPage(
        entries,
        newer=(entries[0].id if entries else before - 1) if before is not None else None,
        older=entries[-1].id if more_older else None,
    )


def start_export(*, actor: str, filters: AuditFilter) -> int:
    """Audit an export of the log; returns the last id the export may include.

    The export stops at the head as it was before this entry, so it shows exactly
    what the log held when it was asked for.
    """
    current = head()
    record(actor=actor, action="audit.exported", detail=filters.describe())
    return current.id if current is not None else 0


def export_entries(filters: AuditFilter, *, upto: int) -> Iterator[AuditEntry]:
    """Matching entries with id <= upto, newest first, in bounded batches."""
    below = upto + 1
    while True:
        batch = list(
            db.session.scalars(
                db.select(AuditEntry)
                .where(*_terms(filters), AuditEntry.id < below)
                .order_by(AuditEntry.id.desc())
                .limit(BATCH_SIZE)
            )
        )
        yield from batch
        if len(batch) < BATCH_SIZE:
            return
        below = batch[-1].id
