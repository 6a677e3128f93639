"""Transparency statistics benchmark: a million reports, the dashboard and the stats API timed.

`make bench-queries` builds a throw-away SQLite database of 1,000,000 reports and their
status history (about 2.6 million steps) in a temporary folder with bulk executemany,
publishes every closed quarter, then times what the daily timer costs (`stats publish`
on a day nothing is due, and on the day a quarter ends: that quarter's reports only),
the full rebuild of the working snapshot it replaced (`stats refresh`), and what a
journalist's visit costs: the dashboard and /api/v1/stats (JSON and CSV) for the newest
quarter and a year, cached per publication and on first render. Each time is printed in
milliseconds and as a ratio to floors measured in the same run (`SELECT 1`, and
`GET /api/v1/catalog` over HTTP), so numbers from different machines compare; nothing
asserts on absolute times.

    .venv/bin/python bench/bench_stats.py [--reports N] [--repeat R] [--rebuilds B]
        [--database postgresql://user@host/db]   # an empty PostgreSQL database instead
        [--keep DIR]                             # keep (and reuse) the SQLite file in DIR
"""

from __future__ import annotations

import math
import random
import statistics
import time
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from typing import Any

from common import (
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
from sqlalchemy import func, select, text

YEARS = 3  # reports spread over this many years up to today

# Weighted choices: (value, weight); units, categories, services, channels: see common.py.
BODIES = [
    ("ombudsman_banten", 40),
    ("polri", 15),
    ("kejaksaan", 10),
    ("kpk", 5),
    ("sp4n_lapor", 20),
    ("instansi_terkait", 10),
]
# Where a report ends up: recent ones are still being handled, older ones mostly closed.
RECENT_DAYS = 90
RECENT_ENDS = [
    ("received", 20),
    ("needs_info", 8),
    ("verified", 15),
    ("in_progress", 27),
    ("referred", 5),
    ("resolved", 18),
    ("rejected", 7),
]
OLD_ENDS = [("resolved", 600), ("rejected", 240), ("referred", 150), ("in_progress", 10)]
# The steps that lead to each end (after "received").
PATHS = {
    "received": [],
    "needs_info": ["needs_info"],
    "verified": ["verified"],
    "in_progress": ["verified", "in_progress"],
    "referred": ["verified", "in_progress", "referred"],
    "resolved": ["verified", "in_progress", "resolved"],
    "rejected": ["rejected"],
}
# Working days each step usually takes, as (low, high) calendar days after the one before.
STEP_DAYS = {
    "needs_info": (0, 4),
    "verified": (0, 6),
    "in_progress": (1, 8),
    "referred": (3, 20),
    "resolved": (5, 30),
    "rejected": (0, 6),
}
REPORT_COLUMNS = (
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
    "verified_on",
    "closed_on",
    "priority",
    "referred_to",
    "refund_rupiah",
    "content_ct",
    "key_sealed",
    "key_wrapped",
    "receipt_salt",
    "receipt_kdf",
)
STEP_COLUMNS = ("id", "report_id", "status", "public_note", "created_on")


def generate(
    count: int, today: date, dates_as_text: bool
) -> Iterator[tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]]:
    """(report rows, status history rows) in chunks, oldest reports first."""
    rng = random.Random(SEED)
    start = today - timedelta(days=365 * YEARS)
    span = (today - start).days + 1
    blobs = contents(rng)
    sealed, wrapped, salt, kdf = key_material(rng)
    as_value = date_values(dates_as_text)

    row_id = step_id = 0
    while row_id < count:
        size = min(CHUNK, count - row_id)
        units, categories, services, channels = dimensions(rng, size)
        reports, steps = [], []
        for offset in range(size):
            row_id += 1
            received = start + timedelta(days=(row_id - 1) * span // count)
            age = (today - received).days
            end = weighted(rng, RECENT_ENDS if age <= RECENT_DAYS else OLD_ENDS, 1)[0]
            day = received
            step_id += 1
            steps.append((step_id, row_id, "received", "", as_value(received)))
            verified = closed = None
            for status in PATHS[end]:
                low, high = STEP_DAYS[status]
                day = min(day + timedelta(days=rng.randint(low, high)), today)
                step_id += 1
                steps.append((step_id, row_id, status, "", as_value(day)))
                if status in ("verified", "in_progress", "referred") and verified is None:
                    verified = day
                if status in ("resolved", "rejected"):
                    closed = day
            refund = rng.choice((None, None, 50_000, 100_000)) if end == "resolved" else None
            reports.append(
                (
                    row_id,
                    tracking_code(row_id),
                    end,
                    channels[offset],
                    categories[offset],
                    services[offset],
                    units[offset],
                    as_value(received.replace(day=1)),
                    rng.choice((None, 50_000, 100_000, 150_000, 200_000)),
                    as_value(received),
                    as_value(day),
                    as_value(verified),
                    as_value(closed),
                    "normal",
                    weighted(rng, BODIES, 1)[0] if end == "referred" else None,
                    refund,
                    blobs[row_id % 64],
                    sealed,
                    wrapped,
                    salt,
                    kdf,
                )
            )
        yield reports, steps


def populate(app: Flask, count: int) -> float:
    """Initialise the instance and bulk-insert `count` reports with history; returns seconds."""
    from portal.deadlines import local_today
    from portal.extensions import db
    from portal.models import Report, StatusChange

    with app.app_context():
        initialise()
        sqlite = db.engine.dialect.name == "sqlite"
        # End the session's read transaction: leaving WAL for the scratch journal mode
        # needs the only connection to the file.
        db.session.close()
        insert_report = insert_statement(Report.__tablename__, REPORT_COLUMNS, sqlite)
        insert_step = insert_statement(StatusChange.__tablename__, STEP_COLUMNS, sqlite)
        started = time.perf_counter()
        with db.engine.begin() as connection:
            if sqlite:
                scratch_sqlite(connection)
            for reports, steps in generate(count, local_today(), dates_as_text=sqlite):
                connection.exec_driver_sql(insert_report, reports)
                connection.exec_driver_sql(insert_step, steps)
                print(f"\r  {reports[-1][0]:>9,} reports", end="", flush=True)
        if not sqlite:
            settle_postgres(["report", "status_change"])
        print()
        return time.perf_counter() - started


# A day of the timer's work at a million reports over three years: the day's new reports
# (each with its first step) and status steps on reports still being handled.
DAY_STEPS_PER_REPORT = 2.4  # steps a report takes after "received", spread over its days


def _day_of_work(connection: Any, day: date, count: int) -> int:
    """Insert a day's reports and steps past the ORM, marked as the session hooks mark them.

    Runs in the caller's transaction (rolled back by the benchmark). Returns the reports
    touched.
    """
    new = max(1, count // (365 * YEARS))
    steps = int(new * DAY_STEPS_PER_REPORT)
    top = connection.exec_driver_sql("SELECT max(id) FROM report").scalar()
    columns = ", ".join(column for column in REPORT_COLUMNS if column != "id")
    picked = ", ".join(
        {
            "tracking_code": "'BENCH-DAY-' || id",
            "status": "'received'",
            "received_on": ":day",
            "status_since": ":day",
            "verified_on": "NULL",
            "closed_on": "NULL",
            "referred_to": "NULL",
            "refund_rupiah": "NULL",
        }.get(column, column)
        for column in REPORT_COLUMNS
        if column != "id"
    )
    connection.execute(
        text(
            f"INSERT INTO report (id, {columns}) SELECT :top + id, {picked} FROM report"
            " WHERE id <= :new"
        ),
        {"top": top, "day": day, "new": new},
    )
    connection.execute(
        text(
            "INSERT INTO status_change (report_id, status, public_note, created_on)"
            " SELECT id, 'received', '', :day FROM report WHERE id > :top"
        ),
        {"top": top, "day": day},
    )
    # Steps on open reports received in the last 90 days, one each, along their path.
    moved = list(
        connection.execute(
            text(
                "SELECT id, status FROM report WHERE received_on >= :since AND received_on < :day"
                " AND status IN ('received', 'verified', 'in_progress') ORDER BY id LIMIT :n"
            ),
            {"since": day - timedelta(days=RECENT_DAYS), "day": day, "n": steps},
        )
    )
    following = {"received": "verified", "verified": "in_progress", "in_progress": "resolved"}
    for report_id, status in moved:
        target = following[status]
        connection.execute(
            text(
                "INSERT INTO status_change (report_id, status, public_note, created_on)"
                " VALUES (:id, :status, '', :day)"
            ),
            {"id": report_id, "status": target, "day": day},
        )
        connection.execute(
            text(
                "UPDATE report SET status = :status, status_since = :day,"
                " verified_on = coalesce(verified_on, CASE WHEN :status = 'verified'"
                " THEN :day END), closed_on = CASE WHEN :status = 'resolved' THEN :day"
                " ELSE closed_on END WHERE id = :id"
            ),
            {"id": report_id, "status": target, "day": day},
        )
    touched = [report_id for report_id, _ in moved]
    touched += list(
        connection.execute(text("SELECT id FROM report WHERE id > :top"), {"top": top}).scalars()
    )
    connection.execute(
        text("INSERT INTO stats_pending (report_id) VALUES (:id) ON CONFLICT DO NOTHING"),
        [{"id": report_id} for report_id in touched],
    )
    return len(touched)


def timing(name: str, samples: list[float], rows: int) -> Timing:
    """A benchmark line from timed runs (ms), as `common.measure` makes them."""
    samples = sorted(samples)
    p90 = samples[min(len(samples) - 1, math.ceil(len(samples) * 0.9) - 1)]
    return Timing(name, statistics.median(samples), p90, len(samples), rows)


def run(app: Flask, repeat: int, rebuilds: int) -> None:
    """Time every case and print the table."""
    from portal import schema
    from portal.deadlines import local_today
    from portal.extensions import db
    from portal.models import Report, StatsFact, StatsFold, StatsPublication, StatusChange
    from portal.models.base import moved_clock
    from portal.services import stats
    from portal.services.stats import build, facts
    from portal.services.stats import cache as stats_cache
    from portal.services.stats import tables as stats_tables

    browser = app.test_client()
    today = local_today()
    newest = stats.last_closed_quarter(today)
    end = stats.add_months(newest, 3)  # the day the newest closed quarter ended
    eve = end - timedelta(days=1)  # its last day
    year = str(newest.year)

    def get(url: str) -> Callable[[], int]:
        def fetch() -> int:
            response = browser.get(url)
            assert response.status_code == 200, (url, response.status_code)
            return len(response.get_data())

        return fetch

    def noon(day: date) -> Callable[[], Any]:
        from datetime import UTC, datetime

        return lambda: datetime(day.year, day.month, day.day, 5, tzinfo=UTC)

    with app.app_context():
        migrated = None
        with db.engine.connect() as connection:
            at_head = schema.is_at_head(connection)
        if not at_head:  # a database kept from before the facts: migrate it as an upgrade does
            db.session.remove()
            started = time.perf_counter()
            schema.upgrade(db.engine)
            migrated = time.perf_counter() - started
        reports = db.session.scalar(select(func.count()).select_from(Report)) or 0
        steps = db.session.scalar(select(func.count()).select_from(StatusChange)) or 0
        quarter_reports = db.session.scalar(
            select(func.count())
            .select_from(Report)
            .where(Report.received_on >= newest, Report.received_on < end)
        )
        # As on the last day of the newest closed quarter: everything before it published,
        # its reports (and the next quarter's) held as facts.
        db.session.execute(StatsPublication.__table__.delete())
        db.session.execute(StatsFold.__table__.update().values(since=newest))
        db.session.commit()
        connection = db.session.connection()
        started = time.perf_counter()
        facts.rebuild(connection, build.inspectorate_deadlines(), eve)
        db.session.commit()
        rebuilt = time.perf_counter() - started
        held = db.session.scalar(select(func.count()).select_from(StatsFact))
        with moved_clock(noon(eve)):
            started = time.perf_counter()
            published = stats.publish_due()  # every quarter before, as the first timer run does
            first_publish = time.perf_counter() - started
        timings = [
            measure("floor: SELECT 1", lambda: db.session.execute(text("SELECT 1")).all(), repeat),
        ]
        db.session.rollback()
    timings.append(measure("floor: GET /api/v1/catalog", get("/api/v1/catalog"), repeat))

    def daily() -> None:
        with app.app_context():
            assert stats.publish_due() == []  # nothing due, nothing changed

    with moved_clock(noon(eve)):
        timings.append(measure("timer: stats publish, nothing changed", daily, repeat))

    k = int(app.config["STATS_MIN_CELL"])

    def after_a_day(name: str, action: Callable[[Any, dict[str, int]], None]) -> Timing:
        """Median and p90 of `action` on top of a day's work, each run rolled back whole."""
        samples, touched = [], 0
        for _ in range(rebuilds):
            with app.app_context():
                days = build.inspectorate_deadlines()
                connection = db.session.connection()
                touched = _day_of_work(connection, eve, reports)  # not timed
                started = time.perf_counter()
                action(connection, days)
                samples.append((time.perf_counter() - started) * 1000)
                db.session.rollback()
        return timing(name, samples, touched)

    def day_fold(connection: Any, days: dict[str, int]) -> None:
        facts.fold(connection, days, eve)

    def quarter_end(connection: Any, days: dict[str, int]) -> None:
        # The day a quarter ends: fold the last day's changes, add the quarter's facts up.
        row = stats.freeze(newest, today=end, k=k)
        row.period = "bench"  # not the real key: nothing published changes
        db.session.add(row)
        db.session.flush()

    def whole(connection: Any, days: dict[str, int]) -> None:
        build.compute(end, days, months=(newest, stats.add_months(newest, 2)))

    timings.append(after_a_day("timer: stats publish after a day's reports", day_fold))
    timings.append(after_a_day("timer: stats publish on quarter end", quarter_end))
    timings.append(after_a_day("before: quarter end, its reports read whole", whole))
    touched = timings[-1].rows
    with app.app_context():  # the figures are the same both ways, at this size too
        days = build.inspectorate_deadlines()
        _day_of_work(db.session.connection(), eve, reports)
        rows, _ = build.compute(end, days, months=(newest, stats.add_months(newest, 2)))
        whole_cells = stats_tables.cells_json(
            [(r["month"], r["figure"], r["key"], r["reports"], r["amount"]) for r in rows]
        )
        assert stats.freeze(newest, today=end, k=k).cells == whole_cells
        db.session.rollback()
    with app.app_context(), moved_clock(noon(end)):
        stats.publish_due()  # the newest quarter too, for the pages below

    def rebuild() -> None:
        from portal.transaction import atomic

        with app.app_context(), atomic():
            stats.refresh()

    timings.append(measure("before: full rebuild (stats refresh)", rebuild, rebuilds, warmup=0))
    pages = [
        ("GET /api/v1/stats (newest quarter)", "/api/v1/stats"),
        ("GET /api/v1/stats?period=<year>", f"/api/v1/stats?period={year}"),
        ("GET /api/v1/stats.csv", "/api/v1/stats.csv"),
        ("GET /transparansi", "/transparansi"),
        ("GET /transparansi?periode=<year>", f"/transparansi?periode={year}"),
    ]
    for name, url in pages:
        timings.append(measure(f"cached: {name}", get(url), repeat))

    def uncached(url: str) -> Callable[[], int]:
        fetch = get(url)

        def run_once() -> int:
            from portal import memo

            with app.app_context():  # a server that has not rendered this version yet
                memo.app_cache(stats_cache.CACHE, stats_cache.CACHE_SIZE).clear()
                memo.app_cache(stats_tables.CACHE, stats_tables.CACHE_SIZE).clear()
            return fetch()

        return run_once

    for name, url in pages:
        timings.append(measure(f"first render: {name}", uncached(url), repeat))

    with app.app_context():
        publications = db.session.scalar(select(func.count()).select_from(StatsPublication))
    floor_sql, floor_http = timings[0].median_ms, timings[1].median_ms
    print(f"\n{reports:,} reports, {steps:,} status steps; {publications} quarters published")
    print(f"newest closed quarter: {stats.quarter_key(newest)}, {quarter_reports:,} reports")
    print(f"database: {where(app.config['SQLALCHEMY_DATABASE_URI'])}")
    if migrated is not None:
        print(f"migration to head (0009 fills the unpublished quarters' facts): {migrated:.1f} s")
    print(
        f"facts of {held:,} reports (the newest closed quarter and after) rebuilt: {rebuilt:.1f} s"
    )
    print(f"a day's work folded: {touched:,} reports (new, or a status step)")
    print(f"first publication of every quarter before it ({len(published)}): {first_publish:.1f} s")
    print("median and 90th percentile; ratios = median / floor\n")
    print_table(
        timings,
        count="runs",
        widths=(44, 4, 9),
        ratios=[("x SELECT 1", floor_sql, 11, 0), ("x catalog", floor_http, 10, 1)],
    )


def main() -> None:
    """Parse options, build the database, run the benchmark, clean up."""
    arguments = parser(__doc__, keep_help="keep the SQLite database in this folder")
    arguments.add_argument("--rebuilds", type=int, default=3)
    options = arguments.parse_args()

    with scratch_folder(options.keep, prefix="lapor-bench-stats-") as folder:
        database_url = options.database or f"sqlite:///{folder / 'bench.db'}"
        built = folder / "built"
        app = make_app(database_url, folder / "instance", RATELIMIT_ENABLED=False)
        if options.keep and built.exists() and not options.database:
            print(f"Reusing the database in {folder}")
        else:
            print(f"Building {options.reports:,} reports in {where(database_url)}")
            seconds = populate(app, options.reports)
            built.write_text("1")
            print(f"  inserted in {seconds:.1f} s ({options.reports / seconds:,.0f} reports/s)")
        run(app, options.repeat, options.rebuilds)


if __name__ == "__main__":
    main()
