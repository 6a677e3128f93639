"""Public statistics: figures equal the reports, snapshots refresh, no request scans reports."""

from __future__ import annotations

import csv
import io
import math
import statistics
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event, select

from portal import deadlines
from portal.extensions import db
from portal.models import Report, StatsPublication, StatusChange
from portal.models.base import moved_clock
from portal.services import setup as setup_service
from portal.services import stats
from portal.services.reports import round_amount
from tests.helpers import ADMIN_EMAIL, ADMIN_PASSWORD, VALID_JSON, make_app

K = 5
API = "/api/v1"
# Many reports from one test address: lift the per-address filing limit.
MANY = {"RATELIMIT_REPORT_SUBMIT": "1000 per hour"}
many = pytest.mark.app_config(MANY)

# The portal's clock in these tests: mid-November 2026, so 2026-Q3 is the newest
# published quarter and the reports below fall in it.
TODAY = datetime(2026, 11, 15, 5, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def clock() -> Iterator[None]:
    """Every test here runs on a fixed day."""
    with moved_clock(lambda: TODAY):
        yield


# What reaching each status sets on the report (as portal.services.cases does).
VERIFYING = {"verified", "in_progress", "referred"}
CLOSING = {"resolved", "rejected"}


def months_ago(count: int) -> date:
    """The first day of the month `count` months before this one (WIB)."""
    return stats.add_months(stats.month_start(deadlines.local_today()), -count)


@dataclass
class Filed:
    """A report the test filed, as the test itself shaped it."""

    code: str
    received: date
    category: str
    service: str
    unit: str
    amount: int | None
    steps: list[tuple[str, date]] = field(default_factory=list)
    refund: int | None = None
    referred_to: str | None = None

    @property
    def status(self) -> str:
        return self.steps[-1][0] if self.steps else "received"

    @property
    def verified_on(self) -> date | None:
        return next((day for status, day in self.steps if status in VERIFYING), None)

    @property
    def closed_on(self) -> date | None:
        return self.steps[-1][1] if self.status in CLOSING else None


def file_reports(client: FlaskClient, count: int, **overrides: Any) -> list[str]:
    """File `count` reports through the API; returns their tracking codes."""
    codes = []
    for _ in range(count):
        response = client.post(f"{API}/reports", json={**VALID_JSON, **overrides})
        assert response.status_code == 201, response.get_data(as_text=True)
        codes.append(response.get_json()["tracking_code"])
    return codes


def shape(app: Flask, *filed: Filed) -> None:
    """Write the reports' handling straight onto their rows and history, as case handling would."""
    with app.app_context():
        for one in filed:
            report = db.session.scalars(
                select(Report).where(Report.tracking_code == one.code)
            ).one()
            report.received_on = one.received
            report.status_since = one.steps[-1][1] if one.steps else one.received
            report.history[0].created_on = one.received
            for status, day in one.steps:
                db.session.add(StatusChange(report_id=report.id, status=status, created_on=day))
            report.status = one.status
            report.verified_on = one.verified_on
            report.closed_on = one.closed_on
            report.refund_rupiah = one.refund
            report.referred_to = one.referred_to
        db.session.commit()


def group(
    app: Flask,
    client: FlaskClient,
    *,
    month: date,
    category: str,
    service: str,
    unit: str,
    plan: list[tuple[str, int]],
    count: int = K,
    refund: int | None = None,
    referred_to: str | None = None,
) -> list[Filed]:
    """`count` reports received in `month`, each handled by `plan` ((status, days later))."""
    filed = []
    for index in range(count):
        amount = 50_000 * (index + 1)
        (code,) = file_reports(
            client, 1, category=category, service=service, unit=unit, amount_demanded=amount
        )
        received = month + timedelta(days=index)
        # Each report takes a little longer than the one before: varied durations.
        steps = [(status, received + timedelta(days=days + index)) for status, days in plan]
        report = Filed(
            code,
            received,
            category,
            service,
            unit,
            amount,
            steps,
            refund=refund * (index + 1) if refund else None,
            referred_to=referred_to,
        )
        filed.append(report)
    shape(app, *filed)
    return filed


def seeded(app: Flask, client: FlaskClient) -> list[Filed]:
    """Twenty reports in four groups of five in one closed quarter: every count 0 or >= k."""
    old, recent = months_ago(4), months_ago(3)
    return [
        *group(
            app,
            client,
            month=old,
            category="pungli",
            service="ktp_el",
            unit="mpp",
            plan=[("verified", 1), ("in_progress", 3), ("resolved", 12)],
            refund=100_000,
        ),
        *group(
            app,
            client,
            month=old,
            category="calo",
            service="kk",
            unit="disdukcapil",
            plan=[("verified", 2), ("in_progress", 6)],
        ),
        *group(
            app,
            client,
            month=recent,
            category="pungli",
            service="ktp_el",
            unit="mpp",
            plan=[("rejected", 1)],
        ),
        *group(
            app,
            client,
            month=recent,
            category="calo",
            service="kk",
            unit="disdukcapil",
            plan=[("verified", 4), ("referred", 8)],
            referred_to="ombudsman_banten",
        ),
    ]


# --- what the figures must be, recomputed here from the reports ---------------------------


def expected_deadlines(reports: list[Filed], as_of: date) -> dict[str, tuple[int, int]]:
    """(met, judged) per stage and overall, by the data dictionary's definition."""
    allowed = {"received": 3, "verified": 5, "in_progress": 14}
    met: Counter[str] = Counter()
    judged: Counter[str] = Counter()
    for report in reports:
        stages = [("received", report.received), *report.steps]
        results: dict[str, bool] = {}
        for index, (status, entered) in enumerate(stages):
            if status not in allowed:
                continue
            due = deadlines.add_working_days(entered, allowed[status])
            left = stages[index + 1][1] if index + 1 < len(stages) else None
            if left is None and as_of <= due:
                continue
            on_time = left is not None and left <= due
            results[status] = results.get(status, True) and on_time
        for status, on_time in results.items():
            judged[status] += 1
            met[status] += on_time
        if results:
            judged["all"] += 1
            met["all"] += all(results.values())
    return {stage: (met[stage], judged[stage]) for stage in (*allowed, "all")}


def expected(reports: list[Filed]) -> dict[str, Any]:
    """Every figure the dashboard and the API should publish for these reports."""
    as_of = deadlines.local_today()
    verification = [
        deadlines.working_days_between(r.received, r.verified_on) for r in reports if r.verified_on
    ]
    completion = [
        deadlines.working_days_between(r.received, r.closed_on)
        for r in reports
        if r.status == "resolved"
    ]
    shares = {
        # A whole percent, halves rounded up; nothing to share out of no report.
        stage: (math.floor(met * 100 / judged + 0.5) if judged else None, judged)
        for stage, (met, judged) in expected_deadlines(reports, as_of).items()
    }

    def median(values: list[int]) -> int | None:
        # Published in whole working days, halves rounded up.
        return math.floor(statistics.median(values) + 0.5) if values else None

    return {
        "total": len(reports),
        "status": Counter(r.status for r in reports),
        "category": Counter(r.category for r in reports),
        "service": Counter(r.service for r in reports),
        "unit": Counter(r.unit for r in reports),
        "month": Counter(stats.month_key(r.received) for r in reports),
        "referral": Counter(r.referred_to for r in reports if r.referred_to),
        "channel": Counter({"api": len(reports)}),
        "median_working_days_to_verification": median(verification),
        "median_working_days_to_completion": median(completion),
        # Sums are rounded to two significant digits, like each amount.
        "rupiah_demanded": round_amount(sum(r.amount or 0 for r in reports)),
        "rupiah_refunded": round_amount(
            sum(r.refund or 0 for r in reports if r.status == "resolved")
        ),
        "shares": shares,
    }


def csv_rows(client: FlaskClient, query: str = "") -> list[dict[str, str]]:
    """The CSV download parsed by column name."""
    response = client.get(f"{API}/stats.csv{query}")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


# --- tests ---------------------------------------------------------------------------------


@many
def test_json_and_csv_figures_equal_the_reports(app, client):
    reports = seeded(app, client)
    want = expected(reports)
    body = client.get(f"{API}/stats").get_json()
    assert body["reports"] == {"count": 20, "suppressed": False, "display": "20"}
    for name in ("status", "category", "service", "unit", "channel", "month", "referral"):
        cells = {cell["key"]: cell for cell in body["breakdowns"][name]["cells"]}
        for key, count in want[name].items():
            assert cells[key]["count"] == count, (name, key)
        for key, cell in cells.items():
            assert cell["count"] == want[name].get(key, 0), (name, key)
            assert cell["suppressed"] is False
        total = sum(want[name].values())
        assert body["breakdowns"][name]["total"]["count"] == total
    figures = body["figures"]
    for name in (
        "median_working_days_to_verification",
        "median_working_days_to_completion",
        "rupiah_demanded",
        "rupiah_refunded",
    ):
        assert figures[name]["value"] == want[name], name
        assert figures[name]["suppressed"] is False
    for stage, (share, _judged) in want["shares"].items():
        figure = figures[f"deadline_met_percent_{stage}"]
        # The reports behind a share are not published: one more total to subtract.
        assert (figure["value"], figure["reports"]["count"]) == (share, None), stage
    # The deadlines in the seed: some met, some missed (so the shares say something).
    assert 0 < want["shares"]["received"][0] < 100
    assert want["shares"]["in_progress"] == (50, 10)  # five resolved in time, five overdue

    rows = {(row["breakdown"], row["key"]): row for row in csv_rows(client)}
    assert next(iter(rows.values())).keys() == {
        "period",
        "breakdown",
        "key",
        "label_id",
        "label_en",
        "count",
        "value",
        "display",
        "suppressed",
    }
    assert rows[("total", "reports")]["count"] == "20"
    for name in ("status", "category", "unit", "referral"):
        for key, count in want[name].items():
            assert rows[(name, key)]["count"] == str(count)
            assert rows[(name, key)]["suppressed"] == "false"
    assert rows[("category", "pungli")]["label_id"] == "Pungutan liar"
    assert rows[("category", "pungli")]["label_en"] == "Illegal levy"
    refunded = rows[("figure", "rupiah_refunded")]
    assert refunded["value"] == str(want["rupiah_refunded"])
    assert refunded["count"] == ""
    assert {row["period"] for row in rows.values()} == {"2026-Q3"}


@many
def test_a_year_adds_up_its_published_quarters(app, client):
    reports = seeded(app, client)
    want = expected(reports)
    body = client.get(f"{API}/stats?period=2026").get_json()
    assert body["period"]["kind"] == "year"
    assert body["quarters"] == ["2026-Q1", "2026-Q2", "2026-Q3"]  # Q4 has not ended
    assert body["reports"]["count"] == want["total"] == 20
    months = {cell["key"]: cell["count"] for cell in body["breakdowns"]["month"]["cells"]}
    assert months["2026-07"] == 10 and months["2026-08"] == 10 and months["2026-01"] == 0
    # No month, no rolling window, no quarter that has not ended.
    for bad in ("2026-08", "2026-Q4", "last-12-months", "2027"):
        assert client.get(f"{API}/stats?period={bad}").status_code == 400, bad


@many
def test_figures_change_only_when_a_quarter_is_published(app, client, runner):
    def count(period: str = "") -> Any:
        return client.get(f"{API}/stats?period={period}").get_json()["reports"]["count"]

    file_reports(client, 6)  # filed on 15 November: 2026-Q4, not ended
    assert count() == 0  # the newest published quarter is 2026-Q3: no report there
    before = client.get(f"{API}/stats?period=2026").get_json()
    file_reports(client, 1)
    assert client.get(f"{API}/stats?period=2026").get_json() == before
    with moved_clock(lambda: datetime(2027, 1, 2, 5, 0, tzinfo=UTC)):
        assert count() == 7  # 2026-Q4 has ended: published on the first request
        file_reports(client, 1)  # counted in 2027-Q1, published in April
        assert count("2026-Q4") == 7
        assert count("2026") == 7
    with moved_clock(lambda: datetime(2027, 4, 1, 5, 0, tzinfo=UTC)):
        result = runner.invoke(args=["stats", "publish"])
        assert result.exit_code == 0, result.output
        assert "2027-Q1" in result.output
        newest = client.get(f"{API}/stats").get_json()
        assert newest["period"]["key"] == "2027-Q1"
        assert newest["reports"]["display"] == "< 5"  # one report: never a number
        assert newest["breakdowns"]["category"]["cells"] == []  # nor how it splits
        assert count("2026-Q4") == 7  # a published quarter never changes
    with app.app_context():
        assert db.session.scalars(select(StatsPublication.period)).all() == ["2026-Q4", "2027-Q1"]


@pytest.mark.app_config({**MANY, "STATS_REFRESH_IN_REQUESTS": False})
def test_large_instances_publish_only_from_the_timer(app, client, runner):
    file_reports(client, 6)
    with moved_clock(lambda: datetime(2027, 1, 2, 5, 0, tzinfo=UTC)):
        # The quarter has ended, but requests do not publish: only the timer's command does.
        assert client.get(f"{API}/stats").get_json()["reports"]["count"] == 0
        assert runner.invoke(args=["stats", "publish"]).exit_code == 0
        assert client.get(f"{API}/stats").get_json()["reports"]["count"] == 6
        result = runner.invoke(args=["stats", "publish"])
        assert "nothing due" in result.output


@many
def test_requests_do_not_read_the_reports_table(app, client):
    seeded(app, client)
    client.get(f"{API}/stats")  # publishes the closed quarter
    statements: list[str] = []

    def capture(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", capture)
    try:
        for url in (
            f"{API}/stats",
            f"{API}/stats.csv?period=2026-Q3",
            "/transparansi",
            "/transparansi?period=2026",
        ):
            assert client.get(url).status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    assert statements
    for statement in statements:
        assert "FROM report" not in statement and "status_change" not in statement, statement


@many
def test_refresh_writes_monthly_aggregates_only(app, client):
    reports = seeded(app, client)
    with app.app_context():
        snapshot = stats.refresh()
        cells = db.session.execute(
            select(stats.StatsCell.month, stats.StatsCell.figure, stats.StatsCell.key).where(
                stats.StatsCell.snapshot_id == snapshot.id
            )
        ).all()
    months = {stats.month_start(r.received) for r in reports}
    assert {month for month, _, _ in cells} == months  # first days of months, nothing finer
    assert all(month.day == 1 for month, _, _ in cells)
    codes = {r.code for r in reports}
    assert not codes & {key for _, _, key in cells}


def test_periods_parse_strictly():
    today = date(2026, 11, 17)
    assert stats.parse_period("2026-Q1", today).months == [
        date(2026, 1, 1),
        date(2026, 2, 1),
        date(2026, 3, 1),
    ]
    assert stats.parse_period("2026-q3", today).key == "2026-Q3"
    assert stats.parse_period("2026", today).last == date(2026, 12, 1)
    newest = stats.parse_period("", today)
    assert (newest.key, newest.first, newest.last) == (
        "2026-Q3",
        date(2026, 7, 1),
        date(2026, 9, 1),
    )
    assert stats.parse_period("latest", today) == newest
    # A quarter is published once it has ended: on its last day it is still open.
    assert stats.parse_period("", date(2026, 9, 30)).key == "2026-Q2"
    assert stats.parse_period("", date(2026, 10, 1)).key == "2026-Q3"
    for bad in (
        "2026-13",
        "2026-Q5",
        "26",
        "2026-1",
        "Q1",
        "1999",
        "2027",
        "2026-Q4",
        " x",
        "2026-03",
        "last-12-months",
    ):
        with pytest.raises(stats.InvalidPeriod):
            stats.parse_period(bad, today)


def test_medians_come_from_histograms():
    assert stats._median(Counter({2: 1, 3: 1})) == 2.5
    assert stats._median(Counter({1: 3, 9: 1})) == 1
    assert stats._median(Counter({4: 2})) == 4
    assert stats._median(Counter()) is None


def test_statistics_on_postgres(instance_folder, postgres_url):
    app = make_app(instance_folder, SQLALCHEMY_DATABASE_URI=postgres_url, **MANY)
    try:
        with app.app_context():
            setup_service.initialise(admin_email=ADMIN_EMAIL, admin_password=ADMIN_PASSWORD)
        client = app.test_client()
        reports = seeded(app, client)
        want = expected(reports)
        body = client.get(f"{API}/stats").get_json()
        assert body["reports"]["count"] == 20
        figures = body["figures"]
        assert figures["rupiah_refunded"]["value"] == want["rupiah_refunded"]
        for stage, (share, _judged) in want["shares"].items():
            figure = figures[f"deadline_met_percent_{stage}"]
            assert figure["value"] == share, stage
        with app.app_context():
            # Published once: a second server finds nothing due; working snapshots still build.
            assert stats.publish_due() == []
            first, second = stats.refresh(), stats.refresh()
            assert second.id > first.id
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
