"""Retention by crypto-shredding: closed reports past the retention period lose everything.

For each report closed (resolved or rejected) longer than the admin's retention period,
`purge` deletes both copies of the data key, the content and contact ciphertexts, every
message and evidence file, every note of the status history (internal and public), the
outside body's reference, staff drafts of a public summary and any reporter session.
What remains is what the published statistics are built from: the public facts
(category, service, unit, month, rounded amount, channel, outcome, refund), the status
steps with their days, and the tracking code, so its status page can say the record
was deleted. A summary already published in the register stays: it was written for the
public and approved by two members.

Run it daily (README, "Retention"): `flask --app wsgi purge`, from a systemd timer.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta

from flask import current_app
from sqlalchemy import func, update

from portal.extensions import db
from portal.models import (
    Attachment,
    Message,
    PortalSession,
    Publication,
    PublicationState,
    Report,
    Setting,
    Status,
    StatusChange,
)
from portal.models.base import today, utcnow
from portal.services import audit, settings
from portal.transaction import atomic

# Reports shredded per transaction: a long backlog (the first run on an old instance)
# commits in slices, each audited, so no transaction holds the database for long.
BATCH_SIZE = 200
CLOSED_STATUSES = (Status.RESOLVED, Status.REJECTED)
LAST_RUN_KEY = "retention_last_run"


@dataclass(frozen=True)
class PurgeCounts:
    """What one purge run destroyed (or, dry, would destroy)."""

    reports: int = 0
    messages: int = 0
    attachments: int = 0
    notes: int = 0
    sessions: int = 0
    drafts: int = 0

    def __add__(self, other: PurgeCounts) -> PurgeCounts:
        """Field-wise sum, for totals over batches."""
        return PurgeCounts(
            **{name: value + getattr(other, name) for name, value in asdict(self).items()}
        )

    def describe(self) -> str:
        """One line for the operator and the audit log."""
        return json.dumps(asdict(self), sort_keys=True)


@dataclass(frozen=True)
class RetentionStatus:
    """What the admin page says about retention: the rule, the last run, the next one."""

    months: int
    cutoff: date
    due_now: int
    last_run_at: datetime | None
    last_run_counts: dict[str, int] | None
    next_run_at: datetime
    overdue: bool


def months_before(day: date, months: int) -> date:
    """The same day `months` calendar months earlier (the month's last day if shorter)."""
    index = day.year * 12 + day.month - 1 - months
    year, month = divmod(index, 12)
    month += 1
    for candidate in range(day.day, 0, -1):
        try:
            return date(year, month, candidate)
        except ValueError:
            continue
    raise AssertionError("unreachable: every month has a day 1")  # pragma: no cover


def cutoff(on: date | None = None) -> date:
    """Reports closed before this day are past retention."""
    return months_before(on or today(), settings.get_retention_months())


def _due_condition(before: date) -> list[object]:
    return [
        Report.status.in_([status.value for status in CLOSED_STATUSES]),
        Report.closed_on.is_not(None),
        Report.closed_on < before,
        Report.shredded_on.is_(None),
    ]


def due_ids(before: date, *, limit: int | None = None) -> list[int]:
    """Ids of reports closed before `before` and not yet shredded, oldest first."""
    query = db.select(Report.id).where(*_due_condition(before)).order_by(Report.id)
    if limit is not None:
        query = query.limit(limit)
    return list(db.session.scalars(query))


def _count(model: type, ids: list[int], *extra: object) -> int:
    column = model.report_id  # type: ignore[attr-defined]
    return int(
        db.session.scalar(db.select(func.count()).select_from(model).where(column.in_(ids), *extra))
        or 0
    )


def _measure(ids: list[int]) -> PurgeCounts:
    """What shredding these reports destroys, counted before anything is touched."""
    return PurgeCounts(
        reports=len(ids),
        messages=_count(Message, ids),
        attachments=_count(Attachment, ids),
        notes=_count(
            StatusChange,
            ids,
            (StatusChange.internal_note_ct.is_not(None)) | (StatusChange.public_note != ""),
        ),
        sessions=_count(PortalSession, ids),
        drafts=_count(Publication, ids, Publication.state != PublicationState.PUBLISHED),
    )


def _shred(ids: list[int], day: date) -> None:
    """Destroy everything but the public facts of these reports (current transaction)."""
    db.session.execute(db.delete(PortalSession).where(PortalSession.report_id.in_(ids)))
    db.session.execute(db.delete(Message).where(Message.report_id.in_(ids)))
    db.session.execute(db.delete(Attachment).where(Attachment.report_id.in_(ids)))
    db.session.execute(
        db.delete(Publication).where(
            Publication.report_id.in_(ids), Publication.state != PublicationState.PUBLISHED
        )
    )
    db.session.execute(
        update(Publication).where(Publication.report_id.in_(ids)).values(withdrawal_note=None)
    )
    db.session.execute(
        update(StatusChange)
        .where(StatusChange.report_id.in_(ids))
        .values(internal_note_ct=None, public_note="")
    )
    db.session.execute(
        update(Report)
        .where(Report.id.in_(ids))
        .values(
            key_sealed=None,
            key_wrapped=None,
            content_ct=b"",
            contact_ct=None,
            receipt_salt=b"",
            referral_reference=None,
            shredded_on=day,
        )
    )


def purge(
    *, dry_run: bool = False, actor: str = "retention", on: date | None = None
) -> PurgeCounts:
    """Shred every report past retention, in audited batches; returns the totals.

    A dry run counts what would go, audits that it looked, and changes nothing else.
    The job opens a block per batch (joining the caller's, if one is open): a crash keeps
    the batches already done, and no transaction grows with the backlog.
    """
    day = on or today()
    before = cutoff(day)
    months = settings.get_retention_months()
    total = PurgeCounts()
    if dry_run:
        with atomic():
            total = _measure(due_ids(before))
            audit.record(
                actor=actor,
                action="retention.dry_run",
                detail=f"months={months} cutoff={before.isoformat()} would={total.describe()}",
            )
        return total
    while True:
        with atomic():
            ids = due_ids(before, limit=BATCH_SIZE)
            if not ids:
                break
            counts = _measure(ids)
            _shred(ids, day)
            audit.record(
                actor=actor,
                action="retention.purged",
                detail=f"months={months} cutoff={before.isoformat()} {counts.describe()}",
            )
        db.session.expire_all()
        total = total + counts
    with atomic():
        _store_last_run(total)
        audit.record(
            actor=actor,
            action="retention.run",
            detail=f"months={months} cutoff={before.isoformat()} total={total.describe()}",
        )
    return total


def _store_last_run(counts: PurgeCounts) -> None:
    value = json.dumps({"at": utcnow().isoformat(), "counts": asdict(counts)}, sort_keys=True)
    row = db.session.get(Setting, LAST_RUN_KEY)
    if row is None:
        db.session.add(Setting(key=LAST_RUN_KEY, value=value))
    else:
        row.value = value


def status() -> RetentionStatus:
    """The rule in force, how many reports the next run shreds, and when it is due."""
    interval = timedelta(hours=current_app.config["RETENTION_RUN_INTERVAL_HOURS"])
    before = cutoff()
    due_now = int(
        db.session.scalar(
            db.select(func.count()).select_from(Report).where(*_due_condition(before))
        )
        or 0
    )
    row = db.session.get(Setting, LAST_RUN_KEY)
    last_at: datetime | None = None
    last_counts: dict[str, int] | None = None
    if row is not None:
        stored = json.loads(row.value)
        last_at = datetime.fromisoformat(stored["at"])
        last_counts = stored["counts"]
    now = utcnow()
    next_at = last_at + interval if last_at is not None else now
    # An hour of slack for the timer's own randomised delay.
    overdue = last_at is None or now > next_at + timedelta(hours=1)
    return RetentionStatus(
        months=settings.get_retention_months(),
        cutoff=before,
        due_now=due_now,
        last_run_at=last_at,
        last_run_counts=last_counts,
        next_run_at=max(next_at, now) if not overdue else now,
        overdue=overdue,
    )
