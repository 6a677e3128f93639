"""Public statistics: closed quarters, frozen once published, protected as one table each.

Requests never scan the reports table and never build anything: they read publication
rows. `publish_due()` (the daily timer's `flask stats publish`) reads each quarter that has
ended, and only its reports, into a `StatsPublication` row, once, with the minimum cell
size, labels and published cases' facts it is protected with: a published quarter never
changes, and nothing of the quarter still running is published, so an outsider who polls
every figure learns nothing about when a report arrived. Quarters share no report, so one
quarter's table cannot be subtracted from another's; each is protected on its own with
`portal.suppression.protect_table`, with what published cases show of it as floors
(`cases`). A year is computed from its published quarters' *published* numbers only
(exact where all are shown), so it can never tell more than they do. Medians over a
quarter come from per-month histograms of working days. The daily timer keeps one narrow
row of facts per report of the quarters not yet published (`facts`), so a quarter end
adds those up instead of reading the quarter's reports and history; the figures are
exactly those of a full read on the day of publishing. `refresh()` builds an internal
working snapshot (never published). Everything published is a public fact at month
grain: nothing here reads content.
"""

from __future__ import annotations

from portal.models import StatsCell, StatsPublication
from portal.months import month_key
from portal.months import month_of as month_start
from portal.services.stats.build import (
    compute,
    inspectorate_deadlines,
    refresh,
)
from portal.services.stats.cache import cached, publications, version
from portal.services.stats.figures import (
    BREAKDOWNS,
    DEADLINE_FIGURES,
    FIGURES,
    GROUPS,
    HISTORY_BATCH,
    INSPECTORATE_STAGES,
    MEDIAN_FIGURES,
    MET,
    MISSED,
    REFERRAL_LABELS,
    SUM_FIGURES,
    TOTAL_KEY,
    InvalidPeriod,
)
from portal.services.stats.periods import (
    FIRST_YEAR,
    LATEST,
    Period,
    add_months,
    last_closed_quarter,
    parse_period,
    parse_quarter_key,
    period_choices,
    quarter,
    quarter_key,
    quarter_start,
)
from portal.services.stats.publish import due, freeze, publish_due
from portal.services.stats.tables import MonthData
from portal.services.stats.views import (
    FIGURE_LABELS,
    PUBLIC_FIGURES,
    Breakdown,
    Figure,
    PeriodStats,
    Row,
    _median,
    first_month,
    period_stats,
)

__all__ = [
    "BREAKDOWNS",
    "DEADLINE_FIGURES",
    "FIGURES",
    "FIGURE_LABELS",
    "FIRST_YEAR",
    "GROUPS",
    "HISTORY_BATCH",
    "INSPECTORATE_STAGES",
    "LATEST",
    "MEDIAN_FIGURES",
    "MET",
    "MISSED",
    "PUBLIC_FIGURES",
    "REFERRAL_LABELS",
    "SUM_FIGURES",
    "TOTAL_KEY",
    "Breakdown",
    "Figure",
    "InvalidPeriod",
    "MonthData",
    "Period",
    "PeriodStats",
    "Row",
    "StatsCell",
    "StatsPublication",
    "_median",
    "add_months",
    "cached",
    "compute",
    "due",
    "first_month",
    "freeze",
    "inspectorate_deadlines",
    "last_closed_quarter",
    "month_key",
    "month_start",
    "parse_period",
    "parse_quarter_key",
    "period_choices",
    "period_stats",
    "publications",
    "publish_due",
    "quarter",
    "quarter_key",
    "quarter_start",
    "refresh",
    "version",
]
