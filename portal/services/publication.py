"""Publications: staff write a redacted summary of a resolved report, another approves.

Four eyes: the member who saved the current text may not approve it, so nothing reaches
the public that only one person has read. Editing an approved summary sends it back for
approval (it leaves the public register at once); withdrawing takes it down with a
reason. Every change checks first, then writes and audits in the caller's `atomic()`
block; a refused action raises, and the block rolls everything back.

Nothing here decrypts: a summary is written from the report page (whose views
are audited there) and holds only what its author chose to make public.

One module on purpose: what the public sees (the register, the feed) is decided by the
same states and the same "facts still match" check that the four-eyes steps enforce.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from flask_babel import lazy_gettext as _l
from sqlalchemy import ColumnElement, Select, and_, func
from sqlalchemy.orm import contains_eager

from portal.extensions import db
from portal.models import (
    Outcome,
    Publication,
    PublicationState,
    Report,
    Staff,
    Status,
    WithdrawalReason,
)
from portal.models.base import utcnow
from portal.months import month_of
from portal.services import audit, four_eyes
from portal.services.errors import DomainError
from portal.services.reports import round_amount
from portal.services.stats import cases as stats_cases

# Shown instead of a fact that would let someone narrow a published statistic.
WITHHELD = _l("withheld to protect reporters")


class PublicationError(DomainError):
    """A refused publication step; `message` says why in the current language."""


class NotResolved(PublicationError):
    """Only resolved reports can have a public summary (or keep one approved)."""

    text = _l("Only resolved reports can be published.")


class OwnSummary(PublicationError):
    """Four eyes: the member who wrote the current text cannot approve it."""

    text = _l(
        "You wrote or last edited this summary, so you cannot approve it. Another"
        " staff member must read and approve it."
    )


class NotIndependent(PublicationError):
    """Four eyes against one person: the approver's and author's accounts share a line."""

    text = _l(
        "You cannot approve this summary: your account and its author's were set up by the"
        " same person (one created, re-enabled or reset the other, or someone did both), so"
        " one person could hold both. A member whose account nobody in the author's line"
        " set up must approve it."
    )


class NotAwaitingApproval(PublicationError):
    """Only a summary awaiting approval can be approved."""

    text = _l("This summary is not awaiting approval.")


class NotPublished(PublicationError):
    """Only a published summary can be withdrawn."""

    text = _l("This summary is not published.")


class StaleSummary(PublicationError):
    """The text changed since the approver opened the page."""

    text = _l(
        "Someone changed this summary since you opened it. Read the current text"
        " below before you approve it."
    )


class FactsChanged(PublicationError):
    """The report's outcome, sanction or refund changed since the text was saved."""

    text = _l(
        "The report's outcome, sanction or refund changed since this summary was"
        " written. Check the text against the facts and save it again first."
    )


class NoSummary(PublicationError):
    """The report has no summary yet."""

    text = _l("This report has no public summary yet.")


@dataclass(frozen=True)
class PublicationView:
    """What the public register, the feed and the API show of a publication: no names, months."""

    public_id: str
    title: str
    summary: str
    category_code: str
    service_code: str
    unit_code: str
    category_name: str
    service_name: str
    unit_name: str
    incident_month: date
    resolved_month: date | None
    published_month: date
    outcome: str
    sanction: str | None
    refund_rupiah: int | None


@dataclass(frozen=True)
class PublicationPage:
    """One page of the public register."""

    publications: list[PublicationView]
    page: int
    has_next: bool


# --- reading -----------------------------------------------------------------------------


def for_report(report: Report) -> Publication | None:
    """The summary of this report, if one was written."""
    query = db.select(Publication).where(Publication.report_id == report.id)
    return db.session.scalars(query).first()


def _lock(report: Report) -> Publication | None:
    """Lock the report row, refresh it and its summary: concurrent steps go one at a time.

    Without the lock, an approval could pass its revision check while an edit commits,
    and two first drafts could race for the one summary a report may have.
    """
    db.session.execute(
        db.select(Report)
        .where(Report.id == report.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    query = (
        db.select(Publication)
        .where(Publication.report_id == report.id)
        .execution_options(populate_existing=True)
    )
    return db.session.scalars(query).first()


def facts_match(case: Publication, report: Report) -> bool:
    """Whether the report still has the outcome facts the text was saved against."""
    return (
        case.outcome == report.outcome
        and case.sanction == report.sanction
        and case.refund_rupiah == report.refund_rupiah
    )


def is_public(case: Publication) -> bool:
    """Whether the public sees this case now (same rule as the public queries)."""
    return (
        case.state == PublicationState.PUBLISHED
        and case.report.status == Status.RESOLVED
        and facts_match(case, case.report)
    )


def _public_condition() -> ColumnElement[bool]:
    """Published, the report still resolved, and its facts those the approver saw.

    Reopening a report, or resolving it again with another outcome, takes its case out
    of public view at once, without anybody having to remember to withdraw it.
    """
    return and_(
        Publication.state == PublicationState.PUBLISHED,
        Report.status == Status.RESOLVED,
        Report.outcome.is_not_distinct_from(Publication.outcome),
        Report.sanction.is_not_distinct_from(Publication.sanction),
        Report.refund_rupiah.is_not_distinct_from(Publication.refund_rupiah),
    )


def _public_query() -> Select[Publication]:
    """Every public case, newest approval first."""
    report = contains_eager(Publication.report)
    return (
        db.select(Publication)
        .join(Report, Report.id == Publication.report_id)
        .where(_public_condition(), stats_cases.listed())
        # One query per page, not one per case for its report and catalogue names.
        .options(
            report.joinedload(Report.category),
            report.joinedload(Report.service),
            report.joinedload(Report.unit),
        )
        .order_by(Publication.approved_at.desc(), Publication.id.desc())
    )


def _public_view(case: Publication, shown: set[str]) -> PublicationView:
    """The public facts of a publication: months, rounded Rupiah, catalogue names; no people.

    `shown` are the facts the statistics allow it to show (services.stats.cases): one
    that would narrow a published quarter's figures reads "withheld" instead.
    """
    report = case.report
    withheld = str(WITHHELD)
    proven = report.outcome == Outcome.PROVEN
    approved = case.approved_at or case.written_at
    return PublicationView(
        public_id=case.public_id,
        title=case.title,
        summary=case.summary,
        category_code=report.category_code if "category" in shown else "",
        service_code=report.service_code if "service" in shown else "",
        unit_code=report.unit_code if "unit" in shown else "",
        category_name=report.category.name if "category" in shown else withheld,
        service_name=report.service.name if "service" in shown else withheld,
        unit_name=report.unit.name if "unit" in shown else withheld,
        incident_month=month_of(report.incident_month),
        resolved_month=(
            month_of(report.closed_on) if report.closed_on and "status" in shown else None
        ),
        published_month=month_of(approved),
        outcome=report.outcome or "",
        # A sanction or refund only follows a proven report (services.cases enforces it);
        # "none" is shown as no sanction.
        sanction=report.sanction if proven and report.sanction not in (None, "none") else None,
        refund_rupiah=(
            round_amount(report.refund_rupiah) if proven and "refunded" in shown else None
        ),
    )


def _public_views(cases: list[Publication]) -> list[PublicationView]:
    """The public facts of several publications (one query for what each may show)."""
    shown = stats_cases.shown(case.report_id for case in cases)
    return [_public_view(case, shown[case.report_id]) for case in cases]


def public_page(*, page: int, per_page: int) -> PublicationPage:
    """One page of the public register (page 1 is the newest)."""
    rows = list(
        db.session.scalars(_public_query().offset((page - 1) * per_page).limit(per_page + 1))
    )
    return PublicationPage(
        publications=_public_views(rows[:per_page]),
        page=page,
        has_next=len(rows) > per_page,
    )


def public_latest(*, limit: int) -> list[PublicationView]:
    """The newest public cases, for the feed."""
    return _public_views(list(db.session.scalars(_public_query().limit(limit))))


def find_public(public_id: str) -> PublicationView | None:
    """One public case by its public id; None if unknown or not (or no longer) public."""
    query = _public_query().where(Publication.public_id == public_id)
    case = db.session.scalars(query).first()
    return _public_views([case])[0] if case is not None else None


def last_public_change() -> date | None:
    """The month of the latest approval or withdrawal, for the feed's `updated`."""
    latest = db.session.execute(
        db.select(func.max(Publication.approved_at), func.max(Publication.withdrawn_at))
    ).one()
    moments = [moment for moment in latest if moment is not None]
    return month_of(max(moments)) if moments else None


def awaiting_approval() -> list[Publication]:
    """Summaries waiting for a second member, oldest first (first written, first read)."""
    query = (
        db.select(Publication)
        .where(Publication.state == PublicationState.AWAITING_APPROVAL)
        .order_by(Publication.written_at, Publication.id)
    )
    return list(db.session.scalars(query))


def in_state(state: PublicationState, *, limit: int) -> list[Publication]:
    """The newest summaries in one state (published: by approval; withdrawn: by withdrawal)."""
    key = (
        Publication.withdrawn_at if state is PublicationState.WITHDRAWN else Publication.approved_at
    )
    query = (
        db.select(Publication)
        .where(Publication.state == state)
        .order_by(key.desc(), Publication.id.desc())
        .limit(limit)
    )
    return list(db.session.scalars(query))


def candidates(*, page: int, per_page: int) -> tuple[list[Report], bool]:
    """Resolved reports without a summary, most recently closed first; and whether more follow."""
    written = db.select(Publication.id).where(Publication.report_id == Report.id).exists()
    query = (
        db.select(Report)
        .where(Report.status == Status.RESOLVED, ~written)
        .order_by(Report.closed_on.desc(), Report.id.desc())
        .offset((page - 1) * per_page)
        .limit(per_page + 1)
    )
    rows = list(db.session.scalars(query))
    return rows[:per_page], len(rows) > per_page


# --- changes -----------------------------------------------------------------------------


def save_summary(*, report: Report, actor: Staff, title: str, summary: str) -> Publication:
    """Write or edit the summary; it then awaits a second member's approval.

    Saving unchanged text of a summary that is already awaiting approval or published
    changes nothing; saving a withdrawn one puts it back for approval.
    """

    case = _lock(report)
    if report.status != Status.RESOLVED:
        raise NotResolved()
    if case is None:
        case = Publication(
            report_id=report.id,
            title=title,
            summary=summary,
            created_by_id=actor.id,
            author_id=actor.id,
            outcome=report.outcome,
            sanction=report.sanction,
            refund_rupiah=report.refund_rupiah,
        )
        db.session.add(case)
        db.session.flush()
        audit.record(
            actor=actor.email,
            action="publication.drafted",
            target=report.tracking_code,
            detail=f"publication={case.public_id} revision=1",
        )
        return case
    unchanged = case.title == title and case.summary == summary and facts_match(case, report)
    if unchanged and case.state != PublicationState.WITHDRAWN:
        return case
    previous = case.state
    case.title = title
    case.summary = summary
    case.outcome = report.outcome
    case.sanction = report.sanction
    case.refund_rupiah = report.refund_rupiah
    case.revision += 1
    case.author_id = actor.id
    case.written_at = utcnow()
    case.state = PublicationState.AWAITING_APPROVAL
    case.approver_id = None
    case.approved_at = None
    audit.record(
        actor=actor.email,
        action="publication.edited",
        target=report.tracking_code,
        detail=f"publication={case.public_id} revision={case.revision} from={previous}",
    )
    return case


def approve(*, report: Report, actor: Staff, revision: int) -> Publication:
    """Publish the summary: only a member other than its author, only the text they read."""

    case = _lock(report)
    if case is None:
        raise NoSummary()
    if case.state != PublicationState.AWAITING_APPROVAL:
        raise NotAwaitingApproval()
    if case.author_id == actor.id:
        raise OwnSummary()
    author = db.session.get(Staff, case.author_id)
    if author is None or not four_eyes.can_approve(author=author, approver=actor):
        raise NotIndependent()
    if case.revision != revision:
        raise StaleSummary()
    if report.status != Status.RESOLVED:
        raise NotResolved()
    if not facts_match(case, report):
        raise FactsChanged()
    case.state = PublicationState.PUBLISHED
    case.approver_id = actor.id
    case.approved_at = utcnow()
    case.withdrawn_by_id = None
    case.withdrawn_at = None
    case.withdrawal_reason = None
    case.withdrawal_note = None
    stats_cases.admit(report)  # what the register may show of it, beside the statistics
    audit.record(
        actor=actor.email,
        action="publication.approved",
        target=report.tracking_code,
        detail=f"publication={case.public_id} revision={case.revision}",
    )
    return case


def withdraw(
    *, report: Report, actor: Staff, reason: WithdrawalReason, note: str = ""
) -> Publication:
    """Take a published summary down at once; one member suffices to remove (never to add).

    The reason category is audited; the free-text note stays on the row only.
    """

    case = _lock(report)
    if case is None:
        raise NoSummary()
    if case.state != PublicationState.PUBLISHED:
        raise NotPublished()
    case.state = PublicationState.WITHDRAWN
    case.withdrawn_by_id = actor.id
    case.withdrawn_at = utcnow()
    case.withdrawal_reason = reason
    case.withdrawal_note = note or None
    audit.record(
        actor=actor.email,
        action="publication.unpublished",
        target=report.tracking_code,
        detail=f"publication={case.public_id} reason={reason}",
    )
    return case
