"""Published periods: closed quarters, and years as sums of their closed quarters."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from flask_babel import lazy_gettext as _l

from portal.services.stats.figures import (
    InvalidPeriod,
)

# --- periods ------------------------------------------------------------------------------


def add_months(month: date, count: int) -> date:
    """The month `count` months after (or before) `month`."""
    index = month.year * 12 + month.month - 1 + count
    return date(index // 12, index % 12 + 1, 1)


@dataclass(frozen=True)
class Period:
    """The months a published view covers; `key` is what the `period` parameter says."""

    kind: str  # quarter or year
    key: str  # "2026-Q1" or "2026"
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

    @property
    def quarters(self) -> list[date]:
        """The first month of every quarter of the period."""
        return [month for month in self.months if month.month % 3 == 1]

    def label(self) -> str:
        """The period in the visitor's language."""
        if self.kind == "quarter":
            return str(
                _l(
                    "Quarter %(quarter)d of %(year)d",
                    quarter=(self.first.month - 1) // 3 + 1,
                    year=self.first.year,
                )
            )
        return str(self.first.year)


_YEAR = re.compile(r"^(\d{4})$")
_QUARTER = re.compile(r"^(\d{4})-[Qq]([1-4])$")
_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
FIRST_YEAR = 2000
# The default period's name where one must be written (the newest published quarter).
LATEST = "latest"


def quarter_start(day: date) -> date:
    """The first day of the quarter of `day`."""
    return date(day.year, day.month - (day.month - 1) % 3, 1)


def quarter_key(first: date) -> str:
    """A quarter as YYYY-Qn."""
    return f"{first.year:04d}-Q{(first.month - 1) // 3 + 1}"


def parse_quarter_key(key: str) -> date:
    """The first month of a quarter written YYYY-Qn (a publication's own key)."""
    return date(int(key[:4]), 3 * int(key[-1]) - 2, 1)


def quarter(first: date) -> Period:
    """The quarter starting on `first`."""
    return Period("quarter", quarter_key(first), first, add_months(first, 2))


def last_closed_quarter(today: date) -> date:
    """The first month of the newest quarter that has ended (WIB)."""
    return add_months(quarter_start(today), -3)


def parse_period(text: str | None, today: date) -> Period:
    """YYYY or YYYY-Qn of a quarter that has ended (empty: the newest); InvalidPeriod otherwise.

    Figures are published per closed quarter only, and a year is the sum of its closed
    quarters: a month, a rolling window or the current quarter would change while reports
    arrive, and two views taken at two times would tell what arrived in between.
    """
    text = (text or "").strip(" ")  # only spaces: a control character is no period
    newest = last_closed_quarter(today)
    if not text or text == LATEST:
        return quarter(newest)
    year_match = _YEAR.match(text) or _QUARTER.match(text) or _MONTH.match(text)
    # Checked before any date is built: year 0000 is not a date at all.
    if year_match and int(year_match.group(1)) < FIRST_YEAR:
        raise InvalidPeriod(str(_l("There are no statistics for this period.")))
    if match := _YEAR.match(text):
        year = int(match.group(1))
        period = Period("year", text, date(year, 1, 1), date(year, 12, 1))
    elif match := _QUARTER.match(text):
        period = quarter(date(int(match.group(1)), 3 * int(match.group(2)) - 2, 1))
    elif _MONTH.match(text):
        raise InvalidPeriod(
            str(
                _l(
                    "Statistics are published per quarter, after it ends, and per year:"
                    " give a quarter (2026-Q1) or a year (2026)."
                )
            )
        )
    else:
        raise InvalidPeriod(str(_l("Give the period as a year (2026) or a quarter (2026-Q1).")))
    if period.first.year < FIRST_YEAR:
        raise InvalidPeriod(str(_l("There are no statistics for this period.")))
    if period.first > newest:
        raise InvalidPeriod(
            str(
                _l(
                    "This period has not ended yet:"
                    " a quarter's figures are published after it ends."
                )
            )
        )
    return period


def period_choices(first_month: date | None, today: date) -> list[tuple[str, list[Period]]]:
    """The periods the dashboard's filter offers, newest first, grouped by kind."""
    newest = last_closed_quarter(today)
    first = min(quarter_start(first_month or newest), add_months(newest, -9))
    quarters = []
    start = newest
    while start >= first:
        quarters.append(quarter(start))
        start = add_months(start, -3)
    years = [
        Period("year", str(year), date(year, 1, 1), date(year, 12, 1))
        for year in range(newest.year, first.year - 1, -1)
    ]
    return [(str(_l("Years")), years), (str(_l("Quarters")), quarters)]
