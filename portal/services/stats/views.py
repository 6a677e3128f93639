"""What a period publishes: protected rows, labels and figures of quarters and years."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from flask import current_app
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from portal import deadlines
from portal.extensions import db
from portal.models import StatsPublication
from portal.months import month_of as month_start
from portal.services.reports import round_amount
from portal.services.stats.build import inspectorate_deadlines
from portal.services.stats.figures import (
    BREAKDOWNS,
    DEADLINE_FIGURES,
    FIGURES,
    GROUPS,
    MEDIAN_FIGURES,
    MET,
    MISSED,
    SUM_FIGURES,
)
from portal.services.stats.labels import merged_order, stored_order
from portal.services.stats.periods import (
    Period,
    add_months,
    last_closed_quarter,
    quarter,
)
from portal.services.stats.tables import MonthData, Quarter, load, publication
from portal.suppression import Cell, Interval, Mark, exactly


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


def _round_days(value: float | int | None) -> int | None:
    """A median in whole working days (halves rounded up)."""
    return None if value is None else int(value + 0.5)


def _share_hidden(met: int, missed: int, k: int) -> bool:
    """A share gives its met and missed counts away: each must be 0 or at least k."""
    return 0 < met < k or 0 < missed < k


def _quarter_figures(one: Quarter) -> dict[str, Figure]:
    """The single figures of a quarter: medians, rounded sums and shares, over k or more.

    The number of reports behind a figure is not published (only whether it reaches k):
    it would be one more total, beside the status table, to subtract. A sum is hidden when
    published cases show all but 1..k-1 of the reports behind it (their refunds subtract).
    """
    data, k, days = one.data, one.k, one.deadlines
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
            elif 0 < count - one.single_floors.get(name, 0) < k:
                mark = Mark.HIDDEN
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
    quarters: Sequence[Quarter], figures: Sequence[dict[str, Figure]], k: int
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


def _quarter(first: date) -> Quarter:
    """The published quarter starting on `first` (empty if it never had a report)."""
    k = int(current_app.config["STATS_MIN_CELL"])
    return load(publication(first), k=k, deadlines=inspectorate_deadlines())


def _quarter_stats(first: date, one: Quarter) -> PeriodStats:
    """The published figures of one closed quarter, from its frozen row alone."""
    period = quarter(first)
    k = one.k
    order = stored_order(one.labels, period)
    breakdowns = {}
    for name in BREAKDOWNS:
        group = GROUPS[name]
        total = one.protected.totals.get(group) or Cell(0, Mark.SHOWN, exactly(0))
        if group in one.protected.withheld:
            # Too few reports (or too few beside the published cases) to split: no row.
            breakdowns[name] = Breakdown(name, (), total)
            continue
        breakdowns[name] = _breakdown(name, order[name], one.protected.tables.get(name, {}), total)
    return PeriodStats(
        period=period,
        k=k,
        as_of_month=month_start(one.published_on or add_months(first, 3)),
        deadlines=one.deadlines,
        total=breakdowns["status"].total,
        breakdowns=breakdowns,
        figures=_quarter_figures(one),
        quarters=(period.key,),
    )


def _year_stats(period: Period) -> PeriodStats:
    """A year as the sum of its published quarters' published numbers."""
    newest = last_closed_quarter(deadlines.local_today())
    firsts = [first for first in period.quarters if first <= newest]
    quarters = [_quarter(first) for first in firsts]
    parts = [_quarter_stats(first, one) for first, one in zip(firsts, quarters, strict=True)]
    # A year is read with the largest k its quarters were published with.
    k = max(one.k for one in quarters)
    order = merged_order(
        [
            stored_order(one.labels, quarter(first))
            for first, one in zip(firsts, quarters, strict=True)
        ]
    )
    breakdowns = {}
    for name in BREAKDOWNS:
        total = _sum_cells([part.breakdowns[name].total for part in parts], k)
        if name == "month":
            rows = tuple(row for part in parts for row in part.breakdowns[name].rows)
            breakdowns[name] = Breakdown(name, rows, total)
            continue
        if not any(part.breakdowns[name].rows for part in parts):
            # Every quarter withheld its rows: so does the year (a zero would be a guess).
            breakdowns[name] = Breakdown(name, (), total)
            continue
        keys = {row.key for part in parts for row in part.breakdowns[name].rows}
        cells = {}
        for key in keys:
            found = []
            for part, one in zip(parts, quarters, strict=True):
                match = [row.cell for row in part.breakdowns[name].rows if row.key == key]
                total_cell = part.breakdowns[name].total
                if match:
                    found.append(match[0])
                elif total_cell.mark is Mark.SMALL:
                    found.append(
                        Cell(one.data.counts[name][key], Mark.SMALL, Interval(0, one.k - 1))
                    )
                elif part.breakdowns[name].rows or total_cell.value == 0:
                    found.append(Cell(0, Mark.SHOWN, exactly(0)))
                else:  # withheld beside its cases: the quarter tells nothing of the cell
                    found.append(Cell(one.data.counts[name][key], Mark.HIDDEN, Interval(0)))
            cells[key] = _sum_cells(found, k)
        breakdowns[name] = _breakdown(name, order[name], cells, total)
    figures = _year_figures(quarters, [part.figures for part in parts], k)
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
    """The published, protected figures of one closed quarter or of a year's closed quarters.

    Reads publication rows only: nothing is built or published here (the timer's
    `flask stats publish` does that), so no request ever waits for the reports table.
    """
    if period.kind == "quarter":
        return _quarter_stats(period.first, _quarter(period.first))
    return _year_stats(period)


def first_month() -> date | None:
    """The first published month (for the period filter)."""
    return db.session.scalar(select(func.min(StatsPublication.first_month)))
