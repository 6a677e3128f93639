"""Public statistics: closed quarters, frozen once published, protected as one table each.

Requests never scan the reports table. `refresh()` reads it once (grouped queries and
one pass over the status history) into a working snapshot of per-month cells; it is
internal and never published. `publish_due()` copies each quarter that has ended into a
`StatsPublication` row, once: a published quarter never changes, and nothing of the
quarter still running is published, so an outsider who polls every figure learns
nothing about when a report arrived. Quarters share no report, so one quarter's table
cannot be subtracted from another's; each is protected on its own with
`portal.suppression.protect_table`. A year is computed from its published quarters'
*published* numbers only (exact where all are shown), so it can never tell more than
they do. Medians over a quarter come from per-month histograms of working days.
Everything published is a public fact at month grain: nothing here reads content.
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
    period_choices,
    quarter,
    quarter_key,
    quarter_start,
)
from portal.services.stats.publish import (
    FIGURE_LABELS,
    PUBLIC_FIGURES,
    Breakdown,
    Figure,
    MonthData,
    PeriodStats,
    Row,
    _median,
    ensure_published,
    first_month,
    period_stats,
    publish_due,
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
    "compute",
    "ensure_published",
    "first_month",
    "inspectorate_deadlines",
    "last_closed_quarter",
    "month_key",
    "month_start",
    "parse_period",
    "period_choices",
    "period_stats",
    "publish_due",
    "quarter",
    "quarter_key",
    "quarter_start",
    "refresh",
]
