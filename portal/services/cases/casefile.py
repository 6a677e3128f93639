"""The case file as staff read it: content, timeline, messages and evidence, decrypted.

Every decryption of content is audited in the caller's `atomic()` block.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from portal import crypto
from portal.extensions import db
from portal.models import Report, Staff
from portal.models.base import today
from portal.services import audit, evidence_store, inbox, reports
from portal.services.cases.base import ContentDeleted, data_key, note_aad
from portal.services.evidence_store import EvidenceFile, EvidenceInfo
from portal.services.inbox import OpenedMessage


@dataclass(frozen=True)
class CaseStep:
    """One step of the timeline as staff see it: the internal note decrypted."""

    status: str
    public_note: str
    internal_note: str
    staff_email: str | None
    on: date


@dataclass(frozen=True)
class CaseFile:
    """Everything the case page shows, decrypted for one staff member."""

    report: Report
    opened: reports.OpenedReport | None  # None once the content was shredded
    timeline: list[CaseStep]
    messages: list[OpenedMessage]
    evidence: list[EvidenceInfo]
    duplicate_of: str | None
    duplicates: list[str]
    overdue: bool
    contact_shown: bool


def is_overdue(report: Report, on: date | None = None) -> bool:
    """Whether the current status's deadline has passed."""
    return report.due_on is not None and report.due_on < (on or today())


def timeline(report: Report, key: crypto.DataKey | None) -> list[CaseStep]:
    """The status history with internal notes decrypted (blank without the key)."""
    staff_ids = {step.staff_id for step in report.history if step.staff_id is not None}
    emails: dict[int, str] = {}
    if staff_ids:
        rows = db.session.execute(db.select(Staff.id, Staff.email).where(Staff.id.in_(staff_ids)))
        emails = {row.id: row.email for row in rows}
    steps = []
    for step in report.history:
        note = ""
        if step.internal_note_ct is not None and key is not None:
            note = crypto.unpad(
                crypto.decrypt(key, step.internal_note_ct, note_aad(report, step.id))
            ).decode()
        steps.append(
            CaseStep(
                status=step.status,
                public_note=step.public_note,
                internal_note=note,
                staff_email=emails.get(step.staff_id) if step.staff_id else None,
                on=step.created_on,
            )
        )
    return steps


def open_case(
    *, report: Report, actor: Staff, private_key: crypto.PrivateKey, show_contact: bool = False
) -> CaseFile:
    """Decrypt the whole case for a staff member; audits the view (and the contact view)."""
    try:
        key: crypto.DataKey | None = data_key(report, private_key)
    except ContentDeleted:
        key = None
    opened = reports.open_report(report, key) if key is not None else None
    duplicate_of = None
    if report.duplicate_of_id is not None:
        original = db.session.get(Report, report.duplicate_of_id)
        duplicate_of = original.tracking_code if original is not None else None
    duplicates = list(
        db.session.scalars(
            db.select(Report.tracking_code)
            .where(Report.duplicate_of_id == report.id)
            .order_by(Report.id)
        )
    )
    case = CaseFile(
        report=report,
        opened=opened,
        timeline=timeline(report, key),
        messages=inbox.conversation(report, key) if key is not None else [],
        evidence=evidence_store.evidence_list(report, key) if key is not None else [],
        duplicate_of=duplicate_of,
        duplicates=duplicates,
        overdue=is_overdue(report),
        contact_shown=show_contact and opened is not None,
    )
    if opened is not None:
        audit.record(actor=actor.email, action="report.viewed", target=report.tracking_code)
        if show_contact:
            audit.record(
                actor=actor.email, action="report.contact_viewed", target=report.tracking_code
            )
    return case


def download_evidence(
    *, report: Report, actor: Staff, private_key: crypto.PrivateKey, attachment_id: int
) -> EvidenceFile | None:
    """One decrypted evidence file of this report (None if not one of its files); audited."""
    key = data_key(report, private_key)
    found = evidence_store.open_evidence(report, key, attachment_id)
    if found is None:
        return None
    audit.record(
        actor=actor.email,
        action="evidence.downloaded",
        target=report.tracking_code,
        detail=f"attachment={attachment_id}",
    )
    return found
