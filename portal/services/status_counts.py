"""Reports per status, kept up to date in the transaction of every change (the queue's counts).

Counting a million reports per status on every queue view costs 50-200 ms; reading a
handful of rows of `status_count` costs well under one. The table holds, per status, the
number of reports overall, under each value of each one-column queue filter (category,
service, unit, channel, priority, assignee), per deadline day, and with any deadline.
"Overdue" is then the reports with a deadline less those due today or later: a read of the
few days ahead, exact whatever the date (summing every past day read thousands of rows).

How the counts stay right:

- Every flush of a `Report` (filed, or a tracked column changed) is turned into +1 for the
  cells of its new values and -1 for those of its old ones (`_before_flush` notes the
  old values, `_after_flush` the new ones). No writer has to remember to call anything.
- The changes of a transaction are summed and applied just before it commits, in one
  sorted batch of `INSERT ... ON CONFLICT DO UPDATE SET n = n + excluded.n`: atomic per
  row under any number of concurrent writers, and since every writer takes these row
  locks last and in the same order, two writers can wait for each other but never
  deadlock. A rollback drops them with the rest of the transaction.
- Writes that bypass the ORM (bulk `UPDATE report ...` of a tracked column, a restore,
  the benchmark's loader) must call `recount()`; `flask counts check` compares the table
  with a fresh count (and `--repair` rebuilds it), and the tests compare them after many
  random transitions.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import bindparam, delete, event, func, inspect, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from portal.extensions import db
from portal.models import Report, Status, StatusCount

# Queue filter (services/queue.py Filters field) -> report column, for the one-filter counts.
DIMENSIONS = {
    "category": "category_code",
    "service": "service_code",
    "unit": "unit_code",
    "channel": "channel",
    "priority": "priority",
    "assignee": "assignee_id",
}
ALL, DUE, DATED = "all", "due", "dated"
TRACKED = ("status", "due_on", *DIMENSIONS.values())
_OLD = "portal.status_counts.old"  # session.info: values before this flush, per report
_PENDING = "portal.status_counts.pending"  # session.info: this transaction's changes

Cell = tuple[str, str, str]  # (dimension, value, status)


def _text(value: Any) -> str:
    """A column value as the table stores it ("" for none, ISO for days)."""
    if value is None:
        return ""
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def cells(values: dict[str, Any]) -> list[Cell]:
    """The cells one report with these column values counts in."""
    status = _text(values["status"])
    found = [(ALL, "", status)]
    found += [(name, _text(values[column]), status) for name, column in DIMENSIONS.items()]
    if values["due_on"] is not None:
        found.append((DUE, _text(values["due_on"]), status))
        found.append((DATED, "", status))
    return found


def _current(report: Report) -> dict[str, Any]:
    return {column: getattr(report, column) for column in TRACKED}


def _old_values(session: Session, report: Report) -> dict[str, Any] | None:
    """The tracked values the database holds for `report` now (None if unchanged)."""
    state: Any = inspect(report)
    old: dict[str, Any] = {}
    changed, unknown = False, False
    for column in TRACKED:
        history = state.attrs[column].history
        if history.added:
            changed = True
        if history.deleted:
            old[column] = history.deleted[0]
        elif history.unchanged:
            old[column] = history.unchanged[0]
        else:
            unknown = True  # set without being loaded first, or expired
    if not changed:
        return None
    if unknown:
        # Read what is stored, on the connection (no autoflush in the middle of a flush).
        table = Report.__table__
        row = (
            session.connection()
            .execute(select(*(table.c[c] for c in TRACKED)).where(table.c.id == report.id))
            .one()
        )
        old = dict(row._mapping)
    return old


def _before_flush(session: Session, _context: Any, _instances: Any) -> None:
    old: dict[int, tuple[Report, dict[str, Any]]] = {}
    pending: Counter[Cell] = session.info.setdefault(_PENDING, Counter())
    for item in session.dirty:
        if isinstance(item, Report) and item not in session.deleted:
            values = _old_values(session, item)
            if values is not None:
                old[id(item)] = (item, values)
    for item in session.deleted:
        if isinstance(item, Report):
            values = _old_values(session, item) or _current(item)
            pending.subtract(cells(values))
    session.info[_OLD] = old


def _after_flush(session: Session, _context: Any) -> None:
    pending: Counter[Cell] = session.info.setdefault(_PENDING, Counter())
    for item in session.new:
        if isinstance(item, Report):
            pending.update(cells(_current(item)))
    for item, values in session.info.pop(_OLD, {}).values():
        pending.subtract(cells(values))
        pending.update(cells(_current(item)))


def _before_commit(session: Session) -> None:
    session.flush()  # the last changes are counted too
    pending: Counter[Cell] = session.info.pop(_PENDING, Counter())
    changes = {cell: change for cell, change in pending.items() if change}
    if changes:
        apply(session.connection(), changes)


def _forget(session: Session, *_: Any) -> None:
    session.info.pop(_PENDING, None)
    session.info.pop(_OLD, None)


def install() -> None:
    """Count every session's report changes (once per process)."""
    for name, listener in (
        ("before_flush", _before_flush),
        ("after_flush", _after_flush),
        ("before_commit", _before_commit),
        ("after_rollback", _forget),
        ("after_soft_rollback", _forget),
    ):
        if not event.contains(Session, name, listener):
            event.listen(Session, name, listener)


@functools.cache
def _upsert(dialect_name: str) -> Any:
    """INSERT ... ON CONFLICT (cell) DO UPDATE SET n = n + excluded.n, built once per dialect."""
    from sqlalchemy.dialects import postgresql, sqlite

    table = StatusCount.__table__
    dialect: Any = postgresql if dialect_name == "postgresql" else sqlite
    statement = dialect.insert(table)
    return statement.on_conflict_do_update(
        index_elements=[table.c.dimension, table.c.value, table.c.status],
        set_={"n": table.c.n + statement.excluded.n},
    )


def apply(connection: Connection, changes: dict[Cell, int]) -> None:
    """Add `changes` to the table, in one sorted batch (the same lock order for everyone)."""
    rows = [
        {"dimension": dimension, "value": value, "status": status, "n": change}
        for (dimension, value, status), change in sorted(changes.items())
    ]
    connection.execute(_upsert(connection.dialect.name), rows)


# --- reading -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Selection:
    """Which stored counts answer a queue view: one dimension's value, or the overdue days."""

    dimension: str
    value: str = ""
    before: str | None = None  # DUE: days strictly before this one


def selection(
    *,
    equal: dict[str, Any],
    overdue_before: date | None = None,
    other_filters: bool = False,
) -> Selection | None:
    """The stored counts for a view filtered on `equal` (queue filter -> value), or None.

    Served: no filter, exactly one one-column filter (`None` value meaning nobody, for the
    assignee), or overdue alone. Any other combination is not stored (None).
    """
    if other_filters:
        return None
    if overdue_before is not None:
        return None if equal else Selection(DUE, before=overdue_before.isoformat())
    if not equal:
        return Selection(ALL)
    if len(equal) != 1:
        return None
    ((name, value),) = equal.items()
    return Selection(name, _text(value)) if name in DIMENSIONS else None


_COUNTS = StatusCount.__table__.c
# The few rows a view's counts come from, as statements made once (the queue reads them on
# every page): one cell's counts, and the deadline cells from a day on (summed per status).
_CELL = select(_COUNTS.status, _COUNTS.n).where(
    _COUNTS.dimension == bindparam("dimension"), _COUNTS.value == bindparam("value")
)
_DUE_FROM = (
    select(_COUNTS.status, func.sum(_COUNTS.n))
    .where(_COUNTS.dimension == DUE, _COUNTS.value >= bindparam("day"))
    .group_by(_COUNTS.status)
)


def stored(chosen: Selection) -> dict[str, int]:
    """Reports per status (every status, zeros included) from the table: a few rows."""
    connection = db.session.connection()
    if chosen.dimension == DUE:
        # Due before that day = with a deadline - due that day or later (the days ahead).
        dated = connection.execute(_CELL, {"dimension": DATED, "value": ""})
        found = {status: int(n or 0) for status, n in dated}
        for status, n in connection.execute(_DUE_FROM, {"day": chosen.before}):
            found[status] = found.get(status, 0) - int(n or 0)
    else:
        cell = connection.execute(_CELL, {"dimension": chosen.dimension, "value": chosen.value})
        found = {status: int(n or 0) for status, n in cell}
    return {status.value: found.get(status.value, 0) for status in Status}


# --- checking and rebuilding -----------------------------------------------------------------


def counted(connection: Connection) -> dict[Cell, int]:
    """Every cell counted afresh from the report table (seconds at a million reports)."""
    table = Report.__table__
    result: Counter[Cell] = Counter()
    groups: Iterable[tuple[str, str | None]] = [
        (ALL, None),
        *DIMENSIONS.items(),
        (DUE, "due_on"),
        (DATED, None),
    ]
    for dimension, column in groups:
        keys = [table.c.status] + ([table.c[column]] if column else [])
        statement = select(*keys, func.count()).group_by(*keys)
        if dimension in (DUE, DATED):
            statement = statement.where(table.c.due_on.is_not(None))
        for row in connection.execute(statement):
            value = _text(row[1]) if column else ""
            result[(dimension, value, _text(row[0]))] += int(row[-1])
    return dict(result)


def differences(connection: Connection) -> dict[Cell, tuple[int, int]]:
    """Cells whose stored count differs from a fresh count: cell -> (stored, counted)."""
    table = StatusCount.__table__
    kept = {
        (row.dimension, row.value, row.status): int(row.n)
        for row in connection.execute(select(table))
    }
    fresh = counted(connection)
    return {
        cell: (kept.get(cell, 0), fresh.get(cell, 0))
        for cell in set(kept) | set(fresh)
        if kept.get(cell, 0) != fresh.get(cell, 0)
    }


def recount(connection: Connection) -> int:
    """Rebuild the table from the reports (current transaction); returns the cells stored.

    Writers are held off while it runs: PostgreSQL locks the table, SQLite's one writer
    is this transaction from its first statement (the DELETE), so no change is lost
    between the fresh count and the new rows.
    """
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql("LOCK TABLE status_count IN EXCLUSIVE MODE")
    connection.execute(delete(StatusCount.__table__))
    fresh = counted(connection)
    if fresh:
        apply(connection, fresh)
    return len(fresh)
