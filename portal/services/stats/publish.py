"""Publishing: freeze each closed quarter once, with everything its figures depend on."""

from __future__ import annotations

import json
import logging
from datetime import date

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from portal import deadlines, memo
from portal.extensions import db
from portal.models import Report, StatsPublication
from portal.services.stats import facts
from portal.services.stats.build import compute, inspectorate_deadlines
from portal.services.stats.cases import admit_public, quarter_floors
from portal.services.stats.labels import key_order
from portal.services.stats.periods import (
    add_months,
    last_closed_quarter,
    quarter,
    quarter_key,
    quarter_start,
)
from portal.services.stats.tables import cells_json, floors_json
from portal.transaction import atomic

log = logging.getLogger(__name__)


def _first_report_quarter() -> date | None:
    """The quarter of the first report received, if any."""
    first = db.session.scalar(select(func.min(Report.received_on)))
    return quarter_start(first) if first is not None else None


def due(today: date) -> list[date]:
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
    result, start = [], first
    while start <= newest:
        if quarter_key(start) not in published:
            result.append(start)
        start = add_months(start, 3)
    return result


def freeze(first: date, *, today: date, k: int) -> StatsPublication:
    """The publication row of the quarter starting on `first`, built from its reports only.

    The quarter's cells come from the facts the timer keeps of its reports, brought up to
    date first in the same transaction (`facts`): exactly what reading its reports now
    would give. A quarter the facts do not hold is read from its own reports (the index on
    the day received bounds the work to one quarter's). With it are kept the minimum cell
    size, the breakdowns' labels and what published cases show of the quarter: the row
    alone then decides every figure, now and after any later change of settings.
    """
    period = quarter(first)
    days = inspectorate_deadlines()
    connection = db.session.connection()
    facts.fold(connection, days, today)  # every change committed until now, in this block
    if facts.covers(connection, first, days):
        rows = facts.cells(connection, period, days, today)
    else:  # a quarter older than the facts (published once, then deleted): read it whole
        rows, _ = compute(today, days, months=(period.first, period.last))
    floors, single_floors = quarter_floors(period.key)
    return StatsPublication(
        period=period.key,
        first_month=first,
        published_on=today,
        deadlines=json.dumps(days, sort_keys=True),
        cells=cells_json(
            [
                (row["month"], row["figure"], row["key"], row["reports"], row["amount"])
                for row in rows
            ]
        ),
        k=k,
        labels=json.dumps(key_order(period)),
        floors=floors_json(floors, single_floors),
    )


def publish_due() -> list[str]:
    """Freeze every quarter that has ended and is not published yet; their keys.

    Runs from `flask stats publish` (daily, by the timer in the README), never from a
    request. On other days it folds the day's new and changed reports into the facts.
    Each due quarter is one transaction; its row is never changed again. Several
    servers may try at once: the period is unique, so one wins and the others keep its row.
    """
    today = deadlines.local_today()
    with atomic():
        admit_public()  # cases approved before their facts were kept are listed from now on
    if not due(today):
        with atomic():  # the day's new and changed reports, folded into the facts
            facts.fold(db.session.connection(), inspectorate_deadlines(), today)
        return []
    k = int(current_app.config["STATS_MIN_CELL"])
    published = []
    for first in due(today):
        try:
            with atomic():
                db.session.add(freeze(first, today=today, k=k))
                db.session.flush()
                facts.advance(db.session.connection(), first)  # its facts are done with
        except IntegrityError:  # another server published it first: its row stands
            continue
        published.append(quarter_key(first))
    if published:
        memo.forget_version("publications")  # this server shows them at once
        log.info("Published the statistics of %s", ", ".join(published))
    return published
