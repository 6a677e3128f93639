"""Per-report facts of the quarters not yet published, folded in daily: a quarter freezes fast.

Freezing a quarter used to read its reports and their whole status history (1.2-2.4 s at
a million reports). Now every report received from `StatsFold.since` on (the quarters not
yet published) has one narrow `StatsFact` row: what it adds to its month's cells. A
quarter's cells are then a few grouped queries over those rows.

Freeze semantics are unchanged: a quarter is frozen as its reports stand on the day it is
published (the first timer run after it ends): statuses, categories, refunds, dates as
they are then, deadlines judged against that day. Facts are an exact cache of that, not
a snapshot of each month at its end:

- Every change to a report's public facts (any ORM flush of a `Report` column the cells
  read, or of a `StatusChange`) writes a `StatsPending` row in the same transaction
  (`pending.install`). A report changed after its month ended is folded again, so a status
  change, a refund or a move to another month reaches the quarter's cells as it would
  in a full read. Crypto-shredding changes no public fact, and no fact holds content.
- `fold` (daily, from `flask stats publish`, and again inside the transaction that
  freezes) recomputes the pending reports' facts and any covered report that has none
  (rows inserted past the ORM), and rebuilds everything when the deadlines or these
  rules changed.
- The only thing that depends on the day of freezing, a deadline still running, is kept
  as the stage and its due day and judged when the quarter is frozen (`cells`).

`tests/test_stats_facts.py` compares a freeze from facts with a full read of the reports
over randomised histories. Writes past the ORM (a bulk `UPDATE report`, a restore) must
call `rebuild`, as they must `status_counts.recount`.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import date, timedelta
from typing import Any

from sqlalchemy import delete, exists, func, insert, select, update
from sqlalchemy.engine import Connection

from portal.models import (
    Report,
    StatsFact,
    StatsFold,
    StatsPending,
    StatsPublication,
    Status,
    StatusChange,
)
from portal.services.stats.build import Builder, Calendar, add_patterns, iso_day, stream
from portal.services.stats.figures import TOTAL_KEY
from portal.services.stats.periods import Period, add_months, parse_quarter_key

# Bump when what a fact holds or how it is judged changes: the timer then rebuilds them.
VERSION = 1
ROW_ID = 1
# Report ids per IN (...) when folding a day's changes.
BATCH = 500
# --- the facts of a set of reports ---------------------------------------------------------


def deadlines_json(days: dict[str, int]) -> str:
    """The deadlines a set of facts was judged with, in stage order (the order counts)."""
    return json.dumps(list(days.items()))


def _calendar(connection: Connection, days: dict[str, int], last: date) -> Calendar:
    """Working days from the first report to past the longest deadline after `last`."""
    first = connection.execute(select(func.min(Report.received_on))).scalar() or last
    room = timedelta(days=2 * max([*days.values(), 1]) + 31)
    return Calendar(min(first, last), last + room)


def compute(
    connection: Connection, where: list[Any], days: dict[str, int], calendar: Calendar
) -> list[dict[str, Any]]:
    """The fact rows of the reports matching `where`, read afresh (two queries).

    Counts exactly as `build.compute` does: the same columns, the same conditions and the
    same judging of each stage, except that a deadline still running is kept open.
    """
    report = select(
        Report.id,
        iso_day(Report.received_on),
        Report.status,
        Report.category_code,
        Report.service_code,
        Report.unit_code,
        Report.channel,
        Report.referred_to,
        Report.amount_demanded_rounded,
        Report.refund_rupiah,
        iso_day(Report.verified_on),
        iso_day(Report.closed_on),
    ).where(*where)
    facts: dict[int, dict[str, Any]] = {}
    received_on: dict[int, str] = {}
    for row in stream(connection, report):
        (report_id, received, status, category, service, unit, channel) = row[:7]
        referral, amount, refund, verified, closed = row[7:]
        resolved = status == Status.RESOLVED
        received_on[report_id] = received
        facts[report_id] = {
            "report_id": report_id,
            "month": date.fromisoformat(received[:7] + "-01"),
            "status": str(status),
            "category": str(category),
            "service": str(service),
            "unit": str(unit),
            "channel": str(channel),
            "referral": str(referral) if referral is not None else None,
            "demanded": int(amount) if amount is not None and amount > 0 else None,
            "refunded": int(refund) if resolved and refund is not None and refund > 0 else None,
            "verification": calendar.between(received, verified) if verified else None,
            "completion": calendar.between(received, closed) if resolved and closed else None,
            "deadlines": "0" * len(days),
            "open_stage": None,
            "open_due": None,
        }
    if not facts:
        return []
    steps = (
        select(StatusChange.report_id, StatusChange.status, iso_day(StatusChange.created_on))
        .join(Report, Report.id == StatusChange.report_id)
        .where(*where)
        .order_by(StatusChange.report_id, StatusChange.id)
    )
    judge = _Judge(days, calendar)
    current: int | None = None
    history: list[tuple[str, str]] = []
    for report_id, status, day in stream(connection, steps):
        if report_id != current:
            if history and current in facts:
                judge(facts[current], received_on[current], history)
            current, history = report_id, []
        history.append((status, day))
    if history and current in facts:
        judge(facts[current], received_on[current], history)
    return list(facts.values())


class _Judge:
    """One report's deadlines from its steps, as `build._deadline_cells` judges them.

    A stage the report has left is met or missed for good; the stage it is in now, if it
    has a deadline, is kept open with its due day (judged on the day of freezing).
    """

    def __init__(self, days: dict[str, int], calendar: Calendar) -> None:
        self.days = days
        self.position_of = {stage: index for index, stage in enumerate(days)}
        self.calendar = calendar
        self.due_memo: dict[tuple[str, int], str] = {}

    def __call__(self, fact: dict[str, Any], received: str, steps: list[tuple[str, str]]) -> None:
        result = [0] * len(self.days)
        last = len(steps) - 1
        for index, (status, entered) in enumerate(steps):
            position = self.position_of.get(status)
            if position is None:
                continue  # no deadline for the inspectorate in this status
            if status == Status.RECEIVED:
                entered = received  # the clock starts on the day the report was received
            allowed = self.days[status]
            due = self.due_memo.get((entered, allowed))
            if due is None:
                due = self.due_memo[(entered, allowed)] = self.calendar.due(entered, allowed)
            if index < last:
                outcome = 1 if steps[index + 1][1] <= due else 2
                result[position] = max(result[position], outcome)  # one missed visit: missed
            else:
                fact["open_stage"], fact["open_due"] = position, date.fromisoformat(due)
        fact["deadlines"] = "".join(str(outcome) for outcome in result)


# --- what the facts cover ------------------------------------------------------------------


def _state(connection: Connection) -> Any:
    """The fold row (since, deadlines, version), or None."""
    return connection.execute(
        select(StatsFold.since, StatsFold.deadlines, StatsFold.version).where(
            StatsFold.id == ROW_ID
        )
    ).first()


def first_unpublished(connection: Connection) -> date | None:
    """The quarter after the newest publication (None: nothing published, every report)."""
    keys = list(connection.execute(select(StatsPublication.period)).scalars())
    if not keys:
        return None
    return add_months(max(parse_quarter_key(key) for key in keys), 3)


def _covered(since: date | None) -> list[Any]:
    return [] if since is None else [Report.received_on >= since]


def covers(connection: Connection, first: date, days: dict[str, int]) -> bool:
    """Whether the facts hold the quarter starting on `first`, judged with `days`."""
    state = _state(connection)
    return (
        state is not None
        and state.version == VERSION
        and state.deadlines == deadlines_json(days)
        and (state.since is None or state.since <= first)
    )


def _insert(connection: Connection, rows: list[dict[str, Any]]) -> None:
    for start in range(0, len(rows), 5_000):
        connection.execute(insert(StatsFact), rows[start : start + 5_000])


def fill(connection: Connection, since: date | None, days: dict[str, int], today: date) -> int:
    """Write the facts of every report received from `since` on, and the fold row; how many.

    The tables must be empty (the migration, or `rebuild` after emptying them).
    """
    rows = compute(connection, _covered(since), days, _calendar(connection, days, today))
    _insert(connection, rows)
    values = {
        "since": since,
        "deadlines": deadlines_json(days),
        "version": VERSION,
        "folded_on": today,
    }
    if _state(connection) is None:
        connection.execute(insert(StatsFold).values(id=ROW_ID, **values))
    else:
        connection.execute(update(StatsFold).where(StatsFold.id == ROW_ID).values(**values))
    return len(rows)


def _lock(connection: Connection, today: date) -> bool:
    """Hold off other folds and the hooks' writes until this transaction ends; row present?

    On SQLite the first write takes the database's one write lock. On PostgreSQL the
    pending table is locked too: a change committing meanwhile waits, then leaves its
    row for the next fold, so none is deleted unread.
    """
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql("LOCK TABLE stats_pending IN EXCLUSIVE MODE")
    touched = connection.execute(
        update(StatsFold).where(StatsFold.id == ROW_ID).values(folded_on=today)
    )
    return bool(touched.rowcount)


def rebuild(connection: Connection, days: dict[str, int], today: date) -> int:
    """Every fact of the covered quarters computed afresh (current transaction); how many."""
    _lock(connection, today)
    state = _state(connection)
    since = state.since if state is not None else first_unpublished(connection)
    connection.execute(delete(StatsPending))
    connection.execute(delete(StatsFact))
    return fill(connection, since, days, today)


def _batches(ids: Iterable[int]) -> Iterator[list[int]]:
    ordered = sorted(ids)
    for start in range(0, len(ordered), BATCH):
        yield ordered[start : start + BATCH]


def fold(connection: Connection, days: dict[str, int], today: date) -> int:
    """Bring the facts up to date with every change committed so far; reports recomputed.

    What a day of reports costs the daily timer: the reports filed or changed that day,
    read by id. Everything is rebuilt when the deadlines or the rules of facts changed.
    """
    present = _lock(connection, today)
    state = _state(connection) if present else None
    if state is None or state.version != VERSION or state.deadlines != deadlines_json(days):
        return rebuild(connection, days, today)
    covered = _covered(state.since)
    ids = set(connection.execute(select(StatsPending.report_id)).scalars())
    reports = connection.execute(select(func.count()).select_from(Report).where(*covered))
    facts = connection.execute(select(func.count()).select_from(StatsFact))
    if reports.scalar() != facts.scalar():  # reports inserted past the ORM, without a mark
        missing = ~exists().where(StatsFact.report_id == Report.id)
        ids.update(connection.execute(select(Report.id).where(missing, *covered)).scalars())
    batches = list(_batches(ids))
    calendar = _calendar(connection, days, today) if batches else Calendar(today, today)
    for batch in batches:
        connection.execute(delete(StatsFact).where(StatsFact.report_id.in_(batch)))
        _insert(connection, compute(connection, [Report.id.in_(batch), *covered], days, calendar))
    connection.execute(delete(StatsPending))
    return len(ids)


def advance(connection: Connection, frozen: date) -> None:
    """The quarter starting on `frozen` is published: drop its facts and older ones."""
    since = add_months(frozen, 3)
    connection.execute(
        update(StatsFold)
        .where(StatsFold.id == ROW_ID, (StatsFold.since.is_(None)) | (StatsFold.since < since))
        .values(since=since)
    )
    connection.execute(delete(StatsFact).where(StatsFact.month < since))


# --- a quarter's cells from the facts ------------------------------------------------------


def cells(
    connection: Connection, period: Period, days: dict[str, int], today: date
) -> list[dict[str, Any]]:
    """The quarter's monthly cells as `build.compute` gives them for `today`, from facts."""
    builder = Builder()
    month = iso_day(StatsFact.month)
    grouped = StatsFact.month  # grouped on the column itself: each query reads one index
    where = [StatsFact.month >= period.first, StatsFact.month <= period.last]
    columns = {
        "status": StatsFact.status,
        "category": StatsFact.category,
        "service": StatsFact.service,
        "unit": StatsFact.unit,
        "channel": StatsFact.channel,
    }
    for figure, column in columns.items():
        statement = select(month, column, func.count()).where(*where).group_by(grouped, column)
        for day, key, count in stream(connection, statement):
            builder.add(day, figure, str(key), count)
            if figure == "status":
                builder.add(day, "month", TOTAL_KEY, count)
    statement = (
        select(month, StatsFact.referral, func.count())
        .where(StatsFact.referral.is_not(None), *where)
        .group_by(grouped, StatsFact.referral)
    )
    for day, key, count in stream(connection, statement):
        builder.add(day, "referral", str(key), count)
    for figure, summed in (("demanded", StatsFact.demanded), ("refunded", StatsFact.refunded)):
        statement = (
            select(month, func.count(), func.sum(summed))
            .where(summed.is_not(None), *where)
            .group_by(grouped)
        )
        for day, count, amount in stream(connection, statement):
            builder.add(day, figure, "", count, int(amount or 0))
    for figure, worked in (
        ("days_verification", StatsFact.verification),
        ("days_completion", StatsFact.completion),
    ):
        statement = (
            select(month, worked, func.count())
            .where(worked.is_not(None), *where)
            .group_by(grouped, worked)
        )
        for day, value, count in stream(connection, statement):
            builder.add(day, figure, str(value), count)
    patterns: Counter[tuple[str, tuple[int, ...]]] = Counter()
    statement = (
        select(month, StatsFact.deadlines, StatsFact.open_stage, StatsFact.open_due, func.count())
        .where(*where)
        .group_by(grouped, StatsFact.deadlines, StatsFact.open_stage, StatsFact.open_due)
    )
    for day, settled, stage, due, count in connection.execute(statement):
        result = [int(digit) for digit in settled]
        if stage is not None and today > due:
            result[stage] = 2  # still in the stage on the day of freezing, past its deadline
        if any(result):
            patterns[(day[:7], tuple(result))] += count
    add_patterns(builder, list(days), patterns)
    return builder.rows()
