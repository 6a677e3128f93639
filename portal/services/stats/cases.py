"""Published cases' facts in the statistics: what the register shows counts as published.

A published case shows its report's category, service, place, months and refund. Beside
the quarter's tables, each is a lower bound ("at least this many reports here"); the
reports *beside* the cases are what the tables must protect. So every fact a case shows
is written down when the case is approved (`admit`), never forgotten (a withdrawn case
was seen), and counted in its quarter: a quarter published later is protected with those
floors; a quarter already frozen never changes, so a fact that would let someone narrow
one of its cells below k is not shown by the register at all.

The outsider is assumed to know the quarter each case's report was received in. A case
whose quarter cannot be shown without narrowing it is not listed.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import date

from sqlalchemy import ColumnElement, and_, exists, select

from portal.extensions import db
from portal.models import (
    Outcome,
    Publication,
    PublicationState,
    Report,
    StatsCaseFact,
    StatsPublication,
    Status,
)
from portal.months import month_key
from portal.services.stats.figures import GROUPS
from portal.services.stats.periods import quarter_key, quarter_start
from portal.services.stats.tables import Quarter, load, publication
from portal.suppression import Floors, narrows

# The facts that place a case in its quarter (and month): refused together.
PLACEMENT = ("_total", "month")
# Facts that only count in a frozen quarter's table if the report was resolved then.
AFTER_RESOLUTION = ("status", "refunded")


def facts_of(report: Report) -> list[tuple[str, str]]:
    """Every statistics cell a published case of `report` shows it counts in."""
    facts = [("_total", "reports")]
    received = report.received_on
    if (report.incident_month.year, report.incident_month.month) == (received.year, received.month):
        # Only then does the month of the incident (which the case shows) name the month
        # received (which the tables count): assume the outsider guesses it.
        facts.append(("month", month_key(received)))
    facts += [
        ("category", report.category_code),
        ("service", report.service_code),
        ("unit", report.unit_code),
        ("status", str(Status.RESOLVED)),
    ]
    if report.outcome == Outcome.PROVEN and (report.refund_rupiah or 0) > 0:
        facts.append(("refunded", ""))
    return facts


def _seen(period: str) -> tuple[Floors, int]:
    """Everything cases ever showed of a quarter: cells, total, refunds."""
    tables: defaultdict[str, Counter[str]] = defaultdict(Counter)
    total = refunded = 0
    rows = db.session.execute(
        select(StatsCaseFact.figure, StatsCaseFact.key).where(StatsCaseFact.period == period)
    )
    for figure, key in rows:
        if figure == "_total":
            total += 1
        elif figure == "refunded":
            refunded += 1
        else:
            tables[figure][key] += 1
    return Floors({name: dict(keys) for name, keys in tables.items()}, {"reports": total}), refunded


def _plus(floors: Floors, facts: Iterable[tuple[str, str]]) -> Floors:
    """Floors with more facts counted."""
    tables = {name: dict(keys) for name, keys in floors.tables.items()}
    totals = dict(floors.totals)
    for figure, key in facts:
        if figure == "_total":
            totals["reports"] = totals.get("reports", 0) + 1
        elif figure != "refunded":
            tables.setdefault(figure, {})
            tables[figure][key] = tables[figure].get(key, 0) + 1
    return Floors(tables, totals)


def _refund_narrows(quarter: Quarter, refunded: int) -> bool:
    """Would `refunded` known refunds leave 1..k-1 others behind the quarter's shown sum?"""
    count = quarter.data.reports["refunded"]
    k = quarter.k
    frozen = quarter.single_floors.get("refunded", 0)
    shown = count >= k and not 0 < count - frozen < k
    return refunded > count or (shown and 0 < count - refunded < k)


def admit(report: Report) -> None:
    """Write down the facts a case of `report` may show from now on (at its approval).

    Facts already written stay. In a quarter not published yet every fact is written (the
    quarter will be protected with it); in a frozen quarter a fact is written only if it
    leaves every cell as uncertain as the rule asks, checked one by one in a fixed order.
    """
    period = quarter_key(quarter_start(report.received_on))
    rows = db.session.execute(
        select(StatsCaseFact.figure, StatsCaseFact.key).where(StatsCaseFact.report_id == report.id)
    )
    written = {(figure, key) for figure, key in rows}
    wanted = [fact for fact in facts_of(report) if fact not in written]
    if not wanted:
        return
    row = publication(quarter_start(report.received_on))
    admitted: list[tuple[tuple[str, str], str | None]]
    if row is None:
        admitted = [(fact, period) for fact in wanted]
    else:
        admitted = _admissible(report, row, wanted, period)
    for (figure, key), counted_in in admitted:
        db.session.add(
            StatsCaseFact(report_id=report.id, period=counted_in, figure=figure, key=key)
        )
    db.session.flush()


def _admissible(
    report: Report, row: StatsPublication, wanted: list[tuple[str, str]], period: str
) -> list[tuple[tuple[str, str], str | None]]:
    """The facts of `wanted` a frozen quarter allows, with the period each counts in."""
    quarter = load(row, k=0, deadlines={})
    counts = quarter.data.as_counts()
    seen, refunded = _seen(period)
    published_on = quarter.published_on or date.min
    resolved_by_then = report.closed_on is not None and (
        (report.closed_on.year, report.closed_on.month) <= (published_on.year, published_on.month)
    )
    result: list[tuple[tuple[str, str], str | None]] = []

    def allowed(facts: list[tuple[str, str]]) -> bool:
        trial = _plus(seen, facts)
        return not narrows(counts, k=quarter.k, groups=GROUPS, frozen=quarter.floors, seen=trial)

    placement = [fact for fact in wanted if fact[0] in PLACEMENT]
    if placement:
        if not allowed(placement):
            return []  # the case cannot be placed in its quarter: it is not listed
        seen = _plus(seen, placement)
        result += [(fact, period) for fact in placement]
    for fact in wanted:
        figure = fact[0]
        if figure in PLACEMENT:
            continue
        if figure in AFTER_RESOLUTION and not resolved_by_then:
            result.append((fact, None))  # resolved after the freeze: counted nowhere
            continue
        if figure == "refunded":
            if _refund_narrows(quarter, refunded + 1):
                continue
            refunded += 1
        elif not allowed([fact]):
            continue
        else:
            seen = _plus(seen, [fact])
        result.append((fact, period))
    return result


def admit_public() -> int:
    """Admit the facts of public cases that have none written yet; how many were tried.

    Cases approved before facts were kept are not listed until then; `stats publish`
    (the daily timer) runs this first, before it freezes anything.
    """
    missing = ~exists().where(StatsCaseFact.report_id == Report.id)
    reports = list(
        db.session.scalars(
            select(Report)
            .join(Publication, Publication.report_id == Report.id)
            .where(Publication.state == PublicationState.PUBLISHED, missing)
        )
    )
    for report in reports:
        admit(report)
    return len(reports)


def listed() -> ColumnElement[bool]:
    """Condition on a public case query: its report's placement was admitted."""
    return exists().where(
        and_(
            StatsCaseFact.report_id == Publication.report_id,
            StatsCaseFact.figure == "_total",
        )
    )


def shown(report_ids: Iterable[int]) -> dict[int, set[str]]:
    """Per report: the figures its case may show (category, service, unit, status, refunded)."""
    ids = list(report_ids)
    result: dict[int, set[str]] = {report_id: set() for report_id in ids}
    if not ids:
        return result
    rows = db.session.execute(
        select(StatsCaseFact.report_id, StatsCaseFact.figure).where(
            StatsCaseFact.report_id.in_(ids)
        )
    )
    for report_id, figure in rows:
        result[report_id].add(figure)
    return result


def quarter_floors(period: str) -> tuple[Floors, dict[str, int]]:
    """What cases showed of a quarter being frozen now, only where it is true today.

    A fact that stopped being true (a report reopened, a refund changed) would mislead an
    outsider rather than inform them; counted as a floor it would claim more reports than
    the cell holds, so it is left out.
    """
    tables: defaultdict[str, Counter[str]] = defaultdict(Counter)
    total = refunded = 0
    rows = db.session.execute(
        select(
            StatsCaseFact.figure,
            StatsCaseFact.key,
            Report.status,
            Report.outcome,
            Report.refund_rupiah,
        )
        .join(Report, Report.id == StatsCaseFact.report_id)
        .where(StatsCaseFact.period == period)
    )
    for figure, key, status, outcome, refund in rows:
        if figure == "_total":
            total += 1
        elif figure == "refunded":
            if status == Status.RESOLVED and outcome == Outcome.PROVEN and (refund or 0) > 0:
                refunded += 1
        elif figure == "status":
            if status == key:
                tables[figure][key] += 1
        else:
            tables[figure][key] += 1
    floors = Floors({name: dict(keys) for name, keys in tables.items()}, {"reports": total})
    return floors, ({"refunded": refunded} if refunded else {})
