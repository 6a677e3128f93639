"""The working snapshot: monthly cells read from the reports table, never published."""

from __future__ import annotations

import json
import secrets
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy import (
    String,
    delete,
    func,
    insert,
    select,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from portal import deadlines
from portal.extensions import db
from portal.models import (
    Report,
    StatsCell,
    StatsSnapshot,
    Status,
    StatusChange,
)
from portal.models.base import utcnow
from portal.services import settings
from portal.services.stats.figures import (
    HISTORY_BATCH,
    INSPECTORATE_STAGES,
    MET,
    MISSED,
    TOTAL_KEY,
)
from portal.services.stats.periods import add_months

# --- building a snapshot ------------------------------------------------------------------


@dataclass
class Builder:
    """Monthly cells accumulated while reading the reports table (months as "YYYY-MM")."""

    cells: defaultdict[tuple[str, str, str], list[int]] = field(
        default_factory=lambda: defaultdict(lambda: [0, 0])
    )

    def add(self, day: str, figure: str, key: str, reports: int, amount: int = 0) -> None:
        """Count `reports` (and `amount` Rupiah) under the month of `day` (an ISO date)."""
        cell = self.cells[(day[:7], figure, key)]
        cell[0] += reports
        cell[1] += amount

    def rows(self) -> list[dict[str, Any]]:
        """The cells as rows (month as its first day), as a publication or snapshot keeps them."""
        return [
            {
                "month": date.fromisoformat(month + "-01"),
                "figure": figure,
                "key": key,
                "reports": reports,
                "amount": amount,
            }
            for (month, figure, key), (reports, amount) in self.cells.items()
        ]


class Calendar:
    """Working days over the span of the data, as lookups instead of day-by-day loops.

    Built once per rebuild from `portal.deadlines.is_working_day`, so it counts exactly
    as `working_days_between` and `add_working_days` do; days are ISO strings, the form
    both databases return a date cast to text in, so a million rows need no date parsing.
    """

    def __init__(self, first: date, last: date) -> None:
        self.first, self.last = first, last
        self.count: dict[str, int] = {}  # working days from `first` up to and including a day
        self.nth: list[str] = []  # the n-th working day (0-based) from `first`
        day, count = first, 0
        while day <= last:
            if deadlines.is_working_day(day):
                count += 1
                self.nth.append(day.isoformat())
            self.count[day.isoformat()] = count
            day += timedelta(days=1)

    def between(self, start: str, end: str) -> int:
        """Working days after `start` up to and including `end` (working_days_between)."""
        if end <= start:
            return 0
        if start in self.count and end in self.count:
            return self.count[end] - self.count[start]
        return deadlines.working_days_between(date.fromisoformat(start), date.fromisoformat(end))

    def due(self, start: str, days: int) -> str:
        """The day `days` working days after `start` (add_working_days), as an ISO string."""
        if start in self.count and self.count[start] + days <= len(self.nth):
            return self.nth[self.count[start] + days - 1]
        return deadlines.add_working_days(date.fromisoformat(start), days).isoformat()


class _IsoDay(FunctionElement[str]):
    """A date as ISO text, YYYY-MM-DD, whatever the database's date style."""

    type = String()
    name = "iso_day"
    inherit_cache = True


@compiles(_IsoDay)
def _iso_day(element: _IsoDay, compiler: Any, **kw: Any) -> str:
    """SQLite keeps dates as ISO text already."""
    return f"CAST({compiler.process(element.clauses, **kw)} AS VARCHAR(10))"


@compiles(_IsoDay, "postgresql")
def _iso_day_postgresql(element: _IsoDay, compiler: Any, **kw: Any) -> str:
    """PostgreSQL's own text form follows DateStyle; to_char does not."""
    return f"to_char({compiler.process(element.clauses, **kw)}, 'YYYY-MM-DD')"


def iso_day(column: Any) -> Any:
    """A date column as ISO text (YYYY-MM-DD) on SQLite and PostgreSQL alike."""
    return _IsoDay(column)


def stream(connection: Any, statement: Any) -> Iterator[tuple[Any, ...]]:
    """The rows of a query on `connection`, straight from the database driver in batches.

    A rebuild reads millions of history rows; SQLAlchemy's per-row work would double
    its time, so the statement (built with SQLAlchemy, parameters inlined: they are our
    own constants) runs on the driver's cursor. PostgreSQL gets a server-side cursor,
    so the rows stream instead of filling memory; SQLite streams anyway.
    """
    sql = str(statement.compile(dialect=connection.dialect, compile_kwargs={"literal_binds": True}))
    raw: Any = connection.connection.dbapi_connection
    if connection.dialect.name == "postgresql":
        cursor = raw.cursor(name=f"stats_{secrets.token_hex(4)}")
    else:
        cursor = raw.cursor()
    try:
        cursor.execute(sql)
        while batch := cursor.fetchmany(HISTORY_BATCH):
            yield from batch
    finally:
        cursor.close()


def _rows(statement: Any) -> Iterator[tuple[Any, ...]]:
    """The rows of a query on the session's connection (see `stream`)."""
    return stream(db.session.connection(), statement)


def span(as_of: date, days: dict[str, int]) -> tuple[date, date]:
    """The days the calendar covers: from the first report to past the last deadline due.

    A day outside (a step dated before its report, say) is still counted right, by the
    slower functions of portal.deadlines.
    """
    first = db.session.scalar(select(func.min(Report.received_on))) or as_of
    # Room for the longest deadline (in calendar days, with holidays) after today.
    room = timedelta(days=2 * max([*days.values(), 1]) + 31)
    return min(first, as_of), as_of + room


def _deadline_cells(
    builder: Builder, calendar: Calendar, as_of: date, days: dict[str, int], where: list[Any]
) -> None:
    """Per report and inspectorate stage: was every deadline of the stage met or missed?

    A stage's deadline is met when the report left it (to any status) no later than
    `days` working days after entering it, as the queue counts it; a report still in a
    stage whose deadline has passed missed it; one still within its deadline is not
    counted yet. A report counts once per stage (missed if any visit missed), and once
    in deadline_all (missed if any stage missed, met if some stage was met and none missed).
    """
    today = as_of.isoformat()
    stages = list(days)
    position_of = {stage: index for index, stage in enumerate(stages)}
    due_memo: dict[tuple[str, int], str] = {}
    # Per month received and per pattern of results (0 not judged, 1 met, 2 missed, one
    # per stage): how many reports. A million reports make a few thousand patterns.
    patterns: Counter[tuple[str, tuple[int, ...]]] = Counter()

    def judge(received: str, steps: list[tuple[str, str]]) -> None:
        """Judge one report's stages; a stage is left on the day of the next step."""
        result = [0] * len(stages)
        last = len(steps) - 1
        for index, (status, entered) in enumerate(steps):
            position = position_of.get(status)
            if position is None:
                continue  # no deadline for the inspectorate in this status
            if status == Status.RECEIVED:
                entered = received  # the clock starts on the day the report was received
            allowed = days[status]
            due = due_memo.get((entered, allowed))
            if due is None:
                due = due_memo[(entered, allowed)] = calendar.due(entered, allowed)
            if index < last:
                outcome = 1 if steps[index + 1][1] <= due else 2
            elif today <= due:
                continue  # still within its deadline: not judged yet
            else:
                outcome = 2
            result[position] = max(result[position], outcome)  # one missed visit: missed
        if any(result):
            patterns[(received[:7], tuple(result))] += 1

    # Every step in report order (one pass over the index on report_id, no sort).
    statement = (
        select(
            StatusChange.report_id,
            StatusChange.status,
            iso_day(StatusChange.created_on),
            iso_day(Report.received_on),
        )
        .join(Report, Report.id == StatusChange.report_id)
        .where(*where)
        .order_by(StatusChange.report_id, StatusChange.id)
    )
    current_id: int | None = None
    received = ""
    steps: list[tuple[str, str]] = []
    for report_id, status, day, received_on in _rows(statement):
        if report_id != current_id:
            if steps:
                judge(received, steps)
            current_id, received, steps = report_id, received_on, []
        steps.append((status, day))
    if steps:
        judge(received, steps)
    add_patterns(builder, stages, patterns)


def add_patterns(
    builder: Builder, stages: list[str], patterns: Counter[tuple[str, tuple[int, ...]]]
) -> None:
    """Count judged reports (per month and pattern of results) into the deadline cells."""
    for (month, result), count in patterns.items():
        for stage, outcome in zip(stages, result, strict=True):
            if outcome:
                builder.add(month, f"deadline_{stage}", MET if outcome == 1 else MISSED, count)
        builder.add(month, "deadline_all", MISSED if 2 in result else MET, count)


def _report_cells(builder: Builder, calendar: Calendar, where: list[Any]) -> None:
    """Breakdowns, sums and working-day histograms, from grouped queries per day received.

    Each query returns a few thousand rows (days x keys), whatever the number of reports;
    the database does the counting, Python only folds days into months.
    """
    received = iso_day(Report.received_on)
    columns = {
        "status": Report.status,
        "category": Report.category_code,
        "service": Report.service_code,
        "unit": Report.unit_code,
        "channel": Report.channel,
    }
    for figure, column in columns.items():
        statement = select(received, column, func.count()).where(*where).group_by(received, column)
        for day, key, count in _rows(statement):
            builder.add(day, figure, str(key), count)
            if figure == "status":
                builder.add(day, "month", TOTAL_KEY, count)
    statement = (
        select(received, Report.referred_to, func.count())
        .where(Report.referred_to.is_not(None), *where)
        .group_by(received, Report.referred_to)
    )
    for day, key, count in _rows(statement):
        builder.add(day, "referral", str(key), count)
    sums: tuple[tuple[str, Any, list[Any]], ...] = (
        ("demanded", Report.amount_demanded_rounded, [Report.amount_demanded_rounded > 0]),
        (
            "refunded",
            Report.refund_rupiah,
            [Report.status == Status.RESOLVED, Report.refund_rupiah > 0],
        ),
    )
    for figure, summed, condition in sums:
        statement = (
            select(received, func.count(), func.sum(summed))
            .where(*condition, *where)
            .group_by(received)
        )
        for day, count, amount in _rows(statement):
            builder.add(day, figure, "", count, int(amount or 0))
    durations: tuple[tuple[str, Any, list[Any]], ...] = (
        ("days_verification", Report.verified_on, [Report.verified_on.is_not(None)]),
        (
            "days_completion",
            Report.closed_on,
            [Report.status == Status.RESOLVED, Report.closed_on.is_not(None)],
        ),
    )
    for figure, end_column, condition in durations:
        end = iso_day(end_column)
        statement = (
            select(received, end, func.count()).where(*condition, *where).group_by(received, end)
        )
        for day, finished, count in _rows(statement):
            builder.add(day, figure, str(calendar.between(day, finished)), count)


def compute(
    as_of: date, days: dict[str, int], months: tuple[date, date] | None = None
) -> tuple[list[dict[str, Any]], date | None]:
    """Every monthly cell from the reports table, and the first month with a report.

    Two passes: the reports (public facts only) and the status history in report order.
    Days are grouped into months in Python, so the SQL stays portable. `months` (first,
    last) limits the work to reports received in those months: a quarter being published
    reads only its own reports, through the index on the day received.
    """
    builder = Builder()
    where: list[Any] = []
    if months is not None:
        where = [
            Report.received_on >= months[0],
            Report.received_on < add_months(months[1], 1),
        ]
    first, last = span(as_of, days)
    calendar = Calendar(first, last)
    _report_cells(builder, calendar, where)
    _deadline_cells(builder, calendar, as_of, days, where)
    seen = {key[0] for key in builder.cells}
    first_month = date.fromisoformat(min(seen) + "-01") if seen else None
    return builder.rows(), first_month


def inspectorate_deadlines() -> dict[str, int]:
    """The working days allowed per inspectorate stage, as the admin set them."""
    configured = settings.get_deadlines()
    return {stage: configured[stage] for stage in INSPECTORATE_STAGES if stage in configured}


def refresh() -> StatsSnapshot:
    """Rebuild the snapshot from the reports table (flushes; the caller's block commits it).

    Safe to run on several servers at once: each writes a complete snapshot of its own
    in one transaction and readers take the newest; the previous one is kept for readers
    that picked it a moment ago, older ones are dropped.
    """
    as_of = deadlines.local_today()
    days = inspectorate_deadlines()
    rows, first_month = compute(as_of, days)
    snapshot = StatsSnapshot(
        built_at=utcnow(),
        as_of=as_of,
        first_month=first_month,
        deadlines=json.dumps(days, sort_keys=True),
    )
    db.session.add(snapshot)
    db.session.flush()
    snapshot_id = snapshot.id
    if rows:
        db.session.execute(insert(StatsCell), [row | {"snapshot_id": snapshot_id} for row in rows])
    previous = db.session.scalar(
        select(func.max(StatsSnapshot.id)).where(StatsSnapshot.id < snapshot_id)
    )
    if previous is not None:
        for statement in (
            delete(StatsCell).where(StatsCell.snapshot_id < previous),
            delete(StatsSnapshot).where(StatsSnapshot.id < previous),
        ):
            db.session.execute(statement.execution_options(synchronize_session=False))
    db.session.flush()
    return snapshot
