"""Publishing: freeze closed quarters once, protect each, add years up from them."""

from __future__ import annotations

import json
import logging
import threading
from collections import Counter, OrderedDict, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from flask import current_app
from flask_babel import force_locale, format_date, get_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    func,
    select,
)
from sqlalchemy.exc import IntegrityError

from portal import deadlines
from portal.extensions import db
from portal.labels import CHANNEL_LABELS, STATUS_LABELS
from portal.models import (
    Category,
    Channel,
    Report,
    Service,
    StatsCell,
    StatsPublication,
    Status,
    Unit,
)
from portal.months import month_key, month_of
from portal.services.reports import round_amount
from portal.services.stats.build import (
    inspectorate_deadlines,
    refresh,
)
from portal.services.stats.figures import (
    BREAKDOWNS,
    DEADLINE_FIGURES,
    FIGURES,
    GROUPS,
    MEDIAN_FIGURES,
    MET,
    MISSED,
    REFERRAL_LABELS,
    SUM_FIGURES,
)
from portal.services.stats.periods import (
    Period,
    add_months,
    last_closed_quarter,
    quarter,
    quarter_key,
    quarter_start,
)
from portal.suppression import Cell, Counts, Interval, Mark, Protected, exactly, protect_table

log = logging.getLogger(__name__)

# --- publishing a quarter ------------------------------------------------------------------


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


def _cells_json(rows: Sequence[tuple[date, str, str, int, int]]) -> str:
    """A quarter's raw monthly cells as the JSON a publication keeps, in a fixed order."""
    return json.dumps(
        sorted(
            [month.isoformat(), figure, key, reports, amount]
            for month, figure, key, reports, amount in rows
        )
    )


def _month_data(cells: str) -> MonthData:
    """A publication's cells added together into one quarter's figures."""
    data = MonthData()
    for month_text, figure, key, reports, amount in json.loads(cells):
        if figure == "month":
            data.counts["month"][month_text[:7]] += reports
        elif figure.startswith("days_"):
            data.histograms[figure.removeprefix("days_")][int(key)] += reports
        elif figure in SUM_FIGURES:
            data.sums[figure] += amount
            data.reports[figure] += reports
        else:
            data.counts[figure][key] += reports
    return data


def _first_report_quarter() -> date | None:
    """The quarter of the first report received, if any."""
    first = db.session.scalar(select(func.min(Report.received_on)))
    return quarter_start(first) if first is not None else None


def _due(today: date) -> list[date]:
    """Closed quarters not published yet, oldest first.

    From the first published quarter on (or, before any, the first report's quarter): a
    quarter older than the first publication had no report when it was made, stays empty
    and is never published later, so its zeros can never turn into a number.
    """
    newest = last_closed_quarter(today)
    published = set(db.session.scalars(select(StatsPublication.period)))
    if published:
        first = min(date(int(key[:4]), 3 * int(key[-1]) - 2, 1) for key in published)
    else:
        first_report = _first_report_quarter()
        if first_report is None:
            return []
        first = first_report
    due, start = [], first
    while start <= newest:
        if quarter_key(start) not in published:
            due.append(start)
        start = add_months(start, 3)
    return due


def publish_due() -> list[str]:
    """Freeze every quarter that has ended and is not published yet; their keys.

    Runs from `flask stats publish` (daily, by the timer in the README) and, when a
    quarter is due, from the first request that needs it. A working snapshot of the
    reports is built, each due quarter's cells are copied into a publication row, and the
    row is never changed again. Several servers may try at once: the period is unique,
    so one wins and the others keep its row.
    """
    today = deadlines.local_today()
    due = _due(today)
    if not due:
        return []
    working = refresh()
    days = working.deadlines
    published = []
    for first in due:
        months = quarter(first).months
        rows = db.session.execute(
            select(
                StatsCell.month,
                StatsCell.figure,
                StatsCell.key,
                StatsCell.reports,
                StatsCell.amount,
            ).where(
                StatsCell.snapshot_id == working.id,
                StatsCell.month >= months[0],
                StatsCell.month <= months[-1],
            )
        )
        db.session.add(
            StatsPublication(
                period=quarter_key(first),
                first_month=first,
                published_on=today,
                deadlines=days,
                cells=_cells_json([(row[0], row[1], row[2], row[3], row[4]) for row in rows]),
            )
        )
        try:
            db.session.commit()
        except IntegrityError:  # another server published it first: its row stands
            db.session.rollback()
            continue
        published.append(quarter_key(first))
    if published:
        log.info("Published the statistics of %s", ", ".join(published))
    return published


# Per process: the newest closed quarter already checked for publication, per database.
_checked: dict[str, str] = {}


def ensure_published() -> None:
    """Publish any quarter that has ended, once per quarter per process (cheap otherwise)."""
    newest = quarter_key(last_closed_quarter(deadlines.local_today()))
    database = str(db.engine.url)
    if _checked.get(database) == newest:
        return
    if current_app.config["STATS_REFRESH_IN_REQUESTS"]:
        try:
            publish_due()
        except Exception:
            db.session.rollback()
            log.exception("Publishing the statistics failed; serving what is published")
            return
    _checked[database] = newest


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
    quarters: tuple[str, ...] = ()  # the published quarters a year adds up


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


def _labels(locale: str, texts: Mapping[Any, Any]) -> dict[str, str]:
    """Lazy labels rendered in one language, keyed by the stored (string) value."""
    with force_locale(locale):
        return {str(key): str(text) for key, text in texts.items()}


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
    """A breakdown's rows in order; keys the order does not know are listed after.

    A total under k publishes no row at all: which cells are empty would tell how the
    few reports split.
    """
    if total.mark is Mark.SMALL:
        return Breakdown(name, (), total)
    rows = []
    listed = set()
    for key, label_id, label_en, always in order:
        cell = cells.get(key)
        listed.add(key)
        if cell is None:
            if not always:
                continue
            cell = Cell(0, Mark.SHOWN, exactly(0))
        elif cell.value == 0 and cell.shown and not always:
            continue
        rows.append(Row(key, label_id, label_en, cell))
    for key in sorted(set(cells) - listed):
        if cells[key].value:
            rows.append(Row(key, key, key, cells[key]))
    return Breakdown(name, tuple(rows), total)


@dataclass(frozen=True)
class _Quarter:
    """One published quarter: its raw figures, their protection and its publication day."""

    data: MonthData
    protected: Protected
    published_on: date | None
    deadlines: dict[str, int]


# Protected quarters per (database, quarter, k): a publication never changes, so neither
# does its protection. Only a cache; every server computes the same from the same row.
_CACHE_SIZE = 256
_cache: OrderedDict[tuple[Any, ...], _Quarter] = OrderedDict()
_cache_lock = threading.Lock()


def _quarter(first: date, k: int) -> _Quarter:
    """The published quarter starting on `first` (empty if it never had a report)."""
    key_text = quarter_key(first)
    row = db.session.scalars(
        select(StatsPublication).where(StatsPublication.period == key_text)
    ).first()
    cache_key = (str(db.engine.url), key_text, k, row.id if row else None)
    with _cache_lock:
        if cache_key in _cache:
            _cache.move_to_end(cache_key)
            return _cache[cache_key]
    data = _month_data(row.cells) if row is not None else MonthData()
    counts = data.as_counts()
    protected = protect_table(counts, k=k, groups=GROUPS)
    days = (
        {str(name): int(value) for name, value in json.loads(row.deadlines).items()}
        if row is not None
        else inspectorate_deadlines()
    )
    result = _Quarter(data, protected, row.published_on if row else None, days)
    with _cache_lock:
        _cache[cache_key] = result
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return result


def _round_days(value: float | int | None) -> int | None:
    """A median in whole working days (halves rounded up)."""
    return None if value is None else int(value + 0.5)


def _share_hidden(met: int, missed: int, k: int) -> bool:
    """A share gives its met and missed counts away: each must be 0 or at least k."""
    return 0 < met < k or 0 < missed < k


def _quarter_figures(data: MonthData, k: int, days: dict[str, int]) -> dict[str, Figure]:
    """The single figures of a quarter: medians, rounded sums and shares, over k or more.

    The number of reports behind a figure is not published (only whether it reaches k):
    it would be one more total, beside the status table, to subtract.
    """
    figures: dict[str, Figure] = {}
    singles = data.singles()
    for name in FIGURES:
        count = singles[name]
        if count == 0:
            reports = Cell(0, Mark.SHOWN, exactly(0))
        elif count < k:
            reports = Cell(count, Mark.SMALL, Interval(1, k - 1))
        else:
            reports = Cell(count, Mark.HIDDEN, Interval(k))
        mark = Mark.SMALL if reports.mark is Mark.SMALL else Mark.SHOWN
        value: float | int | None = None
        if name in DEADLINE_FIGURES:
            met, missed = data.counts[name][MET], data.counts[name][MISSED]
            if mark is Mark.SHOWN and _share_hidden(met, missed, k):
                mark = Mark.HIDDEN
            if mark is Mark.SHOWN and count:
                value = int(met * 100 / count + 0.5)
        elif mark is Mark.SHOWN and count:
            if name in MEDIAN_FIGURES:
                value = _round_days(_median(data.histograms[name]))
            else:
                value = round_amount(data.sums[name])
        stage = name.removeprefix("deadline_")
        figures[name] = Figure(name, reports, value, mark, days.get(stage))
    return figures


def _sum_cells(cells: Sequence[Cell], k: int) -> Cell:
    """A year's cell from its quarters' published cells: exact only if all of them are.

    Nothing but the quarters' own published numbers goes in, so a year can never tell
    more than its quarters do.
    """
    value = sum(cell.value for cell in cells)
    if all(cell.shown for cell in cells):
        return Cell(value, Mark.SHOWN, exactly(value))
    low = sum(cell.known.lo if not cell.shown else cell.value for cell in cells)
    high: int | None = 0
    for cell in cells:
        bound = cell.value if cell.shown else cell.known.hi
        high = None if high is None or bound is None else high + bound
    if high is not None and high < k:
        return Cell(value, Mark.SMALL, Interval(low, high))
    return Cell(value, Mark.HIDDEN, Interval(low, high))


def _year_figures(
    quarters: Sequence[_Quarter], figures: Sequence[dict[str, Figure]], k: int
) -> dict[str, Figure]:
    """A year's figures: computed over its quarters only when every quarter's is published."""
    result: dict[str, Figure] = {}
    merged = MonthData()
    for one in quarters:
        merged.add(one.data)
    for name in FIGURES:
        parts = [part[name] for part in figures]
        reports = _sum_cells([part.reports for part in parts], k)
        counted = [part for part in parts if part.reports.value]
        if not counted:
            mark, value = Mark.SHOWN, None
        elif any(not part.shown for part in counted):
            mark, value = Mark.HIDDEN, None
        else:
            mark = Mark.SHOWN
            if name in MEDIAN_FIGURES:
                value = _round_days(_median(merged.histograms[name]))
            elif name in SUM_FIGURES:
                value = sum(int(part.value or 0) for part in counted)
            else:
                met = merged.counts[name][MET]
                total = met + merged.counts[name][MISSED]
                value = int(met * 100 / total + 0.5)
        result[name] = Figure(name, reports, value, mark, parts[-1].deadline_days)
    return result


def _quarter_stats(first: date, k: int) -> PeriodStats:
    """The published figures of one closed quarter."""
    period = quarter(first)
    one = _quarter(first, k)
    order = _key_order(period)
    breakdowns = {}
    for name in BREAKDOWNS:
        group = GROUPS[name]
        total = one.protected.totals.get(group) or Cell(0, Mark.SHOWN, exactly(0))
        cells = {} if group in one.protected.withheld else one.protected.tables.get(name, {})
        breakdowns[name] = _breakdown(name, order[name], cells, total)
    return PeriodStats(
        period=period,
        k=k,
        as_of_month=month_of(one.published_on or add_months(first, 3)),
        deadlines=one.deadlines,
        total=breakdowns["status"].total,
        breakdowns=breakdowns,
        figures=_quarter_figures(one.data, k, one.deadlines),
        quarters=(period.key,),
    )


def _year_stats(period: Period, k: int) -> PeriodStats:
    """A year as the sum of its published quarters' published numbers."""
    newest = last_closed_quarter(deadlines.local_today())
    firsts = [first for first in period.quarters if first <= newest]
    parts = [_quarter_stats(first, k) for first in firsts]
    order = _key_order(period)
    breakdowns = {}
    for name in BREAKDOWNS:
        total = _sum_cells([part.breakdowns[name].total for part in parts], k)
        if name == "month":
            rows = tuple(row for part in parts for row in part.breakdowns[name].rows)
            breakdowns[name] = Breakdown(name, rows, total)
            continue
        keys = {row.key for part in parts for row in part.breakdowns[name].rows}
        cells = {}
        for key in keys:
            found = []
            for part in parts:
                match = [row.cell for row in part.breakdowns[name].rows if row.key == key]
                if match:
                    found.append(match[0])
                elif part.breakdowns[name].total.mark is Mark.SMALL:
                    found.append(Cell(0, Mark.SMALL, Interval(0, k - 1)))
                else:
                    found.append(Cell(0, Mark.SHOWN, exactly(0)))
            cells[key] = _sum_cells(found, k)
        breakdowns[name] = _breakdown(name, order[name], cells, total)
    figures = _year_figures(
        [_quarter(first, k) for first in firsts], [part.figures for part in parts], k
    )
    return PeriodStats(
        period=period,
        k=k,
        as_of_month=max(part.as_of_month for part in parts),
        deadlines=parts[-1].deadlines,
        total=breakdowns["status"].total,
        breakdowns=breakdowns,
        figures=figures,
        quarters=tuple(part.period.key for part in parts),
    )


def period_stats(period: Period) -> PeriodStats:
    """The published, protected figures of one closed quarter or of a year's closed quarters."""
    ensure_published()
    k = int(current_app.config["STATS_MIN_CELL"])
    if period.kind == "quarter":
        return _quarter_stats(period.first, k)
    return _year_stats(period, k)


def first_month() -> date | None:
    """The first published month (for the period filter)."""
    return db.session.scalar(select(func.min(StatsPublication.first_month)))
