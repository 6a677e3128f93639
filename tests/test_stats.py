"""Public statistics: figures equal the reports, snapshots refresh, no request scans reports."""

from __future__ import annotations

import csv
import io
import math
import statistics
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event, select, update

from portal import deadlines
from portal.extensions import db
from portal.models import Report, StatsRefresh, StatsSnapshot, StatusChange
from portal.models.base import utcnow
from portal.services import setup as setup_service
from portal.services import stats
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, VALID_JSON, make_app

K = 5
API = "/api/v1"
# Many reports from one test address: lift the per-address filing limit.
MANY = {"RATELIMIT_REPORT_SUBMIT": "1000 per hour"}
many = pytest.mark.parametrize("app_config", [MANY])

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
    """Twenty reports in four groups of five: every published count is 0 or at least k."""
    old, recent = months_ago(3), months_ago(2)
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
    return {
        "total": len(reports),
        "status": Counter(r.status for r in reports),
        "category": Counter(r.category for r in reports),
        "service": Counter(r.service for r in reports),
        "unit": Counter(r.unit for r in reports),
        "month": Counter(stats.month_key(r.received) for r in reports),
        "referral": Counter(r.referred_to for r in reports if r.referred_to),
        "channel": Counter({"api": len(reports)}),
        "median_working_days_to_verification": (
            statistics.median(verification) if verification else None
        ),
        "median_working_days_to_completion": statistics.median(completion) if completion else None,
        "rupiah_demanded": sum(r.amount or 0 for r in reports),
        "rupiah_refunded": sum(r.refund or 0 for r in reports if r.status == "resolved"),
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
    for stage, (share, judged) in want["shares"].items():
        figure = figures[f"deadline_met_percent_{stage}"]
        assert (figure["value"], figure["reports"]["count"]) == (share, judged), stage
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
    assert refunded["count"] == "5"
    assert {row["period"] for row in rows.values()} == {"last-12-months"}


@many
def test_figures_of_one_month_count_only_that_month(app, client):
    reports = seeded(app, client)
    recent = months_ago(2)
    want = expected([r for r in reports if stats.month_start(r.received) == recent])
    body = client.get(f"{API}/stats?period={stats.month_key(recent)}").get_json()
    assert body["period"]["kind"] == "month"
    assert body["reports"]["count"] == want["total"] == 10
    statuses = {cell["key"]: cell["count"] for cell in body["breakdowns"]["status"]["cells"]}
    assert statuses["rejected"] == 5 and statuses["referred"] == 5 and statuses["resolved"] == 0
    # Nobody in this month was resolved: there is nothing to take a median of.
    completion = body["figures"]["median_working_days_to_completion"]
    assert completion["value"] is None and completion["reports"]["count"] == 0


@many
def test_a_new_report_appears_after_refresh_or_after_max_age(app, client, runner):
    file_reports(client, 6)
    assert client.get(f"{API}/stats").get_json()["reports"]["count"] == 6
    file_reports(client, 1)
    # The snapshot is fresh: the new report is not counted yet.
    assert client.get(f"{API}/stats").get_json()["reports"]["count"] == 6
    result = runner.invoke(args=["stats", "refresh"])
    assert result.exit_code == 0, result.output
    assert "Statistics refreshed" in result.output
    assert client.get(f"{API}/stats").get_json()["reports"]["count"] == 7
    file_reports(client, 1)
    assert client.get(f"{API}/stats").get_json()["reports"]["count"] == 7
    with app.app_context():
        max_age = app.config["STATS_MAX_AGE_SECONDS"]
        db.session.execute(
            update(StatsSnapshot).values(built_at=utcnow() - timedelta(seconds=max_age + 1))
        )
        db.session.commit()
    # Older than the maximum age: the next request rebuilds it.
    assert client.get(f"{API}/stats").get_json()["reports"]["count"] == 8
    with app.app_context():
        # The new snapshot and the one before it are kept; older ones are gone.
        assert len(db.session.scalars(select(StatsSnapshot)).all()) == 2


@pytest.mark.parametrize("app_config", [{**MANY, "STATS_REFRESH_IN_REQUESTS": False}])
def test_large_instances_rebuild_only_from_cron(app, client, runner):
    file_reports(client, 6)
    assert client.get(f"{API}/stats").get_json()["reports"]["count"] == 6
    file_reports(client, 1)
    with app.app_context():
        db.session.execute(update(StatsSnapshot).values(built_at=utcnow() - timedelta(days=1)))
        db.session.commit()
    # Stale, but requests do not rebuild: only the cron command does.
    assert client.get(f"{API}/stats").get_json()["reports"]["count"] == 6
    assert runner.invoke(args=["stats", "refresh"]).exit_code == 0
    assert client.get(f"{API}/stats").get_json()["reports"]["count"] == 7


@many
def test_while_another_server_rebuilds_the_previous_snapshot_is_served(app, client):
    file_reports(client, 5)
    assert client.get(f"{API}/stats").get_json()["reports"]["count"] == 5
    file_reports(client, 1)
    with app.app_context():
        db.session.execute(update(StatsSnapshot).values(built_at=utcnow() - timedelta(days=1)))
        # Another app server holds the rebuild lease.
        db.session.add(
            StatsRefresh(id=1, holder="elsewhere", lease_until=utcnow() + timedelta(minutes=5))
        )
        db.session.commit()
    assert client.get(f"{API}/stats").get_json()["reports"]["count"] == 5
    with app.app_context():
        # That server died: its lease runs out, and the next request rebuilds.
        db.session.execute(update(StatsRefresh).values(lease_until=utcnow() - timedelta(seconds=1)))
        db.session.commit()
    assert client.get(f"{API}/stats").get_json()["reports"]["count"] == 6
    with app.app_context():
        lease = db.session.get(StatsRefresh, 1)
        assert lease is not None and lease.holder is None  # given back after the rebuild


@many
def test_requests_do_not_read_the_reports_table(app, client):
    seeded(app, client)
    client.get(f"{API}/stats")  # builds the snapshot
    statements: list[str] = []

    def capture(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", capture)
    try:
        for url in (
            f"{API}/stats",
            f"{API}/stats.csv?period={stats.month_key(months_ago(2))}",
            "/transparansi",
            f"/transparansi?period={months_ago(3).year}",
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
    assert stats.parse_period("2026-q4", today).key == "2026-Q4"
    assert stats.parse_period("2026", today).last == date(2026, 12, 1)
    window = stats.parse_period("", today)
    assert (window.first, window.last) == (date(2025, 12, 1), date(2026, 11, 1))
    assert stats.parse_period("last-12-months", today) == window
    for bad in ("2026-13", "2026-Q5", "26", "2026-1", "Q1", "1999", "2027", "2026-12", " x"):
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
        for stage, (share, judged) in want["shares"].items():
            figure = figures[f"deadline_met_percent_{stage}"]
            assert (figure["value"], figure["reports"]["count"]) == (share, judged), stage
        with app.app_context():
            # Two servers rebuilding at once each write a whole snapshot; both commit.
            first, second = stats.refresh(), stats.refresh()
            assert second.id > first.id
            assert stats.newest().id == second.id
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
