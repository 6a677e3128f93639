"""Open data: the transparency statistics as JSON and CSV, suppressed exactly as on the page."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Response, current_app, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import force_locale, get_locale

from portal import spreadsheet
from portal.api import bp
from portal.deadlines import local_today
from portal.errors import api_error
from portal.public.transparency import licence_line
from portal.services import stats
from portal.suppression import Cell

T = TypeVar("T")

# The CSV's columns, in order; documented on the data dictionary page. Never reorder.
CSV_COLUMNS = (
    "period",
    "breakdown",
    "key",
    "label_id",
    "label_en",
    "count",
    "value",
    "display",
    "suppressed",
)


def _cell(cell: Cell, k: int) -> dict[str, Any]:
    """A count in the JSON shape: the number (null when suppressed), the flag, the display."""
    return {
        "count": cell.value if cell.shown else None,
        "suppressed": not cell.shown,
        "display": cell.display(k),
    }


def _figure_labels(name: str) -> tuple[str, str]:
    """A figure's description in Indonesian and English."""
    labels = []
    for locale in ("id", "en"):
        with force_locale(locale):
            labels.append(str(stats.FIGURE_LABELS[name]))
    return labels[0], labels[1]


def _period(report: stats.PeriodStats) -> dict[str, str]:
    """The period in the JSON shape."""
    period = report.period
    return {
        "key": period.key,
        "kind": period.kind,
        "first_month": stats.month_key(period.first),
        "last_month": stats.month_key(period.last),
    }


def as_json(report: stats.PeriodStats) -> dict[str, Any]:
    """The whole period as one JSON document."""
    k = report.k
    breakdowns = {}
    for name, breakdown in report.breakdowns.items():
        breakdowns[name] = {
            "total": _cell(breakdown.total, k),
            "cells": [
                {"key": row.key, "label_id": row.label_id, "label_en": row.label_en}
                | _cell(row.cell, k)
                for row in breakdown.rows
            ],
        }
    figures = {}
    for figure in report.figures.values():
        label_id, label_en = _figure_labels(figure.name)
        figures[figure.public_name] = {
            "label_id": label_id,
            "label_en": label_en,
            "value": figure.value if figure.shown else None,
            "suppressed": not figure.shown,
            "display": figure.display(k),
            "reports": _cell(figure.reports, k),
            "deadline_working_days": figure.deadline_days,
        }
    return {
        "period": _period(report),
        "as_of_month": stats.month_key(report.as_of_month),
        "quarters": list(report.quarters),
        "min_cell": k,
        "licence": licence_line(),
        "dictionary": url_for("public.data_dictionary", _external=True),
        "reports": _cell(report.total, k),
        "breakdowns": breakdowns,
        "figures": figures,
    }


def as_rows(report: stats.PeriodStats) -> list[tuple[Any, ...]]:
    """The whole period as CSV rows: one per breakdown cell, per total and per figure."""
    k = report.k
    period = report.period.key

    def count_row(
        breakdown: str, key: str, label_id: str, label_en: str, cell: Cell
    ) -> tuple[Any, ...]:
        count = cell.value if cell.shown else ""
        return (
            period,
            breakdown,
            key,
            label_id,
            label_en,
            count,
            count,
            cell.display(k),
            _flag(cell),
        )

    rows = [count_row("total", stats.TOTAL_KEY, "Laporan", "Reports", report.total)]
    for name, breakdown in report.breakdowns.items():
        for row in breakdown.rows:
            rows.append(count_row(name, row.key, row.label_id, row.label_en, row.cell))
        rows.append(count_row(name, "_total", "Jumlah", "Total", breakdown.total))
    for figure in report.figures.values():
        label_id, label_en = _figure_labels(figure.name)
        rows.append(
            (
                period,
                "figure",
                figure.public_name,
                label_id,
                label_en,
                figure.reports.value if figure.reports.shown else "",
                figure.value if figure.shown and figure.value is not None else "",
                figure.display(k),
                "false" if figure.shown else "true",
            )
        )
    return rows


def _flag(cell: Cell) -> str:
    """The CSV's suppressed column."""
    return "false" if cell.shown else "true"


def _requested() -> stats.Period | tuple[Response, int]:
    """The requested period, or the API's 400 for a bad period."""
    try:
        return stats.parse_period(request.args.get("period"), local_today())
    except stats.InvalidPeriod as error:
        return api_error(400, "invalid_period", error.message, {"period": [error.message]})


def _cached(kind: str, period: stats.Period, build: Callable[[], T]) -> T:
    """`build()` once per version of the period's publications (and host and language)."""
    key = (
        kind,
        period.key,
        request.host_url,
        str(get_locale()),
        stats.version(period, stats.publications()),
    )
    return stats.cached(key, build)


@bp.get("/stats")
def stats_json() -> ResponseReturnValue:
    """The statistics of a closed quarter or a year (default: the newest quarter) as JSON."""
    period = _requested()
    if isinstance(period, tuple):
        return period
    body = _cached(
        "json", period, lambda: current_app.json.dumps(as_json(stats.period_stats(period))) + "\n"
    )
    return Response(body, mimetype="application/json")


def _csv(report: stats.PeriodStats) -> str:
    """The CSV file of a period."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    # Labels are admin-edited catalogue names: never let a spreadsheet run one.
    writer.writerows([tuple(spreadsheet.cell(value) for value in row) for row in as_rows(report)])
    return buffer.getvalue()


@bp.get("/stats.csv")
def stats_csv() -> ResponseReturnValue:
    """The statistics of a period as CSV, one row per cell; columns in CSV_COLUMNS."""
    period = _requested()
    if isinstance(period, tuple):
        return period
    body = _cached("csv", period, lambda: _csv(stats.period_stats(period)))
    name = f"statistik-{period.key}.csv"
    return Response(
        body,
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
