"""Public statistics: monthly aggregates kept in a snapshot, published per period, protected.

Requests never scan the reports table. `refresh()` reads it once (grouped queries and
one pass over the status history), writes a snapshot of per-month cells in one
transaction and drops all but the previous snapshot. `snapshot()` serves the newest
one and rebuilds it when it is older than STATS_MAX_AGE_SECONDS, one app server at a
time (a lease row in the database). Medians over any period come from per-month
histograms of working days, which add up; medians would not.

`period_stats()` adds the months of a period together and protects every figure with
`portal.suppression`, checking each period against its parts (months of a quarter,
quarters of a year) so that no published figure gives a hidden one away.
Everything published is a public fact at month grain: nothing here reads content.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import threading
from collections import Counter, OrderedDict, defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, cast

from flask import current_app
from flask_babel import force_locale, format_date, get_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    CursorResult,
    String,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from portal import deadlines
from portal.extensions import db
from portal.i18n import CHANNEL_LABELS, STATUS_LABELS
from portal.models import (
    Category,
    Channel,
    Report,
    Service,
    StatsCell,
    StatsRefresh,
    StatsSnapshot,
    Status,
    StatusChange,
    Unit,
)
from portal.models.base import utcnow
from portal.services import settings
from portal.suppression import Cell, Counts, Mark, Protected, exactly, protect_period

log = logging.getLogger(__name__)

# The breakdowns, in the order they are published. Each counts reports received in the
# period; all share one total except referrals (reports ever referred, by outside body).
BREAKDOWNS = ("status", "category", "service", "unit", "channel", "month", "referral")
GROUPS = {name: ("referrals" if name == "referral" else "reports") for name in BREAKDOWNS}
# Deadlines the inspectorate must meet (needs_info is the reporter's time to answer).
INSPECTORATE_STAGES = ("received", "verified", "in_progress")
DEADLINE_FIGURES = (*(f"deadline_{stage}" for stage in INSPECTORATE_STAGES), "deadline_all")
# Figures published alone, each over a number of reports that must reach k.
MEDIAN_FIGURES = ("verification", "completion")
SUM_FIGURES = ("demanded", "refunded")
FIGURES = MEDIAN_FIGURES + SUM_FIGURES + DEADLINE_FIGURES
MET, MISSED = "met", "missed"
TOTAL_KEY = "reports"

# Labels of the outside bodies a report may be referred to (services.cases.OutsideBody).
REFERRAL_LABELS = {
    "ombudsman_banten": _l("Ombudsman RI Perwakilan Banten"),
    "polri": _l("Police (Polri)"),
    "kejaksaan": _l("Prosecutor (Kejaksaan)"),
    "kpk": _l("Corruption Eradication Commission (KPK)"),
    "sp4n_lapor": _l("SP4N-LAPOR!"),
    "instansi_terkait": _l("The service's own agency (instansi terkait)"),
}

# Rows read per round trip while streaming the status history during a rebuild.
HISTORY_BATCH = 20_000


class InvalidPeriod(ValueError):
    """A period that is not YYYY, YYYY-Qn or YYYY-MM, or lies in the future."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# --- periods ------------------------------------------------------------------------------


def month_start(day: date) -> date:
    """The first day of the month of `day`."""
    return day.replace(day=1)


def add_months(month: date, count: int) -> date:
    """The month `count` months after (or before) `month`."""
    index = month.year * 12 + month.month - 1 + count
    return date(index // 12, index % 12 + 1, 1)


def month_key(month: date) -> str:
    """A month as YYYY-MM, the only date grain published."""
    return f"{month.year:04d}-{month.month:02d}"


@dataclass(frozen=True)
class Period:
    """The months a published view covers; `key` is what the `period` parameter says."""

    kind: str  # month, quarter, year or last12
    key: str  # "2026-03", "2026-Q1", "2026", or "" for the last 12 months
    first: date
    last: date

    @property
    def months(self) -> list[date]:
        """Every month of the period, oldest first."""
        result, month = [], self.first
        while month <= self.last:
            result.append(month)
            month = add_months(month, 1)
        return result

    def label(self) -> str:
        """The period in the visitor's language."""
        if self.kind == "month":
            return format_date(self.first, "MMMM yyyy")
        if self.kind == "quarter":
            return str(
                _l(
                    "Quarter %(quarter)d of %(year)d",
                    quarter=(self.first.month - 1) // 3 + 1,
                    year=self.first.year,
                )
            )
        if self.kind == "year":
            return str(self.first.year)
        return str(
            _l(
                "Last 12 months (%(first)s to %(last)s)",
                first=format_date(self.first, "MMM yyyy"),
                last=format_date(self.last, "MMM yyyy"),
            )
        )


_YEAR = re.compile(r"^(\d{4})$")
_QUARTER = re.compile(r"^(\d{4})-[Qq]([1-4])$")
_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
FIRST_YEAR = 2000
# The default period's name where one must be written (CSV rows, JSON).
LAST_12_MONTHS = "last-12-months"


def last_12_months(today: date) -> Period:
    """The default period: this month and the eleven before it."""
    last = month_start(today)
    return Period("last12", "", add_months(last, -11), last)


def parse_period(text: str | None, today: date) -> Period:
    """YYYY, YYYY-Qn or YYYY-MM (empty: the last 12 months); InvalidPeriod otherwise."""
    text = (text or "").strip()
    if not text or text == LAST_12_MONTHS:
        return last_12_months(today)
    no_statistics = InvalidPeriod(str(_l("There are no statistics for this period.")))
    year_match = _YEAR.match(text) or _QUARTER.match(text) or _MONTH.match(text)
    # Checked before any date is built: year 0000 is not a date at all.
    if year_match and int(year_match.group(1)) < FIRST_YEAR:
        raise no_statistics
    if match := _YEAR.match(text):
        year = int(match.group(1))
        period = Period("year", text, date(year, 1, 1), date(year, 12, 1))
    elif match := _QUARTER.match(text):
        year, quarter = int(match.group(1)), int(match.group(2))
        first = date(year, 3 * quarter - 2, 1)
        period = Period("quarter", f"{year}-Q{quarter}", first, add_months(first, 2))
    elif match := _MONTH.match(text):
        first = date(int(match.group(1)), int(match.group(2)), 1)
        period = Period("month", text, first, first)
    else:
        raise InvalidPeriod(
            str(_l("Give the period as a year (2026), a quarter (2026-Q1) or a month (2026-03)."))
        )
    if period.first > month_start(today):
        raise no_statistics
    return period


def period_choices(first_month: date | None, today: date) -> list[tuple[str, list[Period]]]:
    """The periods the dashboard's filter offers, newest first, grouped by kind."""
    current = month_start(today)
    first = min(first_month or current, add_months(current, -11))
    months = []
    month = current
    while month >= first:
        months.append(Period("month", month_key(month), month, month))
        month = add_months(month, -1)
    quarters = []
    start = current.replace(month=current.month - (current.month - 1) % 3)
    while start >= first.replace(month=first.month - (first.month - 1) % 3):
        quarters.append(parse_period(f"{start.year}-Q{(start.month - 1) // 3 + 1}", today))
        start = add_months(start, -3)
    years = [parse_period(str(year), today) for year in range(current.year, first.year - 1, -1)]
    return [
        (str(_l("Years")), years),
        (str(_l("Quarters")), quarters),
        (str(_l("Months")), months),
    ]


# --- building a snapshot ------------------------------------------------------------------


@dataclass
class _Builder:
    """Monthly cells accumulated while reading the reports table (months as "YYYY-MM")."""

    cells: defaultdict[tuple[str, str, str], list[int]] = field(
        default_factory=lambda: defaultdict(lambda: [0, 0])
    )

    def add(self, day: str, figure: str, key: str, reports: int, amount: int = 0) -> None:
        """Count `reports` (and `amount` Rupiah) under the month of `day` (an ISO date)."""
        cell = self.cells[(day[:7], figure, key)]
        cell[0] += reports
        cell[1] += amount


class _Calendar:
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


def _day(column: Any) -> Any:
    """A date column as ISO text (YYYY-MM-DD) on SQLite and PostgreSQL alike."""
    return _IsoDay(column)


def _rows(statement: Any) -> Iterator[tuple[Any, ...]]:
    """The rows of a query, straight from the database driver in batches.

    A rebuild reads millions of history rows; SQLAlchemy's per-row work would double
    its time, so the statement (built with SQLAlchemy, parameters inlined: they are our
    own constants) runs on the driver's cursor. PostgreSQL gets a server-side cursor,
    so the rows stream instead of filling memory; SQLite streams anyway.
    """
    connection = db.session.connection()
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


def _span(as_of: date, days: dict[str, int]) -> tuple[date, date]:
    """The days the calendar covers: from the first report to past the last deadline due.

    A day outside (a step dated before its report, say) is still counted right, by the
    slower functions of portal.deadlines.
    """
    first = db.session.scalar(select(func.min(Report.received_on))) or as_of
    # Room for the longest deadline (in calendar days, with holidays) after today.
    room = timedelta(days=2 * max([*days.values(), 1]) + 31)
    return min(first, as_of), as_of + room


def _deadline_cells(
    builder: _Builder, calendar: _Calendar, as_of: date, days: dict[str, int]
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
            _day(StatusChange.created_on),
            _day(Report.received_on),
        )
        .join(Report, Report.id == StatusChange.report_id)
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
    for (month, result), count in patterns.items():
        for stage, outcome in zip(stages, result, strict=True):
            if outcome:
                builder.add(month, f"deadline_{stage}", MET if outcome == 1 else MISSED, count)
        builder.add(month, "deadline_all", MISSED if 2 in result else MET, count)


def _report_cells(builder: _Builder, calendar: _Calendar) -> None:
    """Breakdowns, sums and working-day histograms, from grouped queries per day received.

    Each query returns a few thousand rows (days x keys), whatever the number of reports;
    the database does the counting, Python only folds days into months.
    """
    received = _day(Report.received_on)
    columns = {
        "status": Report.status,
        "category": Report.category_code,
        "service": Report.service_code,
        "unit": Report.unit_code,
        "channel": Report.channel,
    }
    for figure, column in columns.items():
        statement = select(received, column, func.count()).group_by(received, column)
        for day, key, count in _rows(statement):
            builder.add(day, figure, str(key), count)
            if figure == "status":
                builder.add(day, "month", TOTAL_KEY, count)
    statement = (
        select(received, Report.referred_to, func.count())
        .where(Report.referred_to.is_not(None))
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
    for figure, summed, where in sums:
        statement = (
            select(received, func.count(), func.sum(summed)).where(*where).group_by(received)
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
    for figure, end_column, where in durations:
        end = _day(end_column)
        statement = select(received, end, func.count()).where(*where).group_by(received, end)
        for day, finished, count in _rows(statement):
            builder.add(day, figure, str(calendar.between(day, finished)), count)


def compute(as_of: date, days: dict[str, int]) -> tuple[list[dict[str, Any]], date | None]:
    """Every monthly cell from the reports table, and the first month with a report.

    Two passes: the reports (public facts only) and the status history in report order.
    Days are grouped into months in Python, so the SQL stays portable.
    """
    builder = _Builder()
    first, last = _span(as_of, days)
    calendar = _Calendar(first, last)
    _report_cells(builder, calendar)
    _deadline_cells(builder, calendar, as_of, days)
    months = {key[0] for key in builder.cells}
    first_month = date.fromisoformat(min(months) + "-01") if months else None
    rows = [
        {
            "month": date.fromisoformat(month + "-01"),
            "figure": figure,
            "key": key,
            "reports": reports,
            "amount": amount,
        }
        for (month, figure, key), (reports, amount) in builder.cells.items()
    ]
    return rows, first_month


def inspectorate_deadlines() -> dict[str, int]:
    """The working days allowed per inspectorate stage, as the admin set them."""
    configured = settings.get_deadlines()
    return {stage: configured[stage] for stage in INSPECTORATE_STAGES if stage in configured}


def refresh() -> StatsSnapshot:
    """Rebuild the snapshot from the reports table and commit it whole.

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
    db.session.commit()
    return snapshot


def _take_lease() -> str | None:
    """Claim the rebuild for this server; None while another server holds it."""
    now = utcnow()
    token = secrets.token_hex(8)
    until = now + timedelta(seconds=current_app.config["STATS_REFRESH_LEASE_SECONDS"])
    claimed = db.session.execute(
        update(StatsRefresh)
        .where(
            StatsRefresh.id == 1,
            or_(StatsRefresh.lease_until.is_(None), StatsRefresh.lease_until < now),
        )
        .values(holder=token, lease_until=until)
        .execution_options(synchronize_session=False)
    )
    if cast(CursorResult[Any], claimed).rowcount == 1:
        db.session.commit()
        return token
    if db.session.get(StatsRefresh, 1) is not None:
        db.session.rollback()
        return None
    db.session.add(StatsRefresh(id=1, holder=token, lease_until=until))
    try:
        db.session.commit()
    except IntegrityError:  # another server made the row first, and holds the lease
        db.session.rollback()
        return None
    return token


def _release_lease(token: str) -> None:
    """Give the rebuild back (only if this server still holds it)."""
    db.session.execute(
        update(StatsRefresh)
        .where(StatsRefresh.id == 1, StatsRefresh.holder == token)
        .values(holder=None, lease_until=None)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


def newest() -> StatsSnapshot | None:
    """The newest complete snapshot, if any."""
    return db.session.scalars(
        select(StatsSnapshot).order_by(StatsSnapshot.id.desc()).limit(1)
    ).first()


def snapshot() -> StatsSnapshot:
    """The snapshot to publish from, rebuilt first when older than STATS_MAX_AGE_SECONDS.

    While another server rebuilds, the previous snapshot is served; if a rebuild fails,
    too (and the failure is logged): a stale figure beats an error page.
    """
    found = newest()
    if found is None:
        return refresh()
    max_age = timedelta(seconds=current_app.config["STATS_MAX_AGE_SECONDS"])
    if utcnow() - found.built_at < max_age or not current_app.config["STATS_REFRESH_IN_REQUESTS"]:
        return found
    token = _take_lease()
    if token is None:
        return found
    try:
        return refresh()
    except Exception:
        db.session.rollback()
        log.exception("Rebuilding the statistics failed; serving the previous snapshot")
        return found
    finally:
        _release_lease(token)


# --- publishing a period ------------------------------------------------------------------


@dataclass
class MonthData:
    """The raw monthly figures of one or more months, added together."""

    counts: defaultdict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    histograms: defaultdict[str, Counter[int]] = field(default_factory=lambda: defaultdict(Counter))
    sums: Counter[str] = field(default_factory=Counter)
    reports: Counter[str] = field(default_factory=Counter)

    def add(self, other: MonthData) -> None:
        """Add another month's figures to these."""
        for name, counter in other.counts.items():
            self.counts[name].update(counter)
        for name, histogram in other.histograms.items():
            self.histograms[name].update(histogram)
        self.sums.update(other.sums)
        self.reports.update(other.reports)

    def singles(self) -> dict[str, int]:
        """The number of reports each single figure is computed over."""
        result = {name: sum(self.histograms[name].values()) for name in MEDIAN_FIGURES}
        result.update({name: self.reports[name] for name in SUM_FIGURES})
        for name in DEADLINE_FIGURES:
            result[name] = self.counts[name][MET] + self.counts[name][MISSED]
        return result

    def as_counts(self) -> Counts:
        """The breakdowns and singles to protect."""
        return Counts({name: dict(self.counts[name]) for name in BREAKDOWNS}, self.singles())


def _load_months(snapshot_id: int, months: Sequence[date]) -> dict[date, MonthData]:
    """The snapshot's cells of these months (one indexed query on the snapshot, not reports)."""
    data = {month: MonthData() for month in months}
    rows = db.session.execute(
        select(
            StatsCell.month, StatsCell.figure, StatsCell.key, StatsCell.reports, StatsCell.amount
        ).where(
            StatsCell.snapshot_id == snapshot_id,
            StatsCell.month >= months[0],
            StatsCell.month <= months[-1],
        )
    )
    for month, figure, key, reports, amount in rows:
        target = data.get(month)
        if target is None:
            continue
        if figure == "month":
            target.counts["month"][month_key(month)] += reports
        elif figure.startswith("days_"):
            target.histograms[figure.removeprefix("days_")][int(key)] += reports
        elif figure in SUM_FIGURES:
            target.sums[figure] += amount
            target.reports[figure] += reports
        else:
            target.counts[figure][key] += reports
    return data


class _Protector:
    """Protects a period from its parts, each part protected once per request."""

    def __init__(self, data: dict[date, MonthData], k: int) -> None:
        self.data = data
        self.k = k
        self.memo: dict[tuple[date, date], Protected] = {}

    def months(self, months: Sequence[date]) -> Protected:
        """The protected figures of consecutive months (a month, quarter, year or window)."""
        span = (months[0], months[-1])
        if span in self.memo:
            return self.memo[span]
        merged = MonthData()
        for month in months:
            merged.add(self.data[month])
        parts: list[Protected] = []
        if len(months) > 1:
            parts = [self.months(group) for group in _parts(months)]
        protected = protect_period(merged.as_counts(), k=self.k, groups=GROUPS, parts=parts)
        self.memo[span] = protected
        return protected


def _is_quarter(months: Sequence[date]) -> bool:
    """Whether the months are exactly one calendar quarter."""
    return len(months) == 3 and months[0].month % 3 == 1


def _parts(months: Sequence[date]) -> list[list[date]]:
    """How a span of months splits into published parts: whole quarters, else months."""
    if _is_quarter(months):
        return [[month] for month in months]
    parts: list[list[date]] = []
    index = 0
    while index < len(months):
        group = list(months[index : index + 3])
        if _is_quarter(group):
            parts.append(group)
            index += 3
        else:
            parts.append([months[index]])
            index += 1
    return parts


@dataclass(frozen=True)
class Row:
    """One published cell of a breakdown, with its labels in both languages."""

    key: str
    label_id: str
    label_en: str
    cell: Cell

    @property
    def label(self) -> str:
        """The label in the visitor's language."""
        locale = get_locale()
        return self.label_en if locale is not None and locale.language == "en" else self.label_id


@dataclass(frozen=True)
class Breakdown:
    """A one-way breakdown and its total, as published."""

    name: str
    rows: tuple[Row, ...]
    total: Cell


# The stable names of the single figures in the open data.
PUBLIC_FIGURES = {
    "verification": "median_working_days_to_verification",
    "completion": "median_working_days_to_completion",
    "demanded": "rupiah_demanded",
    "refunded": "rupiah_refunded",
    "deadline_received": "deadline_met_percent_received",
    "deadline_verified": "deadline_met_percent_verified",
    "deadline_in_progress": "deadline_met_percent_in_progress",
    "deadline_all": "deadline_met_percent_all",
}

# What each single figure is, in words (the data dictionary says it precisely).
FIGURE_LABELS = {
    "verification": _l("Median working days from receipt to verification"),
    "completion": _l("Median working days from receipt to completion"),
    "demanded": _l("Rupiah demanded (sum of the rounded amounts reported)"),
    "refunded": _l("Rupiah refunded to citizens"),
    "deadline_received": _l("First decision within its deadline (%)"),
    "deadline_verified": _l("Examination started within its deadline (%)"),
    "deadline_in_progress": _l("Examination finished within its deadline (%)"),
    "deadline_all": _l("Every deadline met (%)"),
}


@dataclass(frozen=True)
class Figure:
    """A median, sum or share, published only when computed over enough reports.

    `reports` is the number it is computed over (itself protected like any count);
    `mark` says how the value appears: a sum adds up across months, so it is hidden
    whenever its count is; a median or a share does not, so it only needs k reports.
    """

    name: str
    reports: Cell
    value: float | int | None  # None when hidden, or when there is nothing to compute
    mark: Mark
    deadline_days: int | None = None

    @property
    def public_name(self) -> str:
        """The figure's stable name in the open data."""
        return PUBLIC_FIGURES[self.name]

    @property
    def shown(self) -> bool:
        """Whether the value is published."""
        return self.mark is Mark.SHOWN

    def display(self, k: int) -> str:
        """The value as text; "n < k" or "x" when suppressed; "" when there is nothing."""
        if self.mark is Mark.SMALL:
            return f"n < {k}"
        if self.mark is Mark.HIDDEN:
            return "x"
        return "" if self.value is None else str(self.value)


@dataclass(frozen=True)
class PeriodStats:
    """Everything the dashboard and the open data publish for one period."""

    period: Period
    k: int
    as_of_month: date
    deadlines: dict[str, int]
    total: Cell
    breakdowns: dict[str, Breakdown]
    figures: dict[str, Figure]


def _median(histogram: Counter[int]) -> float | int | None:
    """The median of a histogram of whole days (the mean of the middle two if even)."""
    count = sum(histogram.values())
    if count == 0:
        return None
    wanted = sorted({(count - 1) // 2, count // 2})
    found: list[int] = []
    seen = 0
    for days in sorted(histogram):
        seen += histogram[days]
        while wanted and wanted[0] < seen:
            found.append(days)
            wanted.pop(0)
    if len(found) == 1:
        return found[0]
    middle = (found[0] + found[1]) / 2
    return int(middle) if middle.is_integer() else middle


def _labels(locale: str, texts: dict[str, Any]) -> dict[str, str]:
    """Lazy labels rendered in one language."""
    with force_locale(locale):
        return {key: str(text) for key, text in texts.items()}


def _catalogue(
    model: type[Category] | type[Service] | type[Unit],
) -> list[tuple[str, str, str, bool]]:
    """(code, Indonesian name, English name, active) of a catalogue, in its order."""
    rows = db.session.execute(
        select(model.code, model.name_id, model.name_en, model.active).order_by(
            model.position, model.code
        )
    )
    return [(code, name_id, name_en, bool(active)) for code, name_id, name_en, active in rows]


def _month_labels(months: Sequence[date]) -> dict[str, tuple[str, str]]:
    """Month keys with their names in both languages."""
    labels: dict[str, tuple[str, str]] = {}
    for month in months:
        with force_locale("id"):
            name_id = format_date(month, "MMMM yyyy")
        with force_locale("en"):
            name_en = format_date(month, "MMMM yyyy")
        labels[month_key(month)] = (name_id, name_en)
    return labels


def _key_order(period: Period) -> dict[str, list[tuple[str, str, str, bool]]]:
    """Every breakdown's keys in publishing order: (key, label id, label en, always listed).

    Fixed lists (statuses, categories, services, channels, outside bodies) are listed even
    at zero; units only when the period has reports there (a city has many of them).
    """
    statuses = [status.value for status in Status]
    status_id, status_en = _labels("id", STATUS_LABELS), _labels("en", STATUS_LABELS)
    channels = [channel.value for channel in Channel]
    channel_id, channel_en = _labels("id", CHANNEL_LABELS), _labels("en", CHANNEL_LABELS)
    referral_id, referral_en = _labels("id", REFERRAL_LABELS), _labels("en", REFERRAL_LABELS)
    months = _month_labels(period.months)
    return {
        "status": [(key, status_id[key], status_en[key], True) for key in statuses],
        "category": [(c, i, e, active) for c, i, e, active in _catalogue(Category)],
        "service": [(c, i, e, active) for c, i, e, active in _catalogue(Service)],
        "unit": [(c, i, e, False) for c, i, e, _ in _catalogue(Unit)],
        "channel": [(key, channel_id[key], channel_en[key], True) for key in channels],
        "month": [(key, name_id, name_en, True) for key, (name_id, name_en) in months.items()],
        "referral": [(key, referral_id[key], referral_en[key], True) for key in REFERRAL_LABELS],
    }


def _breakdown(
    name: str, order: list[tuple[str, str, str, bool]], cells: dict[str, Cell], total: Cell
) -> Breakdown:
    """A breakdown's rows in order; keys the order does not know are listed after."""
    rows = []
    listed = set()
    for key, label_id, label_en, always in order:
        cell = cells.get(key)
        listed.add(key)
        if cell is None:
            if not always:
                continue
            cell = Cell(0, Mark.SHOWN, exactly(0))
        elif cell.value == 0 and not always:
            continue
        rows.append(Row(key, label_id, label_en, cell))
    for key in sorted(set(cells) - listed):
        if cells[key].value:
            rows.append(Row(key, key, key, cells[key]))
    return Breakdown(name, tuple(rows), total)


# Protected figures per (snapshot, first month, last month, k), kept by each process for
# the snapshot's life: a snapshot never changes, so neither do they. Only a cache; every
# server computes the same from the same snapshot, and a new snapshot has a new id.
_CACHE_SIZE = 64
_cache: OrderedDict[tuple[Any, ...], tuple[Protected, MonthData]] = OrderedDict()
_cache_lock = threading.Lock()


def _protected(
    snapshot: StatsSnapshot, first: date, last: date, k: int
) -> tuple[Protected, MonthData]:
    """The protected figures of the months first..last and their raw sums, cached."""
    # The database and the build time too: ids start again in a wiped or another database.
    key = (str(db.engine.url), snapshot.id, snapshot.built_at, first, last, k)
    snapshot_id = snapshot.id
    with _cache_lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    months = Period("span", "", first, last).months
    data = _load_months(snapshot_id, months)
    protected = _Protector(data, k).months(months)
    merged = MonthData()
    for month in months:
        merged.add(data[month])
    with _cache_lock:
        _cache[key] = (protected, merged)
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return protected, merged


def period_stats(period: Period) -> PeriodStats:
    """The protected figures of one period, from the current snapshot."""
    current = snapshot()
    k = int(current_app.config["STATS_MIN_CELL"])
    protected, merged = _protected(current, period.first, period.last, k)
    order = _key_order(period)
    breakdowns = {}
    for name in BREAKDOWNS:
        total = protected.totals.get(GROUPS[name]) or protected.totals["reports"]
        breakdowns[name] = _breakdown(name, order[name], protected.tables.get(name, {}), total)
    days = {str(key): int(value) for key, value in json.loads(current.deadlines).items()}
    figures: dict[str, Figure] = {}
    for name in FIGURES:
        reports = protected.singles[name]
        if name in SUM_FIGURES:
            mark = reports.mark
        else:
            mark = Mark.SMALL if 0 < reports.value < k else Mark.SHOWN
        value: float | int | None = None
        if mark is Mark.SHOWN and reports.value > 0:
            if name in MEDIAN_FIGURES:
                value = _median(merged.histograms[name])
            elif name in SUM_FIGURES:
                value = merged.sums[name]
            else:
                met = merged.counts[name][MET]
                value = int(met * 100 / reports.value + 0.5)
        stage = name.removeprefix("deadline_")
        figures[name] = Figure(name, reports, value, mark, days.get(stage))
    return PeriodStats(
        period=period,
        k=k,
        as_of_month=month_start(current.as_of),
        deadlines=days,
        total=protected.totals["reports"],
        breakdowns=breakdowns,
        figures=figures,
    )


def first_month() -> date | None:
    """The first month with a report, from the current snapshot (for the period filter)."""
    return snapshot().first_month
