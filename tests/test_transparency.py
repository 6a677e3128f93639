"""The dashboard /transparansi and the open data as a journalist (or a snoop) reads them."""

from __future__ import annotations

import csv
import html
import io
import re
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from flask.testing import FlaskClient
from flask_babel import force_locale, format_date

from portal.models.base import moved_clock
from portal.services import stats
from tests.helpers.stats import API, MANY, TODAY, expected, group, months_ago, publish, seeded


@pytest.fixture(autouse=True)
def clock() -> Iterator[None]:
    """Every test here runs on the fixed day of the statistics tests."""
    with moved_clock(lambda: TODAY):
        yield


K = 5
BREAKDOWNS = ("status", "category", "service", "unit", "channel", "month", "referral")
many = pytest.mark.app_config(MANY)


def english(client: FlaskClient) -> FlaskClient:
    """Switch the browser to English."""
    client.get("/bahasa/en?next=/")
    return client


def page(client: FlaskClient, query: str = "") -> str:
    """The dashboard's HTML for a period."""
    response = client.get(f"/transparansi{query}")
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_data(as_text=True)


def as_number(text: str) -> int | None:
    """A published count, or None when it is a suppression mark."""
    text = text.strip()
    if text in (f"< {K}", "x"):
        return None
    return int(text.replace(",", "").replace(".", ""))


def html_table(text: str, name: str) -> tuple[dict[str, str], str]:
    """(key -> shown text, total text) of one breakdown's table on the page."""
    match = re.search(rf'<table class="stats-table" id="table-{name}">(.*?)</table>', text, re.S)
    assert match, name
    found = re.findall(r'<td class="num" data-key="([^"]+)">([^<]*)</td>', match.group(1))
    cells = {key: html.unescape(text) for key, text in found}
    total = cells.pop("_total")
    return cells, total


def html_figure(text: str, name: str) -> str:
    """The text shown for a single figure (the first place it appears)."""
    match = re.search(rf'data-figure="{name}">([^<]*)<', text)
    assert match, name
    return html.unescape(match.group(1).strip())


def json_tables(body: dict[str, Any]) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    """key -> cell and the total, per breakdown, of the JSON document."""
    return {
        name: ({cell["key"]: cell for cell in item["cells"]}, item["total"])
        for name, item in body["breakdowns"].items()
    }


def csv_tables(text: str) -> dict[str, tuple[dict[str, dict[str, str]], dict[str, str]]]:
    """key -> row and the total row, per breakdown, of the CSV file."""
    tables: dict[str, tuple[dict[str, dict[str, str]], dict[str, str]]] = {}
    for row in csv.DictReader(io.StringIO(text)):
        if row["breakdown"] in ("total", "figure"):
            continue
        cells, _ = tables.setdefault(row["breakdown"], ({}, {}))
        if row["key"] == "_total":
            tables[row["breakdown"]] = (cells, row)
        else:
            cells[row["key"]] = row
    return tables


def assert_cannot_be_derived(cells: list[int | None], total: int | None, where: str) -> None:
    """No single hidden cell, nor fewer than k hidden reports, is left beside a shown total."""
    hidden = [cell for cell in cells if cell is None]
    if total is None or not hidden:
        return
    shown = sum(cell for cell in cells if cell is not None)
    assert len(hidden) >= 2, where
    assert total - shown >= K, where


def check_every_format(client: FlaskClient, period: str) -> None:
    """Every breakdown of a period, in HTML, JSON and CSV: nothing hidden can be worked out."""
    query = f"?period={period}"
    html = page(client, query)
    body = client.get(f"{API}/stats{query}").get_json()
    text = client.get(f"{API}/stats.csv{query}").get_data(as_text=True)
    in_json, in_csv = json_tables(body), csv_tables(text)
    for name in BREAKDOWNS:
        cells, total = html_table(html, name)
        assert_cannot_be_derived(
            [as_number(v) for v in cells.values()], as_number(total), f"{period} html {name}"
        )
        json_cells, json_total = in_json[name]
        assert_cannot_be_derived(
            [cell["count"] for cell in json_cells.values()],
            json_total["count"],
            f"{period} json {name}",
        )
        csv_cells, csv_total = in_csv[name]
        assert_cannot_be_derived(
            [int(row["count"]) if row["count"] else None for row in csv_cells.values()],
            int(csv_total["count"]) if csv_total["count"] else None,
            f"{period} csv {name}",
        )
        # The three formats say the same thing, cell by cell.
        assert set(cells) == set(json_cells) == set(csv_cells), name
        for key, shown in cells.items():
            assert json_cells[key]["display"] == csv_cells[key]["display"], (name, key)
            assert shown.replace(",", "") == json_cells[key]["display"], (name, key)
            assert (csv_cells[key]["suppressed"] == "true") is json_cells[key]["suppressed"]


def small_cell(app: Any, client: FlaskClient, month: date) -> None:
    """Nine reports in one month: five about pungli, k-1 = 4 about calo."""
    group(app, client, month=month, category="pungli", service="ktp_el", unit="mpp", plan=[])
    group(
        app,
        client,
        month=month,
        category="calo",
        service="ktp_el",
        unit="mpp",
        plan=[],
        count=K - 1,
    )


@many
def test_dashboard_figures_equal_the_reports(app, client):
    reports = seeded(app, client)
    want = expected(reports)
    html = page(english(client))
    assert html_figure(html, "reports") == "20"
    for name in ("status", "category", "service", "unit", "channel", "month", "referral"):
        cells, total = html_table(html, name)
        assert as_number(total) == sum(want[name].values()), name
        for key, count in want[name].items():
            assert as_number(cells[key]) == count, (name, key)
        assert sum(as_number(text) or 0 for text in cells.values()) == as_number(total)
    assert html_figure(html, "median_working_days_to_verification") == str(
        want["median_working_days_to_verification"]
    )
    assert html_figure(html, "median_working_days_to_completion") == str(
        want["median_working_days_to_completion"]
    )
    assert html_figure(html, "rupiah_demanded") == "Rp" + f"{want['rupiah_demanded']:,}".replace(
        ",", "."
    )
    assert html_figure(html, "rupiah_refunded") == "Rp" + f"{want['rupiah_refunded']:,}".replace(
        ",", "."
    )
    for stage, (share, _) in want["shares"].items():
        assert html_figure(html, f"deadline_met_percent_{stage}") == f"{share} %", stage
    # Status names as a reader sees them.
    assert "Resolved" in html and "Referred" in html


@many
def test_a_cell_of_k_minus_one_shows_less_than_k_everywhere(app, client):
    month = months_ago(2)
    small_cell(app, client, month)
    publish(app)
    key = "2026-Q3"
    english(client)
    cells, total = html_table(page(client, f"?period={key}"), "category")
    assert cells["calo"] == "< 5"
    assert cells["pungli"] == "x"  # else 9 - 5 = 4 would give calo away
    assert total == "9"
    body = client.get(f"{API}/stats?period={key}").get_json()
    json_cells = {cell["key"]: cell for cell in body["breakdowns"]["category"]["cells"]}
    assert json_cells["calo"] | {"label_en": ""} == {
        "key": "calo",
        "label_id": "Percaloan",
        "label_en": "",
        "count": None,
        "suppressed": True,
        "display": "< 5",
    }
    assert json_cells["pungli"]["count"] is None and json_cells["pungli"]["display"] == "x"
    assert body["min_cell"] == K
    rows = csv_tables(client.get(f"{API}/stats.csv?period={key}").get_data(as_text=True))
    calo = rows["category"][0]["calo"]
    assert (calo["count"], calo["value"], calo["display"], calo["suppressed"]) == (
        "",
        "",
        "< 5",
        "true",
    )
    # Every breakdown of every period holding these reports, in every format.
    for period in (key, str(month.year), ""):
        check_every_format(client, period)


@many
def test_a_year_does_not_give_away_what_its_quarters_hide(app, client):
    small_cell(app, client, months_ago(2))  # 2026-Q3: calo 4, pungli 5
    # A month of another quarter: calo 5, pungli 6, all shown there.
    other = months_ago(6)
    group(app, client, month=other, category="calo", service="kk", unit="mpp", plan=[])
    group(app, client, month=other, category="pungli", service="kk", unit="mpp", plan=[], count=6)
    publish(app)
    quarters = {
        key: json_tables(client.get(f"{API}/stats?period={key}").get_json())
        for key in ("2026-Q1", "2026-Q2", "2026-Q3")
    }
    assert quarters["2026-Q2"]["category"][0]["calo"]["count"] == 5
    yearly = json_tables(client.get(f"{API}/stats?period=2026").get_json())
    # 9 calo in the year, 5 shown in Q2: showing 9 would give away the 4.
    assert yearly["category"][0]["calo"]["count"] is None
    for name in BREAKDOWNS:
        for key, cell in yearly[name][0].items():
            if cell["count"] is None:
                continue
            shown = sum(
                (tables[name][0].get(key) or {}).get("count") or 0 for tables in quarters.values()
            )
            assert cell["count"] == shown, (name, key)  # a year is exactly its quarters
    check_every_format(client, "2026")


@many
def test_no_public_output_has_a_day_or_a_tracking_code(app, client):
    reports = seeded(app, client)
    english(client)
    periods = ["", "2026-Q3", "2026"]
    outputs = [page(client, f"?period={p}") for p in periods]
    outputs += [client.get(f"{API}/stats?period={p}").get_data(as_text=True) for p in periods]
    outputs += [client.get(f"{API}/stats.csv?period={p}").get_data(as_text=True) for p in periods]
    outputs.append(client.get("/transparansi/kamus-data").get_data(as_text=True))
    days = {r.received for r in reports} | {day for r in reports for _, day in r.steps}
    with app.test_request_context():
        written = set()
        for day in days:
            for locale in ("id", "en"):
                with force_locale(locale):
                    written |= {format_date(day), format_date(day, "long")}
    for text in outputs:
        assert not re.search(r"\b\d{4}-\d{2}-\d{2}\b", text)
        assert not re.search(r"\b\d{1,2}/\d{1,2}/\d{2,4}\b", text)
        for report in reports:
            assert report.code not in text
            assert report.code.replace("-", "") not in text
        for shown in written:
            assert shown not in text, shown


@many
def test_a_bad_period_is_refused_with_400(client):
    for bad in ("2026-13", "2026-Q5", "Q1", "20266", "1999", "2999", "<script>", "2026-03"):
        response = client.get(f"/transparansi?periode={bad}")
        assert response.status_code == 400, bad
        text = english(client).get(f"/transparansi?periode={bad}").get_data(as_text=True)
        assert "period-errors" in text and "<script>" not in text
        for url in (f"{API}/stats?period={bad}", f"{API}/stats.csv?period={bad}"):
            response = client.get(url)
            assert response.status_code == 400, url
            error = response.get_json()["error"]
            assert error["code"] == "invalid_period"
            assert error["fields"]["period"]


@many
def test_charts_are_server_side_svg_with_text_and_tables(app, client):
    month = months_ago(2)
    small_cell(app, client, month)
    publish(app)
    html = page(english(client), "?period=2026-Q3")
    assert "<script" not in html and "style=" not in html
    svgs = re.findall(r"<svg[^>]*>.*?</svg>", html, re.S)
    assert len(svgs) == len(BREAKDOWNS) + 1  # one per breakdown, one for deadlines
    for svg in svgs:
        assert 'role="img"' in svg and "aria-label=" in svg
        assert re.search(r"<title>[^<]+</title>", svg)
    category = re.search(r'<svg[^>]*id="chart-category".*?</svg>', html, re.S).group(0)
    label = re.search(r'aria-label="([^"]+)"', category).group(1)
    assert "Brokering (calo): &lt; 5" in label and "Illegal levy: x" in label
    # A hidden number is drawn as an empty box, never as a bar of some length.
    assert category.count('class="bar-hidden"') == 2
    assert 'id="table-category"' in html


@many
def test_the_dashboard_links_open_data_and_the_dictionary(app, client):
    seeded(app, client)
    html = page(english(client), f"?period={months_ago(3).year}")
    assert f'href="/api/v1/stats.csv?period={months_ago(3).year}"' in html
    assert f'href="/api/v1/stats?period={months_ago(3).year}"' in html
    assert 'href="/transparansi/kamus-data"' in html
    assert "CC BY 4.0, Inspektorat Kota Serang" in html
    assert "How we protect reporters" in html
    dictionary = client.get("/transparansi/kamus-data")
    assert dictionary.status_code == 200
    text = dictionary.get_data(as_text=True)
    for column in ("period", "breakdown", "key", "label_id", "label_en", "count", "value"):
        assert f"<code>{column}</code>" in text
    for name in BREAKDOWNS:
        assert f"<code>{name}</code>" in text
    for name in stats.PUBLIC_FIGURES.values():
        assert f"<code>{name}</code>" in text
    assert "CC BY 4.0, Inspektorat Kota Serang" in text
    body = client.get(f"{API}/stats").get_json()
    assert body["licence"] == "CC BY 4.0, Inspektorat Kota Serang"
    assert body["dictionary"].endswith("/transparansi/kamus-data")


@many
def test_indonesian_is_the_default(app, client):
    seeded(app, client)
    html = page(client)
    assert '<html lang="id">' in html
    assert "Selesai" in html and "Pungutan liar" in html  # status and category names


@pytest.mark.app_config({**MANY, "STATS_MIN_CELL": 3})
def test_k_comes_from_config(app, client):
    month = months_ago(2)
    group(app, client, month=month, category="calo", service="kk", unit="mpp", plan=[], count=2)
    group(app, client, month=month, category="pungli", service="kk", unit="mpp", plan=[], count=4)
    publish(app)
    body = client.get(f"{API}/stats?period=2026-Q3").get_json()
    cells = {cell["key"]: cell for cell in body["breakdowns"]["category"]["cells"]}
    assert cells["calo"]["display"] == "< 3"
    assert body["min_cell"] == 3
    assert client.get("/transparansi").status_code == 200


def test_periods_offered_by_the_filter(app):
    today = date(2026, 5, 20)
    with app.test_request_context():
        (_, years), (_, quarters) = stats.period_choices(date(2024, 11, 1), today)
    assert [p.key for p in years] == ["2026", "2025", "2024"]
    # Only quarters that have ended: 2026-Q2 is still open on 20 May.
    assert [p.key for p in quarters][:2] == ["2026-Q1", "2025-Q4"]
    assert quarters[-1].key == "2024-Q4"  # the first month's quarter, 2024-11 in it
    assert all(p.last < date(2026, 4, 1) for p in quarters)
