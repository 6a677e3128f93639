"""Snapshots of the public statistics: per-month aggregates, so no page scans the reports.

A snapshot is written whole in one transaction and the newest is served, so a reader
never sees half of one. Cells hold raw monthly counts (never a single report's row);
suppression is applied when a period is published, from these cells.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from portal.extensions import db
from portal.models.base import utcnow


class StatsSnapshot(db.Model):  # type: ignore[name-defined]
    """One complete build of the statistics from the reports table."""

    id: Mapped[int] = mapped_column(primary_key=True)
    built_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    # The day (WIB) deadlines were judged against; published as its month only.
    as_of: Mapped[date]
    first_month: Mapped[date | None]
    # The working-day deadlines per status the on-time shares were measured with (JSON).
    deadlines: Mapped[str] = mapped_column(Text)


class StatsCell(db.Model):  # type: ignore[name-defined]
    """One monthly aggregate: reports received in `month` counted under (figure, key).

    figure is a breakdown (status, category, service, unit, channel, referral, month),
    a sum (demanded, refunded: `amount` holds the Rupiah), a histogram of working days
    (days_verification, days_completion: key is the number of days), or a deadline
    (deadline_<status>, deadline_all: key is met or missed).
    """

    __table_args__ = (Index("ix_stats_cell_snapshot_month", "snapshot_id", "month"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    snapshot_id: Mapped[int] = mapped_column(ForeignKey("stats_snapshot.id", ondelete="CASCADE"))
    month: Mapped[date]
    figure: Mapped[str] = mapped_column(String(24))
    key: Mapped[str] = mapped_column(String(40))
    reports: Mapped[int] = mapped_column(BigInteger)
    amount: Mapped[int] = mapped_column(BigInteger, default=0)


class StatsPublication(db.Model):  # type: ignore[name-defined]
    """The frozen figures of one closed quarter: written once, never changed.

    Public figures change only when a quarter that has ended is published, so an outsider
    who polls the statistics learns nothing about when, between two publications, any
    report arrived. `cells` holds the quarter's raw monthly cells (JSON list of
    [month, figure, key, reports, amount]); suppression is applied on reading, the same way
    every time, so every server and every request publishes the same numbers.
    """

    id: Mapped[int] = mapped_column(primary_key=True)
    period: Mapped[str] = mapped_column(String(7), unique=True)  # "2026-Q3"
    first_month: Mapped[date]
    # The day (WIB) the quarter was frozen: statuses and deadlines are as of that day.
    published_on: Mapped[date]
    deadlines: Mapped[str] = mapped_column(Text)
    cells: Mapped[str] = mapped_column(Text)
    # Everything else the published figures depend on, as it was on publication day, so
    # that a later change of the minimum cell size or of the catalogue never alters them:
    # k, the labels and order of every breakdown's keys (JSON), and what published cases
    # then showed of the quarter (JSON floors: breakdown -> key -> cases, and totals).
    k: Mapped[int] = mapped_column(Integer, default=5, server_default="5")
    labels: Mapped[str | None] = mapped_column(Text)
    floors: Mapped[str] = mapped_column(Text, default="{}", server_default="{}")


class StatsCaseFact(db.Model):  # type: ignore[name-defined]
    """One fact of a published case that counts as published in the statistics.

    Written when a case is approved, never removed (withdrawing a case does not make anyone
    forget it): `figure`/`key` name the statistics cell the case is known to count in
    (`_total`/`reports` for the quarter itself), `period` the quarter whose tables it counts
    in (None: shown, but no published table can have counted it, e.g. a refund granted
    after the quarter was frozen). A fact that would narrow a frozen quarter's cell is not
    written, and the register does not show it.
    """

    __table_args__ = (UniqueConstraint("report_id", "figure", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("report.id", ondelete="CASCADE"))
    period: Mapped[str | None] = mapped_column(String(7), index=True)
    figure: Mapped[str] = mapped_column(String(24))
    key: Mapped[str] = mapped_column(String(40))


# What a freeze groups the facts of a quarter by, besides the month (StatsFact's indexes).
FACT_GROUPS = (
    ("status",),
    ("category",),
    ("service",),
    ("unit",),
    ("channel",),
    ("referral",),
    ("demanded",),
    ("refunded",),
    ("verification",),
    ("completion",),
    ("deadlines", "open_stage", "open_due"),
)


class StatsFact(db.Model):  # type: ignore[name-defined]
    """What one report of a quarter not yet published adds to that quarter's cells.

    Kept by the daily timer (`portal.services.stats.facts.fold`) for every report received
    from `StatsFold.since` on, so freezing a quarter adds up these narrow rows instead of
    reading the reports and their history. Public facts only, at month grain; a fact is
    internal working data like a snapshot cell, published nowhere, and dropped once its
    quarter is frozen. `deadlines` holds one digit per inspectorate stage (0 not judged,
    1 met, 2 missed) from the steps the report has left; a report still in a stage with a
    deadline has that stage's position in `open_stage` and its deadline in `open_due`,
    judged on the day its quarter is frozen.
    """

    # One index per grouped query of a freeze, each holding what the query reads (month
    # first): adding a quarter up reads indexes only, a tenth of the time of the table.
    __table_args__ = tuple(
        Index(f"ix_stats_fact_month_{columns[0]}", "month", *columns) for columns in FACT_GROUPS
    )

    report_id: Mapped[int] = mapped_column(
        ForeignKey("report.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    month: Mapped[date]
    status: Mapped[str] = mapped_column(String(20))
    category: Mapped[str] = mapped_column(String(40))
    service: Mapped[str] = mapped_column(String(40))
    unit: Mapped[str] = mapped_column(String(40))
    channel: Mapped[str] = mapped_column(String(16))
    referral: Mapped[str | None] = mapped_column(String(40))
    demanded: Mapped[int | None] = mapped_column(BigInteger)  # only when > 0
    refunded: Mapped[int | None] = mapped_column(BigInteger)  # only when resolved and > 0
    verification: Mapped[int | None]  # working days from receipt to verification
    completion: Mapped[int | None]  # working days from receipt to resolution (resolved only)
    deadlines: Mapped[str] = mapped_column(String(8))
    open_stage: Mapped[int | None]
    open_due: Mapped[date | None]


class StatsPending(db.Model):  # type: ignore[name-defined]
    """A report whose public facts changed since the timer last folded it into StatsFact.

    Written in the transaction of the change itself (session hooks), so no change can be
    missed; the daily timer recomputes these reports' facts and removes the rows.
    """

    report_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)


class StatsFold(db.Model):  # type: ignore[name-defined]
    """The one row saying what StatsFact covers and how it was judged.

    Facts exist for every report received from `since` on (None: every report). They are
    valid only for these `deadlines` (JSON, the inspectorate's working days per stage) and
    this `version` of the fact rules; otherwise the timer rebuilds them.
    """

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    since: Mapped[date | None]
    deadlines: Mapped[str] = mapped_column(Text, default="")
    version: Mapped[int] = mapped_column(Integer, default=0)
    folded_on: Mapped[date | None]
