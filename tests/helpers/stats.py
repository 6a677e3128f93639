"""Statistics tests: reports filed on a fixed day in known shapes, and what they must show."""

from __future__ import annotations

import math
import statistics
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from portal import deadlines
from portal.extensions import db
from portal.models import Report, StatusChange
from portal.services import stats
from portal.services.reports import round_amount
from tests.helpers import VALID_JSON

K = 5


API = "/api/v1"


# Many reports from one test address: lift the per-address filing limit.
MANY = {"RATELIMIT_REPORT_SUBMIT": "1000 per hour"}


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
    filed = [
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
    publish(app)
    return filed


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


# The portal's clock in these tests: mid-November 2026, so 2026-Q3 is the newest
# published quarter and the reports below fall in it.
TODAY = datetime(2026, 11, 15, 5, 0, tzinfo=UTC)


def publish(app: Flask) -> list[str]:
    """What the daily timer does (`flask stats publish`): freeze every quarter that ended."""
    with app.app_context():
        return stats.publish_due()
