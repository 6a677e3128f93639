"""Public statistics: figures equal the reports, snapshots refresh, no request scans reports."""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import event, select

from portal.extensions import db
from portal.models import StatsPublication
from portal.models.base import moved_clock
from portal.services import setup as setup_service
from portal.services import stats
from tests.helpers import ADMIN_EMAIL, ADMIN_PASSWORD, make_app
from tests.helpers.stats import (
    API,
    MANY,
    TODAY,
    expected,
    file_reports,
    seeded,
)

many = pytest.mark.app_config(MANY)


@pytest.fixture(autouse=True)
def clock() -> Iterator[None]:
    """Every test here runs on a fixed day."""
    with moved_clock(lambda: TODAY):
        yield


# --- what the figures must be, recomputed here from the reports ---------------------------


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
