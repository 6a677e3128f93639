"""Which reports changed: session hooks that mark them for the statistics timer's next fold.

A request never builds statistics: the transaction that files or changes a report only
writes its id into `stats_pending` (one INSERT ... ON CONFLICT DO NOTHING at commit, with
the change, so no change can be missed and a rolled-back one leaves no mark). The daily
timer (`facts.fold`) recomputes those reports' facts. Marking too much costs the timer a
read; marking too little would leave a fact stale, so every flush of a `Report` column the
cells read, and every new, changed or deleted `StatusChange`, marks its report.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, inspect
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from portal.models import Report, StatsPending, StatusChange

# What the cells read of a report and of its steps: a change to any of them is pending.
REPORT_COLUMNS = (
    "received_on",
    "status",
    "category_code",
    "service_code",
    "unit_code",
    "channel",
    "referred_to",
    "amount_demanded_rounded",
    "refund_rupiah",
    "verified_on",
    "closed_on",
)
STEP_COLUMNS = ("report_id", "status", "created_on")
_MARKS = "portal.stats_facts.marks"  # session.info: reports changed in this transaction


def _changed(item: Any, columns: tuple[str, ...]) -> bool:
    state: Any = inspect(item)
    return any(state.attrs[column].history.has_changes() for column in columns)


def _after_flush(session: Session, _context: Any) -> None:
    """Note every report whose facts this flush may have changed (ids are known now)."""
    marks: set[int] = session.info.setdefault(_MARKS, set())
    for item in session.new:
        if isinstance(item, Report):
            marks.add(item.id)
        elif isinstance(item, StatusChange):
            marks.add(item.report_id)
    for item in session.dirty:
        if isinstance(item, Report) and _changed(item, REPORT_COLUMNS):
            marks.add(item.id)
        elif isinstance(item, StatusChange) and _changed(item, STEP_COLUMNS):
            marks.add(item.report_id)
            marks.update(inspect(item).attrs["report_id"].history.deleted or ())
    for item in session.deleted:
        if isinstance(item, Report):
            marks.add(item.id)
        elif isinstance(item, StatusChange):
            marks.add(item.report_id)


def _before_commit(session: Session) -> None:
    """Write the transaction's marks with its changes (one statement, sorted)."""
    session.flush()
    marks = session.info.pop(_MARKS, None)
    marks = sorted(mark for mark in marks or () if mark is not None)
    if not marks:
        return
    connection = session.connection()
    dialect: Any = postgresql if connection.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(StatsPending.__table__).on_conflict_do_nothing()
    connection.execute(statement, [{"report_id": mark} for mark in marks])


def _forget(session: Session, *_: Any) -> None:
    session.info.pop(_MARKS, None)


def install() -> None:
    """Mark every session's report changes for the next fold (once per process)."""
    for name, listener in (
        ("after_flush", _after_flush),
        ("before_commit", _before_commit),
        ("after_rollback", _forget),
    ):
        if not event.contains(Session, name, listener):
            event.listen(Session, name, listener)
