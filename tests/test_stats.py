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
from sqlalchemy import delete, event, select

from portal import memo
from portal.extensions import db
from portal.models import Category, StatsPublication
from portal.models.base import moved_clock
from portal.services import catalog, stats
from portal.services import setup as setup_service
from portal.services.reports import round_amount
from portal.services.stats import cache as stats_cache
from portal.services.stats import tables as stats_tables
from portal.transaction import atomic
from tests.helpers import ADMIN_EMAIL, ADMIN_PASSWORD, make_app, make_staff
from tests.helpers.publication import publish_summary, resolve
from tests.helpers.stats import (
    API,
    MANY,
    TODAY,
    K,
    expected,
    file_reports,
    group,
    months_ago,
    publish,
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
        assert count() == 0  # 2026-Q4 has ended, but requests never publish...
        assert runner.invoke(args=["stats", "publish"]).exit_code == 0
        assert count() == 7  # ...the timer does
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
    seeded(app, client)  # and published by the timer
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
            "/transparansi?periode=2026",
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


@many
def test_a_published_quarter_never_changes_with_settings_or_catalogue(app, client):
    seeded(app, client)  # 2026-Q3, published
    urls = [
        f"{API}/stats?period=2026-Q3",
        f"{API}/stats.csv?period=2026-Q3",
        "/transparansi?periode=2026-Q3",
        f"{API}/stats?period=2026",
    ]
    before = {url: client.get(url).get_data() for url in urls}
    client.get("/bahasa/en?next=/")
    before_en = {url: client.get(url).get_data() for url in urls}
    # Later: the admin lowers k, renames one category and retires another.
    app.config["STATS_MIN_CELL"] = 3
    with app.app_context(), atomic():
        pungli = db.session.scalars(select(Category).where(Category.code == "pungli")).one()
        catalog.update(
            pungli, actor=ADMIN_EMAIL, values={"name_id": "Pungli (baru)", "name_en": "Levy (new)"}
        )
        calo = db.session.scalars(select(Category).where(Category.code == "calo")).one()
        catalog.update(calo, actor=ADMIN_EMAIL, values={"active": False})
    # A fresh app server (nothing cached) renders the frozen quarter from its row alone.
    with app.app_context():  # a server that has built nothing yet
        memo.app_cache(stats_cache.CACHE, stats_cache.CACHE_SIZE).clear()
        memo.app_cache(stats_tables.CACHE, stats_tables.CACHE_SIZE).clear()
    assert {url: client.get(url).get_data() for url in urls} == before_en
    client.get("/bahasa/id?next=/")
    after = {url: client.get(url).get_data() for url in urls}
    assert after == before
    assert b"Pungli (baru)" not in after["/transparansi?periode=2026-Q3"]
    body = client.get(f"{API}/stats?period=2026-Q3").get_json()
    assert body["min_cell"] == K


@pytest.mark.app_config(MANY)
def test_sums_and_medians_are_rounded_and_hidden_under_k(app, client):
    # 2026-Q3: five resolved reports refunded 123,457 x 1..5 (sum 1,851,855).
    group(
        app,
        client,
        month=months_ago(4),
        category="pungli",
        service="ktp_el",
        unit="mpp",
        plan=[("verified", 1), ("in_progress", 2), ("resolved", 9)],
        refund=123_457,
    )
    # 2026-Q2: four resolved and refunded, one more report: fewer than k behind each sum.
    group(
        app,
        client,
        month=months_ago(7),
        category="pungli",
        service="ktp_el",
        unit="mpp",
        plan=[("verified", 1), ("in_progress", 2), ("resolved", 9)],
        refund=123_457,
        count=K - 1,
    )
    group(
        app,
        client,
        month=months_ago(7),
        category="calo",
        service="kk",
        unit="mpp",
        plan=[],
        count=1,
    )
    publish(app)
    figures = client.get(f"{API}/stats?period=2026-Q3").get_json()["figures"]
    refunded = figures["rupiah_refunded"]
    assert refunded["value"] == round_amount(123_457 * 15) == 1_900_000  # like each amount
    demanded = figures["rupiah_demanded"]
    assert demanded["value"] == round_amount(sum(50_000 * i for i in range(1, K + 1)))
    assert isinstance(figures["median_working_days_to_completion"]["value"], int)
    small = client.get(f"{API}/stats?period=2026-Q2").get_json()["figures"]
    for name in ("rupiah_refunded", "median_working_days_to_completion"):
        assert small[name]["value"] is None and small[name]["display"] == f"n < {K}", name
    # The demanded sum is over all five reports: shown, rounded.
    assert small["rupiah_demanded"]["value"] == round_amount(
        sum(50_000 * i for i in range(1, K)) + 50_000
    )
    rows = {
        row["key"]: row
        for row in csv_rows(client, "?period=2026-Q2")
        if row["breakdown"] == "figure"
    }
    assert rows["rupiah_refunded"]["value"] == "" and rows["rupiah_refunded"]["display"] == "n < 5"


@many
def test_a_case_published_after_its_quarter_shows_no_fact_that_narrows_it(app, client):
    seeded(app, client)  # 20 reports in 2026-Q3, published
    place = group(
        app,
        client,
        month=months_ago(3),
        category="pungli",
        service="ktp_el",
        unit="kec_serang",
        plan=[],
        count=K + 2,
    )
    with app.app_context():
        db.session.execute(delete(StatsPublication))  # publish again, with the seven
        db.session.commit()
    publish(app)
    frozen = client.get(f"{API}/stats?period=2026-Q3").get_data()
    units = client.get(f"{API}/stats?period=2026-Q3").get_json()["breakdowns"]["unit"]["cells"]
    assert {cell["key"]: cell["display"] for cell in units}["kec_serang"] == str(K + 2)
    author, approver = make_staff(app), make_staff(app)
    published = []
    for one in place[:3]:
        resolve(app, one.code)
        published.append(
            publish_summary(app, one.code, author, approver, title="Kasus", summary="Ringkasan.")
        )
    cases = {
        case["id"]: case for case in client.get(f"{API}/publications").get_json()["publications"]
    }
    # Two cases beside seven reports leave five others: shown. A third would leave four.
    assert [cases[public_id]["unit"] for public_id in published] == [
        "kec_serang",
        "kec_serang",
        "",
    ]
    assert all(cases[public_id]["category"] == "pungli" for public_id in published)
    page = client.get(f"/publikasi/{published[2]}").get_data(as_text=True)
    assert "disamarkan untuk melindungi pelapor" in page
    assert client.get(f"{API}/stats?period=2026-Q3").get_data() == frozen  # never changes


@many
def test_a_quarter_frozen_after_its_cases_protects_the_reports_beside_them(app, client):
    month = months_ago(3)  # 2026-Q3, not published yet
    place = group(
        app,
        client,
        month=month,
        category="pungli",
        service="ktp_el",
        unit="kec_serang",
        plan=[],
        count=K + 2,
    )
    group(app, client, month=month, category="calo", service="kk", unit="mpp", plan=[], count=2 * K)
    author, approver = make_staff(app), make_staff(app)
    for index, one in enumerate(place):
        resolve(app, one.code)  # proven, refunded
        if index >= 3:
            continue
        publish_summary(app, one.code, author, approver, title="Kasus", summary="Ringkasan.")
    publish(app)
    body = client.get(f"{API}/stats?period=2026-Q3").get_json()
    units = {cell["key"]: cell["display"] for cell in body["breakdowns"]["unit"]["cells"]}
    # Seven reports there, three of them published cases: "7" would tell four others.
    assert units["kec_serang"] == "x"
    resolved = {c["key"]: c["display"] for c in body["breakdowns"]["status"]["cells"]}
    assert resolved["resolved"] == "x"
    # Seven refunds, three shown by the cases: the sum would give the other four's away.
    assert body["figures"]["rupiah_refunded"]["display"] == "x"
    assert body["figures"]["rupiah_refunded"]["value"] is None
    # All three cases are listed with every fact (they were counted when it was frozen).
    cases = client.get(f"{API}/publications").get_json()["publications"]
    assert len(cases) == 3 and all(case["unit"] == "kec_serang" for case in cases)
    assert all(case["refund_rupiah"] and case["resolved_month"] for case in cases)
