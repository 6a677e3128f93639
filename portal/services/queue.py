"""The triage queue: every report's public facts and handling state, filtered, sorted, paged.

The queue reads clear columns only (never content, contact or keys), so nothing here
decrypts and a queue view is not audited per row. Pages are keyset pages: the cursor
carries the last row's sort key and id, and the next page seeks past it through an
index, so page 20,000 of a million reports costs what the first page costs (OFFSET
would read and discard every earlier row).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Hashable
from dataclasses import dataclass, replace
from datetime import date
from enum import StrEnum
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, Select, func, select, tuple_

from portal import deadlines, memo
from portal.extensions import db
from portal.models import Category, Report, Service, Status, Unit
from portal.services import status_counts as maintained


class Sort(StrEnum):
    """Orders the queue offers; each one is served by an index on (key, id)."""

    NEWEST = "newest"  # received_on desc, id desc
    OLDEST = "oldest"  # received_on asc, id asc
    DEADLINE = "deadline"  # due_on asc (reports without a deadline last), id asc


class BadCursor(ValueError):
    """A page cursor this queue did not make, or made for another sort order."""


@dataclass(frozen=True)
class Filters:
    """What the queue is narrowed to; None / False means "any"."""

    status: str | None = None
    category: str | None = None
    service: str | None = None
    unit: str | None = None
    channel: str | None = None
    assignee_id: int | None = None
    unassigned: bool = False
    priority: str | None = None
    overdue: bool = False
    received_from: date | None = None
    received_to: date | None = None


@dataclass(frozen=True)
class Cursor:
    """The position after which the next page starts: the last row's sort key and id."""

    sort: Sort
    key: date | None
    id: int

    def encode(self) -> str:
        """An opaque, URL-safe token (it names a position, not a secret)."""
        raw = json.dumps(
            [self.sort.value, self.key.isoformat() if self.key else None, self.id],
            separators=(",", ":"),
        )
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str, sort: Sort) -> Cursor:
        """Parse a token made by `encode` for `sort`; BadCursor for anything else."""
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            name, key, row_id = json.loads(raw)
            parsed = cls(Sort(name), date.fromisoformat(key) if key is not None else None, row_id)
        except (binascii.Error, UnicodeDecodeError, TypeError, ValueError) as error:
            raise BadCursor(token) from error
        valid_id = isinstance(row_id, int) and not isinstance(row_id, bool) and row_id > 0
        # Only the deadline order has rows without a key (no deadline, listed last).
        if parsed.sort is not sort or not valid_id or (key is None and sort is not Sort.DEADLINE):
            raise BadCursor(token)
        return parsed


class QueueRow(NamedTuple):
    """One line of the queue: public facts and handling, never content.

    A named tuple, not a dataclass: made from each result row in one call (a frozen
    dataclass sets its eleven fields one by one, which showed in the page's profile).
    """

    id: int
    tracking_code: str
    status: str
    category_code: str
    service_code: str
    unit_code: str
    channel: str
    received_on: date
    assignee_id: int | None
    priority: str
    due_on: date | None
    overdue: bool


@dataclass(frozen=True)
class QueuePage:
    """One page of rows and the cursor of the next page (None on the last page)."""

    rows: list[QueueRow]
    next_cursor: str | None


@dataclass(frozen=True)
class CatalogueNames:
    """(code, name in the current language) of every catalogue row, retired ones too."""

    categories: list[tuple[str, str]]
    services: list[tuple[str, str]]
    units: list[tuple[str, str]]


# Only these columns are read: no ciphertext leaves the database for the queue.
_COLUMNS = (
    Report.id,
    Report.tracking_code,
    Report.status,
    Report.category_code,
    Report.service_code,
    Report.unit_code,
    Report.channel,
    Report.received_on,
    Report.assignee_id,
    Report.priority,
    Report.due_on,
)


def _conditions(filters: Filters, today: date, *, with_status: bool = True) -> list[Any]:
    """The WHERE terms for `filters`; plain comparisons, so any index on a column serves."""
    terms: list[ColumnElement[bool]] = []
    if with_status and filters.status:
        terms.append(Report.status == filters.status)
    for column, value in (
        (Report.category_code, filters.category),
        (Report.service_code, filters.service),
        (Report.unit_code, filters.unit),
        (Report.channel, filters.channel),
        (Report.priority, filters.priority),
    ):
        if value:
            terms.append(column == value)
    if filters.unassigned:
        terms.append(Report.assignee_id.is_(None))
    elif filters.assignee_id is not None:
        terms.append(Report.assignee_id == filters.assignee_id)
    if filters.overdue:
        # Statuses without a deadline have no due_on. "IS NOT NULL" changes no result but
        # makes the condition a closed range, which SQLite's planner (without statistics)
        # then reads from the (due_on, id) index instead of scanning the whole table.
        terms.append(Report.due_on.is_not(None))
        terms.append(Report.due_on < today)
    if filters.received_from:
        terms.append(Report.received_on >= filters.received_from)
    if filters.received_to:
        terms.append(Report.received_on <= filters.received_to)
    return terms


def _fetch(statement: Select[*tuple[Any, ...]], today: date) -> list[QueueRow]:
    """Run a queue statement and mark the rows whose deadline has passed."""
    # Positional: the statement's columns are _COLUMNS, in QueueRow's field order.
    # Core rows, not the ORM's result machinery: ~50 plain tuples, no entities.
    return [
        QueueRow(*(*row, row.due_on is not None and row.due_on < today))
        for row in db.session.connection().execute(statement)
    ]


def _by_received(
    terms: list[Any], after: Cursor | None, limit: int, *, newest: bool, set_first: bool
) -> Select[*tuple[Any, ...]]:
    """Rows ordered by (received_on, id) after the cursor, walking that index (no sort).

    With `set_first`, for a filter few rows pass (overdue), the matching (id, received_on)
    pairs are collected first through the filter's own index, sorted, and only the page's
    rows are read: the cost follows the number of matches. Left to itself SQLite (which
    keeps no statistics) may instead walk the newest-first index testing every row, which
    for a handful of old overdue reports among a million reads the million.
    """
    position = tuple_(Report.received_on, Report.id)
    if after is not None:
        cursor = tuple_(after.key, after.id)
        terms = [*terms, position < cursor if newest else position > cursor]

    def ordered(received: Any, row_id: Any) -> tuple[Any, Any]:
        return (received.desc(), row_id.desc()) if newest else (received, row_id)

    if set_first:
        # MATERIALIZED (SQLite 3.35+, PostgreSQL 12+) keeps the planner from merging it back.
        found = (
            select(Report.id, Report.received_on)
            .where(*terms)
            .cte("found")
            .prefix_with("MATERIALIZED")
        )
        first = select(found.c.id).order_by(*ordered(found.c.received_on, found.c.id))
        terms = [Report.id.in_(first.limit(limit))]
    statement = select(*_COLUMNS).where(*terms)
    return statement.order_by(*ordered(Report.received_on, Report.id)).limit(limit)


def _open_by_received(
    terms: list[Any], after: Cursor | None, limit: int, *, newest: bool
) -> Select[*tuple[Any, ...]]:
    """Overdue alone: walk the open reports' (received_on, id, due_on) index in order.

    The index holds open reports only and carries the deadline, so the walk tests each
    entry without reading the table and stops after a page of matches: its cost follows
    the open reports passed, never the closed ones. SQLite, which keeps no statistics,
    is told to use it; PostgreSQL chooses it from its statistics.
    """
    position = tuple_(Report.received_on, Report.id)
    if after is not None:
        cursor = tuple_(after.key, after.id)
        terms = [*terms, position < cursor if newest else position > cursor]
    order = (
        (Report.received_on.desc(), Report.id.desc()) if newest else (Report.received_on, Report.id)
    )
    return (
        select(*_COLUMNS)
        .where(*terms)
        .order_by(*order)
        .limit(limit)
        .with_hint(Report, "INDEXED BY ix_report_open_received", "sqlite")
    )


def _by_deadline(
    terms: Callable[[], list[Any]], after: Cursor | None, limit: int, today: date, key: Hashable
) -> list[QueueRow]:
    """Rows by (due_on, id) with deadline-less reports last, in two index-friendly steps.

    "NULLS LAST" would defeat the (due_on, id) index on SQLite, which sorts NULL first;
    reading the dated rows and then the undated ones keeps both steps a plain range.
    """
    rows: list[QueueRow] = []
    if after is None or after.key is not None:

        def dated() -> Select[*tuple[Any, ...]]:
            statement = select(*_COLUMNS).where(*terms(), Report.due_on.is_not(None))
            if after is not None:
                position = tuple_(Report.due_on, Report.id) > tuple_(after.key, after.id)
                statement = statement.where(position)
            return statement.order_by(Report.due_on, Report.id).limit(limit)

        rows = _fetch(_kept(("dated", key), dated), today)
    if len(rows) < limit:
        rest = limit - len(rows)

        def undated() -> Select[*tuple[Any, ...]]:
            statement = select(*_COLUMNS).where(*terms(), Report.due_on.is_(None))
            if after is not None and after.key is None:
                statement = statement.where(Report.id > after.id)
            return statement.order_by(Report.id).limit(rest)

        rows += _fetch(_kept(("undated", rest, key), undated), today)
    return rows


# Built statements per (filters, sort, cursor, page size, day). SQLAlchemy statements are
# immutable and building one costs more than running it; a view's first page is the same
# statement for every member all day. Bounded: cursors make new keys as members page on.
_STATEMENTS = "portal.queue_statements"
_STATEMENTS_SIZE = 512


def _kept(key: Hashable, build: Callable[[], Select[*tuple[Any, ...]]]) -> Select[*tuple[Any, ...]]:
    return memo.app_cache(_STATEMENTS, _STATEMENTS_SIZE).get(key, build)


def _sort_key(row: QueueRow, sort: Sort) -> date | None:
    """The value a row is ordered by (besides its id)."""
    return row.due_on if sort is Sort.DEADLINE else row.received_on


def page(
    *,
    filters: Filters,
    sort: Sort = Sort.NEWEST,
    cursor: str | None = None,
    size: int,
    today: date | None = None,
) -> QueuePage:
    """One page of the queue after `cursor` (the first page without one).

    Raises BadCursor for a cursor that is not this queue's for `sort`. `today` (WIB by
    default) decides which rows are overdue.
    """
    today = today or deadlines.local_today()
    after = Cursor.decode(cursor, sort) if cursor else None
    # One row more than the page tells whether a next page exists, without a count.
    limit = size + 1
    key = (filters, sort, after, limit, today)

    def terms() -> list[Any]:
        return _conditions(filters, today)

    if sort is Sort.DEADLINE:
        rows = _by_deadline(terms, after, limit, today, key)
    else:
        newest = sort is Sort.NEWEST

        def statement() -> Select[*tuple[Any, ...]]:
            if filters.overdue and replace(filters, overdue=False) == Filters():
                return _open_by_received(terms(), after, limit, newest=newest)
            return _by_received(terms(), after, limit, newest=newest, set_first=filters.overdue)

        rows = _fetch(_kept(("received", key), statement), today)
    if len(rows) <= size:
        return QueuePage(rows, None)
    last = rows[size - 1]
    return QueuePage(rows[:size], Cursor(sort, _sort_key(last, sort), last.id).encode())


def status_counts(*, filters: Filters, today: date | None = None) -> dict[str, int]:
    """Reports per status under every filter except the status one (one GROUP BY)."""
    today = today or deadlines.local_today()
    statement = (
        select(Report.status, func.count())
        .where(*_conditions(filters, today, with_status=False))
        .group_by(Report.status)
    )
    counted = {status: count for status, count in db.session.execute(statement)}
    return {status.value: counted.get(status.value, 0) for status in Status}


def stored_counts(*, filters: Filters, today: date | None = None) -> dict[str, int] | None:
    """Reports per status under every filter except the status one, from the maintained
    counts (services/status_counts.py, a few rows), or None for a view they do not cover.

    Covered: no filter, one of category / service / unit / channel / priority / assignee
    (or unassigned), or overdue alone. Other combinations are counted exactly, on demand
    (`status_counts`), because every such count reads the matching reports.
    """
    equal: dict[str, Any] = {
        name: value
        for name, value in (
            ("category", filters.category),
            ("service", filters.service),
            ("unit", filters.unit),
            ("channel", filters.channel),
            ("priority", filters.priority),
        )
        if value
    }
    if filters.unassigned:
        equal["assignee"] = None
    elif filters.assignee_id is not None:
        equal["assignee"] = filters.assignee_id
    chosen = maintained.selection(
        equal=equal,
        overdue_before=(today or deadlines.local_today()) if filters.overdue else None,
        other_filters=bool(filters.received_from or filters.received_to),
    )
    return maintained.stored(chosen) if chosen is not None else None


def _names(model: type[Any]) -> list[tuple[str, str]]:
    """(code, name) of every row of a catalogue table in display order, retired ones too."""
    rows = db.session.scalars(select(model).order_by(model.position, model.code))
    return [(row.code, row.name) for row in rows]


def catalogue_names() -> CatalogueNames:
    """What the category, service and unit filters offer and how rows name them.

    Read in the current language; the caller keeps it per catalogue version.
    """
    return CatalogueNames(categories=_names(Category), services=_names(Service), units=_names(Unit))
