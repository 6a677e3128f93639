"""Statistics facts: a quarter frozen from the daily-folded facts equals a full read of it.

Reports are filed through the API, then handled (status steps, refunds, referrals, a new
category, a move to another month) by ORM writes on several days of the quarter and after
it, with the daily timer folding in between, some reports crypto-shredded and a few rows
inserted past the ORM. On the day the quarter is published its frozen cells must be
exactly what `build.compute` (the full read the freeze used to make) gives for that day.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, text

from portal import schema
from portal.extensions import db
from portal.models import Report, StatsFact, StatsFold, StatsPending, StatsPublication, StatusChange
from portal.models.base import moved_clock
from portal.services import retention, settings, stats
from portal.services import setup as setup_service
from portal.services.stats import build, facts
from portal.services.stats.tables import cells_json
from portal.transaction import atomic
from tests.helpers import ADMIN_EMAIL, ADMIN_PASSWORD, make_app
from tests.helpers.stats import MANY, file_reports

pytestmark = pytest.mark.app_config(MANY)

QUARTER = date(2026, 7, 1)  # 2026-Q3, published on 2 October
CATEGORIES = ["pungli", "calo", "gratifikasi", "penundaan"]
SERVICES = ["ktp_el", "kk", "akta_kelahiran"]
UNITS = ["mpp", "disdukcapil", "kec_serang"]
BODIES = ["ombudsman_banten", "polri", "kpk"]
# The next statuses a report may take here (a resolved one may be reopened).
NEXT = {
    "received": ["verified", "needs_info", "rejected"],
    "needs_info": ["received", "verified", "rejected"],
    "verified": ["in_progress", "rejected"],
    "in_progress": ["resolved", "referred", "in_progress"],
    "referred": ["resolved"],
    "resolved": ["in_progress"],
    "rejected": ["received"],
}
VERIFYING = {"verified", "in_progress", "referred"}
CLOSED = {"resolved", "rejected"}


class Clock:
    """The portal's clock, set to a day (05:00 UTC: noon in WIB)."""

    def __init__(self, day: date) -> None:
        self.day = day

    def __call__(self) -> datetime:
        return datetime(self.day.year, self.day.month, self.day.day, 5, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> Iterator[Clock]:
    """Every test here starts on 20 August 2026, inside 2026-Q3."""
    moved = Clock(date(2026, 8, 20))
    with moved_clock(moved):
        yield moved


def _step(rng: random.Random, report: Report, day: date) -> None:
    """One status step on `day` (or later steps' day), as case handling sets the report."""
    target = rng.choice(NEXT[report.status])
    last = max(change.created_on for change in report.history)
    day = max(day, last + timedelta(days=rng.randint(0, 2)))
    report.history.append(StatusChange(status=target, created_on=day))
    previous = report.status
    report.status = target
    report.status_since = day
    if target in VERIFYING and report.verified_on is None:
        report.verified_on = day
    if target in CLOSED:
        report.closed_on = day
        if target == "resolved" and rng.random() < 0.6:
            report.refund_rupiah = rng.choice([50_000, 100_000, 125_000])
    elif previous in CLOSED:
        report.closed_on = None


def _handle(app: Flask, rng: random.Random, codes: list[str], today: date, share: float) -> None:
    """Staff work on `today`: status steps, and now and then a public fact changed."""
    with app.app_context(), atomic():
        for code in codes:
            if rng.random() > share:
                continue
            report = db.session.scalars(select(Report).where(Report.tracking_code == code)).one()
            if rng.random() < 0.7:
                for _ in range(rng.randint(1, 3)):
                    _step(rng, report, today - timedelta(days=rng.randint(0, 10)))
                continue
            # A public fact corrected without a status step.
            roll = rng.random()
            if roll < 0.3:
                report.category_code = rng.choice(CATEGORIES)
            elif roll < 0.5:
                report.unit_code = rng.choice(UNITS)
            elif roll < 0.7 and report.status == "resolved":
                report.refund_rupiah = rng.choice([None, 75_000])
            elif roll < 0.8:
                report.referred_to = rng.choice(BODIES)
            elif report.received_on < date(2026, 10, 1):  # a wrong date corrected
                other = 8 if report.received_on.month == 7 else 7  # another month, same quarter
                report.received_on = report.received_on.replace(month=other)
                report.history[0].created_on = report.received_on


def _file(app: Flask, client: FlaskClient, rng: random.Random, count: int, months: list[date]):
    """`count` reports received on random days of `months`, with a first handling."""
    codes = file_reports(client, count, incident_date="2026-07-01")
    with app.app_context(), atomic():
        for code in codes:
            report = db.session.scalars(select(Report).where(Report.tracking_code == code)).one()
            month = rng.choice(months)
            received = month + timedelta(days=rng.randint(0, 27))
            report.received_on = received
            report.history[0].created_on = received
            report.category_code = rng.choice(CATEGORIES)
            report.service_code = rng.choice(SERVICES)
            report.unit_code = rng.choice(UNITS)
            report.amount_demanded_rounded = rng.choice([None, 0, 50_000, 200_000])
            for _ in range(rng.randint(0, 3)):
                _step(rng, report, received + timedelta(days=rng.randint(0, 9)))
            if report.status == "referred":
                report.referred_to = rng.choice(BODIES)
    return codes


def _full_read(first: date, today: date) -> str:
    """The quarter's cells as the freeze computed them before facts: every report read."""
    period = stats.quarter(first)
    rows, _ = build.compute(
        today, build.inspectorate_deadlines(), months=(period.first, period.last)
    )
    return cells_json(
        [(r["month"], r["figure"], r["key"], r["reports"], r["amount"]) for r in rows]
    )


def _timer(app: Flask) -> list[str]:
    with app.app_context():
        return stats.publish_due()


def _publishes_the_full_read(app: Flask, today: date) -> str:
    """The timer publishes the quarter exactly as a full read on `today` gives it; its cells."""
    with app.app_context():
        want = _full_read(QUARTER, today)
        db.session.rollback()
    assert _timer(app) == ["2026-Q3"]
    with app.app_context():
        assert db.session.scalars(select(StatsPublication.cells)).one() == want
    return want


def _shred(app: Flask, codes: list[str], today: date) -> None:
    """Crypto-shred some closed reports, as retention does (public facts stay)."""
    with app.app_context(), atomic():
        ids = list(
            db.session.scalars(
                select(Report.id).where(
                    Report.tracking_code.in_(codes), Report.status.in_(list(CLOSED))
                )
            )
        )
        retention._shred(ids[: max(1, len(ids) // 3)], today)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_quarter_frozen_from_facts_equals_a_full_read(app, client, clock, seed):
    _scenario(app, client, clock, random.Random(seed))


def test_the_same_on_postgres(instance_folder, postgres_url, clock):
    app = make_app(instance_folder, SQLALCHEMY_DATABASE_URI=postgres_url, **MANY)
    try:
        with app.app_context():
            setup_service.initialise(admin_email=ADMIN_EMAIL, admin_password=ADMIN_PASSWORD)
        _scenario(app, app.test_client(), clock, random.Random(4))
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def _scenario(app: Flask, client: FlaskClient, clock: Clock, rng: random.Random) -> None:
    """Reports filed and handled over the quarter and after it; the freeze checked."""
    months = [QUARTER, date(2026, 8, 1)]
    codes = _file(app, client, rng, 24, months)
    assert _timer(app) == []  # nothing due: the day's reports are folded into facts
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(StatsPending)) == 0
        assert db.session.scalar(select(func.count()).select_from(StatsFact)) == 24
    for day in (date(2026, 8, 27), date(2026, 9, 8), date(2026, 9, 22)):
        clock.day = day
        codes += _file(app, client, rng, 6, [*months, date(2026, 9, 1)])
        _handle(app, rng, codes, day, share=0.5)  # old months' reports change after they end
        if day.day != 22:
            _timer(app)
    _shred(app, codes, clock.day)
    with app.app_context():
        # Reports inserted past the ORM (a bulk load): no mark, found by their number.
        db.session.execute(
            text(
                "INSERT INTO report (tracking_code, status, channel, category_code,"
                " service_code, unit_code, incident_month, amount_demanded_rounded,"
                " received_on, status_since, priority, content_ct, receipt_salt, receipt_kdf,"
                " receipt_seen_by_staff) SELECT 'RAW-' || CAST(id AS VARCHAR(12)), status,"
                " channel, category_code,"
                " service_code, unit_code, incident_month, amount_demanded_rounded,"
                " received_on, status_since, priority, content_ct, receipt_salt, receipt_kdf,"
                " receipt_seen_by_staff FROM report ORDER BY id LIMIT 3"
            )
        )
        db.session.commit()
    clock.day = date(2026, 10, 2)  # the quarter has ended: the timer publishes it
    codes += _file(app, client, rng, 3, [date(2026, 10, 1)])  # 2026-Q4: not in it
    _handle(app, rng, codes, date(2026, 10, 1), share=0.3)  # changed after it ended
    with app.app_context():
        want = _full_read(QUARTER, clock.day)
        days = build.inspectorate_deadlines()
        assert facts.covers(db.session.connection(), QUARTER, days)  # the fast path is taken
        db.session.rollback()
    assert _timer(app) == ["2026-Q3"]
    with app.app_context():
        row = db.session.scalars(select(StatsPublication)).one()
        assert row.cells == want
        assert json.loads(row.cells)  # something was counted
        frozen = row.cells
        # Its facts are done with; the running quarter's remain.
        fold = db.session.get(StatsFold, facts.ROW_ID)
        assert fold.since == date(2026, 10, 1)
        months_left = set(db.session.scalars(select(StatsFact.month)))
        assert months_left and all(month >= date(2026, 10, 1) for month in months_left)
    # A frozen quarter never changes, whatever happens to its reports afterwards.
    clock.day = date(2026, 10, 20)
    _handle(app, rng, codes, clock.day, share=0.8)
    _timer(app)
    with app.app_context():
        assert db.session.scalars(select(StatsPublication.cells)).one() == frozen


def test_new_deadlines_rebuild_the_facts_and_the_freeze_still_equals_a_full_read(
    app, client, clock
):
    rng = random.Random(7)
    codes = _file(app, client, rng, 20, [QUARTER, date(2026, 8, 1)])
    _timer(app)
    clock.day = date(2026, 9, 15)
    _handle(app, rng, codes, clock.day, share=0.6)
    _timer(app)
    with app.app_context(), atomic():
        settings.update(
            actor="admin",
            deadlines={"received": 1, "needs_info": 10, "verified": 2, "in_progress": 4},
        )
    clock.day = date(2026, 10, 1)
    _publishes_the_full_read(app, clock.day)
    with app.app_context():
        fold = db.session.get(StatsFold, facts.ROW_ID)
        assert json.loads(fold.deadlines) == [["received", 1], ["verified", 2], ["in_progress", 4]]


def test_a_quarter_older_than_the_facts_is_read_whole(app, client, clock):
    rng = random.Random(11)
    _file(app, client, rng, 12, [QUARTER])
    clock.day = date(2026, 10, 1)
    _timer(app)
    with app.app_context():
        first = db.session.scalars(select(StatsPublication.cells)).one()
        db.session.execute(StatsPublication.__table__.delete())  # published again below
        db.session.commit()
        want = _full_read(QUARTER, clock.day)
        db.session.rollback()
    assert want == first
    assert _timer(app) == ["2026-Q3"]
    with app.app_context():
        assert db.session.scalars(select(StatsPublication.cells)).one() == want


def _fact_rows(app: Flask) -> list[tuple[Any, ...]]:
    with app.app_context():
        rows = db.session.execute(select(StatsFact).order_by(StatsFact.report_id)).scalars()
        columns = [column.name for column in StatsFact.__table__.columns]
        return [tuple(getattr(row, name) for name in columns) for row in rows]


def test_after_the_migration_the_timer_builds_the_facts_a_fold_would_make(app, client, clock):
    rng = random.Random(5)
    codes = _file(app, client, rng, 16, [QUARTER, date(2026, 8, 1)])
    _handle(app, rng, codes, clock.day, share=0.7)
    _timer(app)
    folded = _fact_rows(app)
    assert len(folded) == 16
    with app.app_context():
        engine = db.engine
        db.session.remove()
    schema.downgrade(engine, "0008_device_generation")  # the schema before the facts
    with engine.connect() as connection:
        assert "stats_fact" not in set(
            connection.execute(text("SELECT name FROM sqlite_master")).scalars()
        )
    schema.upgrade(engine)
    assert _fact_rows(app) == []  # a cache: the migration leaves it to the timer
    assert _timer(app) == []  # nothing due yet, but the facts are built
    assert _fact_rows(app) == folded
    with app.app_context():
        fold = db.session.get(StatsFold, facts.ROW_ID)
        assert fold.since is None and fold.version == facts.VERSION  # nothing published yet
    clock.day = date(2026, 10, 1)
    _publishes_the_full_read(app, clock.day)


def test_a_write_past_the_orm_is_caught_up_by_the_rebuild_command(app, client, clock, runner):
    rng = random.Random(13)
    _file(app, client, rng, 10, [QUARTER])
    _timer(app)
    with app.app_context():  # a bulk correction, past the ORM: no report is marked
        db.session.execute(text("UPDATE report SET category_code = 'sarana'"))
        db.session.commit()
    result = runner.invoke(args=["stats", "facts", "--rebuild"])
    assert result.exit_code == 0, result.output
    assert "Facts rebuilt: 10 reports" in result.output
    clock.day = date(2026, 10, 1)
    assert '"sarana"' in _publishes_the_full_read(app, clock.day)


def test_a_request_only_marks_the_report_and_builds_nothing(app, client, clock):
    _timer(app)
    with app.app_context():
        engine = db.engine
    statements: list[str] = []

    def capture(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    from sqlalchemy import event

    event.listen(engine, "before_cursor_execute", capture)
    try:
        (code,) = file_reports(client, 1, incident_date="2026-07-01")
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    assert any("INSERT INTO stats_pending" in statement for statement in statements)
    assert not any("stats_fact" in statement for statement in statements)
    with app.app_context():
        report_id = db.session.scalar(select(Report.id).where(Report.tracking_code == code))
        assert list(db.session.scalars(select(StatsPending.report_id))) == [report_id]
        assert db.session.get(StatsFact, report_id) is None  # until the timer folds it
    _timer(app)
    with app.app_context():
        assert db.session.get(StatsFact, report_id).month == date(2026, 8, 1)
        assert db.session.scalar(select(func.count()).select_from(StatsPending)) == 0
