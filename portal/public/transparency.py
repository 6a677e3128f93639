"""The transparency dashboard and its data dictionary: public, read-only, no JavaScript."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import current_app, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import format_date, format_decimal, get_locale
from flask_babel import lazy_gettext as _l
from markupsafe import Markup
from sqlalchemy import func, select
from werkzeug.datastructures import MultiDict
from wtforms import StringField

from portal import charts, memo
from portal.deadlines import local_today
from portal.extensions import db
from portal.forms import PortalForm, clean_text
from portal.i18n import format_rupiah
from portal.models import AuditAnchor
from portal.months import month_from_key
from portal.public import bp
from portal.services import audit, stats
from portal.suppression import Cell

# The newest anchored day (built once; read without the ORM's per-query work).
_NEWEST_ANCHOR = select(func.max(AuditAnchor.day))

# Per breakdown: the chart's title and the table's first column heading.
BREAKDOWN_TITLES = {
    "status": (_l("Reports by status"), _l("Status")),
    "category": (_l("Reports by category"), _l("Category")),
    "service": (_l("Reports by service"), _l("Service")),
    "unit": (_l("Reports by place"), _l("Place")),
    "channel": (_l("Reports by channel"), _l("Channel")),
    "month": (_l("Reports by month received"), _l("Month")),
    "referral": (_l("Referrals by outside body"), _l("Outside body")),
}


class PeriodForm(PortalForm):
    """The period filter: a GET form, so a view can be bookmarked and shared."""

    class Meta(PortalForm.Meta):
        """Reading figures changes nothing: no CSRF token in the URL."""

        csrf = False

    # Any valid period is accepted, listed or not: the service parses it. The URL says
    # ?periode= (public pages speak Indonesian); ?period=, its first name, is still read.
    periode = StringField(_l("Period"), id="period")


def publisher() -> str:
    """Who publishes the open data (the licence line names it)."""
    configured = current_app.config.get("STATS_PUBLISHER")
    return str(configured or f"Inspektorat {current_app.config['CITY_NAME']}")


def licence_line() -> str:
    """The licence line every download and page carries."""
    return f"{current_app.config['STATS_LICENCE']}, {publisher()}"


def _filter(selected: str, first: date | None) -> dict[str, Any]:
    """The filter's options: the newest closed quarter first, then years and quarters."""
    groups = stats.period_choices(first, local_today())
    options = [("", str(_l("Newest published quarter")))]
    listed = {""} | {period.key for _, periods in groups for period in periods}
    if selected not in listed:  # a valid period older than the list, or the bad value typed
        options.append((selected, selected))
    return {"period_options": options, "period_groups": groups, "selected": selected}


def number(cell: Cell, k: int) -> str:
    """A count as the page shows it: grouped digits, or its suppression mark."""
    return format_decimal(cell.value) if cell.shown else cell.display(k)


def figure_text(figure: stats.Figure, k: int) -> str:
    """A single figure as the page shows it, in the visitor's number format."""
    if not figure.shown or figure.value is None:
        return figure.display(k) or "\N{EN DASH}"
    if figure.name in stats.SUM_FIGURES:
        return format_rupiah(int(figure.value))
    if figure.name in stats.DEADLINE_FIGURES:
        return f"{format_decimal(figure.value)} %"
    return str(format_decimal(figure.value))


def _charts(report: stats.PeriodStats) -> dict[str, Markup]:
    """One SVG chart per breakdown, and one for the deadlines met."""
    drawn: dict[str, Markup] = {}
    for name, breakdown in report.breakdowns.items():
        title = str(BREAKDOWN_TITLES[name][0])
        bars = [
            charts.Bar(
                row.label,
                float(row.cell.value) if row.cell.shown else None,
                number(row.cell, report.k),
            )
            for row in breakdown.rows
        ]
        if name == "month":
            short = []
            for index, row in enumerate(breakdown.rows):
                month = month_from_key(row.key)
                year = str(month.year) if index == 0 or month.month == 1 else ""
                short.append((format_date(month, "MMM"), year))
            drawn[name] = charts.column_chart(
                chart_id=f"chart-{name}", title=title, bars=bars, short_labels=short
            )
        else:
            drawn[name] = charts.bar_chart(chart_id=f"chart-{name}", title=title, bars=bars)
    deadline_bars = [
        charts.Bar(
            str(stats.FIGURE_LABELS[name]),
            float(figure.value) if figure.shown and figure.value is not None else None,
            figure_text(figure, report.k),
        )
        for name, figure in report.figures.items()
        if name in stats.DEADLINE_FIGURES
    ]
    drawn["deadlines"] = charts.bar_chart(
        chart_id="chart-deadlines",
        title=str(_l("Deadlines met")),
        bars=deadline_bars,
        maximum=100,
    )
    return drawn


def _page(**context: Any) -> str:
    """Render the dashboard with the helpers its template uses."""
    return render_template(
        "public/transparency.html",
        titles=BREAKDOWN_TITLES,
        figure_labels=stats.FIGURE_LABELS,
        number=number,
        figure_text=figure_text,
        licence=licence_line(),
        **({"anchors": audit.published_anchors()} | context),
    )


@bp.get("/transparansi")
def transparency() -> ResponseReturnValue:
    """The dashboard: reports and their handling for a period, small numbers suppressed."""
    # The form's own reading of the field, without building the form: a cached page
    # needs no form at all.
    args = request.args
    if "periode" not in args and "period" in args:
        args = MultiDict({"periode": args["period"]})
    selected = (clean_text(args.get("periode")) or "").strip()
    published = stats.publications()

    def first() -> date | None:
        return min((stats.parse_quarter_key(key) for key in published), default=None)

    try:
        period = stats.parse_period(selected, local_today())
    except stats.InvalidPeriod as error:
        form = PeriodForm(formdata=args)
        form.periode.errors = [error.message]
        return _page(form=form, report=None, charts={}, **_filter(selected, first())), 400

    def render() -> str:
        """The whole page, rendered once per publication version (and language, path)."""
        report = stats.period_stats(period)
        return _page(
            form=PeriodForm(formdata=args),
            report=report,
            charts=_charts(report),
            **_filter(period.key, first()),
        )

    key = (
        "transparansi",
        str(get_locale()),
        request.full_path,
        stats.quarter_key(stats.last_closed_quarter(local_today())),
        stats.version(period, published),
        # The audit chain's daily anchors on the page: a new day's anchor, a new page.
        memo.shared_version(
            "audit_anchor", lambda: db.session.connection().execute(_NEWEST_ANCHOR).scalar()
        ),
    )
    return stats.cached(key, render)


@bp.get("/transparansi/kamus-data")
def data_dictionary() -> ResponseReturnValue:
    """What every column and figure of the open data means, and how reporters are protected."""
    return render_template(
        "public/data_dictionary.html",
        titles=BREAKDOWN_TITLES,
        figure_labels=stats.FIGURE_LABELS,
        public_figures=stats.PUBLIC_FIGURES,
        breakdowns=stats.BREAKDOWNS,
        deadlines=stats.inspectorate_deadlines(),
        k=current_app.config["STATS_MIN_CELL"],
        licence=licence_line(),
    )
