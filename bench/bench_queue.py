"""Triage queue benchmark: a million reports, the queue's queries timed and explained.

`make bench` builds a throw-away SQLite database of 1,000,000 reports in a temporary
folder (bulk executemany, about a minute), then times the queue as an inspector uses it:
the first page, a page deep in the queue, the overdue filter, unit + status, counts per
status and the whole rendered page. Each time is printed in milliseconds and as a ratio
to a floor measured in the same run (fetching 50 rows by primary key), so numbers from
different machines compare; nothing asserts on absolute times. The query plans follow.

    .venv/bin/python bench/bench_queue.py [--reports N] [--repeat R]
        [--database postgresql://user@host/db]   # an empty PostgreSQL database instead
        [--keep DIR]                             # keep (and reuse) the database: SQLite file,
                                                 # the admin's TOTP secret
"""

from __future__ import annotations

import base64
import queue
import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from typing import Any

from common import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    CHUNK,
    SEED,
    Timing,
    contents,
    date_values,
    dimensions,
    initialise,
    insert_statement,
    key_material,
    make_app,
    measure,
    parser,
    print_table,
    scratch_folder,
    scratch_sqlite,
    settle_postgres,
    tracking_code,
    weighted,
    where,
)
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event, select, text, update
from sqlalchemy.engine import Connection

HANDLERS = 12  # investigators reports are assigned to
NEWCOMER = "newcomer@inspektorat.example"  # a member with only NEWCOMER_REPORTS reports
NEWCOMER_REPORTS = 40
YEARS = 8  # reports spread over this many years up to today
PAGE_SIZE = 50
# The whole rendered page (test client, no HTTP server) for these views.
PAGES = [
    ("first page", ""),
    ("in progress by deadline", "?status=in_progress&sort=deadline"),
    ("unit + status", "?unit=kec_kasemen&status=in_progress"),
    ("overdue", "?overdue=y"),
    ("category + channel (no counts)", "?category=pungli&channel=sms"),
    ("category + channel, counted", "?category=pungli&channel=sms&counts=1"),
]

# Weighted choices: (value, weight); units, categories, services, channels: see common.py.
PRIORITIES = [("normal", 80), ("high", 12), ("low", 5), ("urgent", 3)]
# Reports younger than RECENT_DAYS are still being handled; older ones are mostly closed,
# except a few forgotten ones: exactly what the overdue filter is for.
RECENT_DAYS = 120
RECENT_STATUSES = [
    ("received", 20),
    ("needs_info", 10),
    ("verified", 15),
    ("in_progress", 25),
    ("referred", 5),
    ("resolved", 18),
    ("rejected", 7),
]
OLD_STATUSES = [
    ("resolved", 600),
    ("rejected", 240),
    ("referred", 150),
    ("in_progress", 7),
    ("needs_info", 3),
]
DEADLINE_DAYS = {"received": 3, "needs_info": 10, "verified": 5, "in_progress": 14}
COLUMNS = (
    "id",
    "tracking_code",
    "status",
    "channel",
    "category_code",
    "service_code",
    "unit_code",
    "incident_month",
    "amount_demanded_rounded",
    "received_on",
    "status_since",
    "due_on",
    "verified_on",
    "closed_on",
    "assignee_id",
    "priority",
    "content_ct",
    "contact_ct",
    "key_sealed",
    "key_wrapped",
    "receipt_salt",
    "receipt_kdf",
)


def generate(
    count: int, today: date, staff_ids: list[int], dates_as_text: bool
) -> Iterator[list[tuple[Any, ...]]]:
    """Report rows in chunks, oldest first (ids grow with received_on, as in real life)."""
    from portal.deadlines import add_working_days

    rng = random.Random(SEED)
    start = today - timedelta(days=365 * YEARS)
    span = (today - start).days + 1
    blobs = contents(rng)
    contacts = [rng.randbytes(rng.randint(40, 120)) for _ in range(16)]
    sealed, wrapped, salt, kdf = key_material(rng)
    value = date_values(dates_as_text)

    deadlines: dict[tuple[date, str], date | None] = {}

    def due(since: date, status: str) -> date | None:
        """The deadline of `status` entered on `since`, cached: few distinct pairs."""
        if (since, status) not in deadlines:
            days = DEADLINE_DAYS.get(status)
            deadlines[since, status] = add_working_days(since, days) if days else None
        return deadlines[since, status]

    amounts = (None, 50_000, 100_000, 150_000, 200_000)
    row_id, current_day = 0, -1
    received, age, received_value, month_value = start, 0, None, None
    while row_id < count:
        size = min(CHUNK, count - row_id)
        units, categories, services, channels = dimensions(rng, size)
        priorities = weighted(rng, PRIORITIES, size)
        recent = weighted(rng, RECENT_STATUSES, size)
        old = weighted(rng, OLD_STATUSES, size)
        assignees = rng.choices(staff_ids, k=size)
        chunk = []
        for offset in range(size):
            row_id += 1
            day = (row_id - 1) * span // count
            if day != current_day:  # rows come in date order: per-day values once per day
                current_day = day
                received = start + timedelta(days=day)
                age = (today - received).days
                received_value, month_value = value(received), value(received.replace(day=1))
            status = recent[offset] if age <= RECENT_DAYS else old[offset]
            since = received + timedelta(days=int(rng.random() * (min(age, 10) + 1)))
            closed = since if status in ("resolved", "rejected", "referred") else None
            chunk.append(
                (
                    row_id,
                    tracking_code(row_id),
                    status,
                    channels[offset],
                    categories[offset],
                    services[offset],
                    units[offset],
                    month_value,
                    amounts[row_id % 5],
                    received_value,
                    value(since),
                    value(due(since, status)),
                    value(since if status != "received" else None),
                    value(closed),
                    None if status == "received" else assignees[offset],
                    priorities[offset],
                    blobs[row_id % 64],
                    contacts[row_id % 16] if row_id % 3 == 0 else None,
                    sealed,
                    wrapped,
                    salt,
                    kdf,
                )
            )
        yield chunk


def _produce(chunks: queue.Queue[list[tuple[Any, ...]] | None], rows: Iterator[list[Any]]) -> None:
    """Feed generated chunks to the inserting thread; None marks the end."""
    for chunk in rows:
        chunks.put(chunk)
    chunks.put(None)


def populate(app: Flask, count: int) -> tuple[str, float]:
    """Initialise the instance and bulk-insert `count` reports; returns (TOTP secret, seconds)."""
    from portal.deadlines import local_today
    from portal.extensions import db
    from portal.models import Report, Role, Staff
    from portal.services import status_counts

    with app.app_context():
        result = initialise()
        emails = [f"investigator{number}@inspektorat.example" for number in range(HANDLERS)]
        for email in [*emails, NEWCOMER]:
            db.session.add(
                Staff(
                    email=email,
                    role=Role.INVESTIGATOR,
                    password_salt=b"-",
                    password_kdf="-",  # noqa: S106 - a placeholder: they never sign in
                    password_verifier=b"-",
                    wrapped_totp_secret=b"-",
                )
            )
        db.session.commit()
        handlers = select(Staff.id).where(Staff.role == Role.INVESTIGATOR, Staff.email != NEWCOMER)
        staff_ids = list(db.session.scalars(handlers))
        newcomer = db.session.scalar(select(Staff.id).where(Staff.email == NEWCOMER))
        sqlite = db.engine.dialect.name == "sqlite"
        # End the session's read transaction: leaving WAL for the scratch journal mode
        # needs the only connection to the file.
        db.session.close()
        insert = insert_statement(Report.__tablename__, COLUMNS, sqlite)
        started = time.perf_counter()
        # Rows are made in a second thread while this one inserts (the drivers release
        # the GIL while the database works), and the secondary indexes are built once
        # at the end, which is faster than growing them row by row.
        indexes = list(Report.__table__.indexes)
        chunks: queue.Queue[list[tuple[Any, ...]] | None] = queue.Queue(maxsize=4)
        producer = threading.Thread(
            target=_produce,
            args=(chunks, generate(count, local_today(), staff_ids, dates_as_text=sqlite)),
            daemon=True,
        )
        with db.engine.begin() as connection:
            if sqlite:
                scratch_sqlite(connection)
            for index in indexes:
                index.drop(connection)
            producer.start()
            while (chunk := chunks.get()) is not None:
                connection.exec_driver_sql(insert, chunk)
                print(f"\r  {chunk[-1][0]:>9,} reports", end="", flush=True)
            print(", indexing", end="", flush=True)
            for index in indexes:
                index.create(connection)
            # A member new to the job holds a few reports spread over the years.
            step = max(1, count // NEWCOMER_REPORTS)
            connection.execute(
                update(Report)
                .where(Report.id.in_(range(step, count + 1, step)))
                .values(assignee_id=newcomer)
            )
            # The rows went in past the ORM: count them into the maintained counts.
            print(", counting", end="", flush=True)
            status_counts.recount(connection)
        if not sqlite:
            settle_postgres(["report"])
        seconds = time.perf_counter() - started
        print()
    return result.totp_secret, seconds


@contextmanager
def captured_statements(app: Flask) -> Iterator[list[tuple[str, Any]]]:
    """Record every SELECT on the report table run inside the block."""
    from portal.extensions import db

    statements: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith(("SELECT", "WITH")) and "FROM report" in statement:
            statements.append((statement, parameters))

    engine = db.engine
    event.listen(engine, "before_cursor_execute", capture)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", capture)


def explain(connection: Connection, statement: str, parameters: Any) -> list[str]:
    """The database's plan for a statement, one line per step."""
    if connection.dialect.name == "sqlite":
        rows = connection.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)
        return [str(row[3]) for row in rows]
    rows = connection.exec_driver_sql("EXPLAIN " + statement, parameters)
    return [str(row[0]) for row in rows]


def signed_in_client(app: Flask, totp_secret: str) -> FlaskClient:
    """A browser signed in as the benchmark's admin."""
    import re

    from portal import crypto

    browser = app.test_client()
    page = browser.get("/inspectorate/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    if token is None:
        raise SystemExit("no CSRF token on the login page")
    code = crypto.totp_code(base64.b32decode(totp_secret), time.time())
    response = browser.post(
        "/inspectorate/login",
        data={
            "email": ADMIN_EMAIL,
            "password": ADMIN_PASSWORD,
            "code": code,
            "csrf_token": token.group(1),
        },
    )
    if response.status_code != 303:
        raise SystemExit(f"the benchmark admin could not sign in ({response.status_code})")
    return browser


def run(app: Flask, totp_secret: str, repeat: int) -> None:
    """Time each case, print the table and the plans."""
    from portal.deadlines import local_today
    from portal.extensions import db
    from portal.models import Report, Staff
    from portal.services import queue as triage
    from portal.services.queue import Cursor, Filters, Sort

    browser = signed_in_client(app, totp_secret)
    with app.test_request_context():
        total = db.session.scalar(select(db.func.count()).select_from(Report)) or 0
        today = local_today()
        # A cursor about 90% of the way down the newest-first queue (page ~18,000 of 20,000).
        deep_id = max(1, total // 10)
        deep_key = db.session.scalar(select(Report.received_on).where(Report.id == deep_id))
        deep = Cursor(Sort.NEWEST, deep_key, deep_id).encode()
        # And one in the deadline order, among the reports without a deadline.
        deadline_deep = Cursor(Sort.DEADLINE, None, deep_id).encode()
        overdue = db.session.scalar(
            select(db.func.count()).select_from(Report).where(Report.due_on < today)
        )
        newcomer = db.session.scalar(select(Staff.id).where(Staff.email == NEWCOMER))
        pk_ids = list(range(max(1, total // 2), max(1, total // 2) + PAGE_SIZE))
        columns = (Report.id, Report.tracking_code, Report.status, Report.received_on)

        def page(filters: Filters, sort: Sort = Sort.NEWEST, cursor: str | None = None) -> int:
            result = triage.page(filters=filters, sort=sort, cursor=cursor, size=PAGE_SIZE)
            return len(result.rows)

        cases: list[tuple[str, Callable[[], int]]] = [
            ("floor: SELECT 1", lambda: len(db.session.execute(text("SELECT 1")).all())),
            (
                "floor: 50 rows by primary key",
                lambda: len(
                    db.session.execute(select(*columns).where(Report.id.in_(pk_ids))).all()
                ),
            ),
            ("first page, newest first", lambda: page(Filters())),
            ("first page, oldest first", lambda: page(Filters(), Sort.OLDEST)),
            ("first page, deadline soonest", lambda: page(Filters(), Sort.DEADLINE)),
            ("deep page (90% down), newest", lambda: page(Filters(), Sort.NEWEST, deep)),
            ("deep page, deadline, undated", lambda: page(Filters(), Sort.DEADLINE, deadline_deep)),
            ("overdue only, newest first", lambda: page(Filters(overdue=True))),
            ("overdue only, deadline soonest", lambda: page(Filters(overdue=True), Sort.DEADLINE)),
            ("one category (35% of reports)", lambda: page(Filters(category="pungli"))),
            ("one channel (2% of reports)", lambda: page(Filters(channel="sms"))),
            (
                "assigned to a member with 40 reports",
                lambda: page(Filters(assignee_id=newcomer)),
            ),
            (
                "one status by deadline (in progress)",
                lambda: page(Filters(status="in_progress"), Sort.DEADLINE),
            ),
            (
                "one category by deadline (35%)",
                lambda: page(Filters(category="pungli"), Sort.DEADLINE),
            ),
            ("overdue in one unit, newest", lambda: page(Filters(overdue=True, unit="mpp"))),
            (
                "unit + status (kasemen, in progress)",
                lambda: page(Filters(unit="kec_kasemen", status="in_progress")),
            ),
            ("unit + status (mpp, resolved)", lambda: page(Filters(unit="mpp", status="resolved"))),
            (
                "maintained counts, no filter",
                lambda: len(triage.stored_counts(filters=Filters()) or {}),
            ),
            (
                "maintained counts, unit filter",
                lambda: len(triage.stored_counts(filters=Filters(unit="kec_kasemen")) or {}),
            ),
            (
                "maintained counts, assignee filter",
                lambda: len(triage.stored_counts(filters=Filters(assignee_id=newcomer)) or {}),
            ),
            (
                "maintained counts, overdue",
                lambda: len(triage.stored_counts(filters=Filters(overdue=True)) or {}),
            ),
            ("exact counts, no filter", lambda: len(triage.status_counts(filters=Filters()))),
            (
                "exact counts, unit filter",
                lambda: len(triage.status_counts(filters=Filters(unit="kec_kasemen"))),
            ),
            (
                "exact counts, category filter",
                lambda: len(triage.status_counts(filters=Filters(category="pungli"))),
            ),
            (
                "exact counts, overdue",
                lambda: len(triage.status_counts(filters=Filters(overdue=True))),
            ),
        ]
        timings: list[Timing] = []
        plans: list[tuple[str, list[tuple[str, Any]]]] = []
        for name, action in cases:
            with captured_statements(app) as statements:
                action()
            plans.append((name, statements))
            timings.append(measure(name, action, repeat))
            db.session.rollback()

    def whole_page(query: str) -> Callable[[], int]:
        def action() -> int:
            response = browser.get("/inspectorate/queue" + query)
            if response.status_code != 200:
                raise SystemExit(f"the queue answered {response.status_code}")
            return response.get_data(as_text=True).count('<th scope="row"')

        return action

    for name, query in PAGES:
        timings.append(measure(f"whole page: {name}", whole_page(query), repeat))

    floor = timings[1].median_ms
    print(f"\n{total:,} reports, {overdue:,} overdue today ({today}); page size {PAGE_SIZE}")
    print(f"database: {where(app.config['SQLALCHEMY_DATABASE_URI'])}")
    print(f"median and 90th percentile of {repeat} runs; ratio = median / floor (50 rows by PK)\n")
    print_table(timings, count="rows", widths=(40, 5, 8), ratios=[("x floor", floor, 8, 1)])
    print("\nQuery plans (a step reading the whole report table is marked with !!)")
    with app.app_context(), db.engine.connect() as connection:
        for name, statements in plans:
            print(f"\n== {name}")
            for statement, parameters in statements:
                print("   " + " ".join(statement.split()))
                for line in explain(connection, statement, parameters):
                    print(("  !! " if full_scan(line) else "     ") + line)


def full_scan(plan_line: str) -> bool:
    """Whether a plan step reads the whole report table rather than an index."""
    step = plan_line.strip().lstrip("->").strip()
    return step == "SCAN report" or step.startswith(("Seq Scan on report", "Parallel Seq Scan"))


def main() -> None:
    """Parse options, build the database, run the benchmark, clean up."""
    options = parser(
        __doc__, keep_help="keep (and reuse) the SQLite database and the admin's secret here"
    ).parse_args()

    with scratch_folder(options.keep, prefix="lapor-bench-") as folder:
        database_url = options.database or f"sqlite:///{folder / 'bench.db'}"
        totp_file = folder / "totp_secret"
        app = make_app(database_url, folder / "instance", QUEUE_PAGE_SIZE=PAGE_SIZE)
        if options.keep and totp_file.exists():
            totp_secret = totp_file.read_text()
            print(f"Reusing the database in {folder}")
        else:
            print(f"Building {options.reports:,} reports in {where(database_url)}")
            totp_secret, seconds = populate(app, options.reports)
            totp_file.write_text(totp_secret)
            print(f"  inserted in {seconds:.1f} s ({options.reports / seconds:,.0f} rows/s)")
        run(app, totp_secret, options.repeat)


if __name__ == "__main__":
    main()
