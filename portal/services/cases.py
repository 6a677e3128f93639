"""Case handling by the inspectorate: lifecycle, assignment, referral, outcome, duplicates.

Every function that changes a report checks first, then writes, audits in the same
transaction and commits once; on any error the transaction is rolled back, so a
refused action leaves nothing half-written. Reads of decrypted content are audited too.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TypeVar

from flask_babel import gettext
from flask_babel import lazy_gettext as _l

from portal import crypto, deadlines
from portal.evidence import CleanFile
from portal.extensions import db
from portal.identifiers import InvalidIdentifier, TrackingCode, parse_tracking_code
from portal.labels import status_label
from portal.models import (
    HANDLER_ROLES,
    Channel,
    Outcome,
    OutsideBody,
    Priority,
    Report,
    Sanction,
    Side,
    Staff,
    Status,
    StatusChange,
)
from portal.models.base import today
from portal.services import audit, inbox, reports, sessions
from portal.services.errors import DomainError
from portal.services.inbox import EvidenceFile, EvidenceInfo, OpenedMessage

# The lifecycle (DESIGN.md, "Report lifecycle"): where a report may go from each status.
# Closed reports reopen one step back: resolved -> in_progress, rejected -> verified.
TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.RECEIVED: frozenset({Status.NEEDS_INFO, Status.VERIFIED, Status.REJECTED}),
    Status.NEEDS_INFO: frozenset({Status.VERIFIED, Status.IN_PROGRESS, Status.REJECTED}),
    Status.VERIFIED: frozenset(
        {Status.IN_PROGRESS, Status.REFERRED, Status.NEEDS_INFO, Status.REJECTED}
    ),
    Status.IN_PROGRESS: frozenset({Status.REFERRED, Status.RESOLVED, Status.NEEDS_INFO}),
    Status.REFERRED: frozenset({Status.IN_PROGRESS, Status.RESOLVED}),
    Status.RESOLVED: frozenset({Status.IN_PROGRESS}),
    Status.REJECTED: frozenset({Status.VERIFIED}),
}
# Display order of statuses on forms.
STATUS_ORDER = list(Status)
# These need facts of their own (the outside body, the outcome): own forms, own functions.
DETAILED_STATUSES = frozenset({Status.REFERRED, Status.RESOLVED})
CLOSED_STATUSES = frozenset({Status.RESOLVED, Status.REJECTED})
# Reaching any of these means the report was found to be in the inspectorate's remit,
# even when needs_info -> in_progress skipped "verified": the date feeds the public
# "median days to verification", which would otherwise miss those reports.
VERIFYING_STATUSES = frozenset({Status.VERIFIED, Status.IN_PROGRESS, Status.REFERRED})


class CaseError(DomainError):
    """A refused case action; `message` says why in the current language."""


class IllegalTransition(CaseError):
    """The lifecycle does not allow moving from the current status to the requested one."""

    def __init__(self, current: str, target: str) -> None:
        """Keep both statuses for the message."""
        super().__init__(current, target)
        self.current = current
        self.target = target

    @property
    def message(self) -> str:
        """The translated refusal, naming both statuses."""
        return gettext(
            "A report cannot go from “%(current)s” to “%(target)s”.",
            current=status_label(self.current),
            target=status_label(self.target),
        )


class StaleCase(CaseError):
    """The report's status changed since the page was opened (someone else acted)."""

    text = _l(
        "Someone changed this report's status since you opened it. Check the timeline"
        " below and try again."
    )


class DetailsRequired(CaseError):
    """Referral and resolution need their own facts: use the matching form."""

    text = _l("Use the referral form to refer a report and the outcome form to resolve it.")


class ContentDeleted(CaseError):
    """The report's keys were shredded (retention): its content can no longer be opened."""

    text = _l("This report's content was deleted under the retention rules.")


class NotAssignable(CaseError):
    """The chosen member does not exist, is disabled, or does not handle reports."""

    text = _l("Reports can only be assigned to active admins and investigators.")


class UnknownOriginal(CaseError):
    """The tracking code given as the original does not name a report."""

    text = _l("No report has that tracking code.")


class SelfDuplicate(CaseError):
    """A report cannot be a duplicate of itself."""

    text = _l("A report cannot be a duplicate of itself.")


class DuplicateChain(CaseError):
    """The original is itself marked as a duplicate: link to the report it points to."""

    def __init__(self, original: str) -> None:
        """Keep the tracking code to link to instead."""
        super().__init__(original)
        self.original = original

    @property
    def message(self) -> str:
        """The translated refusal, naming the report to link to instead."""
        return gettext(
            "That report is itself a duplicate of %(code)s: link to that one instead.",
            code=self.original,
        )


class NoteRevealsCode(CaseError):
    """The public note of a duplicate names the original's tracking code."""

    text = _l(
        "Do not put the other report's tracking code in the public note: it would link"
        " two reporters publicly."
    )


class InconsistentOutcome(CaseError):
    """A report found not proven cannot carry a sanction or a refund."""

    text = _l("A report that was not proven cannot have a sanction or a refund.")


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


T = TypeVar("T")


def _atomic(action: Callable[[], T]) -> T:
    """Run `action`, then commit; roll everything back if anything fails."""
    try:
        result = action()
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return result


def _note_aad(report: Report, change_id: int) -> bytes:
    """Associated data binding an internal note to its report and timeline step."""
    return f"report/internal-note/{report.tracking_code}/{change_id}".encode()


def allowed_next(status: str) -> list[Status]:
    """The statuses a report in `status` may move to, in lifecycle order."""
    allowed = TRANSITIONS.get(Status(status), frozenset())
    return [candidate for candidate in STATUS_ORDER if candidate in allowed]


def is_overdue(report: Report, on: date | None = None) -> bool:
    """Whether the current status's deadline has passed."""
    return report.due_on is not None and report.due_on < (on or today())


def find_for_update(code: str) -> Report | None:
    """The report with this canonical tracking code, locked for the rest of the transaction."""
    query = db.select(Report).where(Report.tracking_code == code).with_for_update()
    return db.session.scalars(query).first()


def find_by_typed_code(text: str, prefix: str) -> Report | None:
    """The report whose tracking code is typed (forgivingly) in `text`, if any."""
    try:
        code = parse_tracking_code(text, prefix)
    except InvalidIdentifier:
        return None
    return reports.find(code)


def data_key(report: Report, private_key: crypto.PrivateKey) -> crypto.DataKey:
    """The report's data key; ContentDeleted once its keys were shredded."""
    if report.key_sealed is None:
        raise ContentDeleted()
    return reports.key_from_private_key(report, private_key)


def assignable_staff() -> list[Staff]:
    """Active members who may be assigned reports, by email."""
    query = (
        db.select(Staff)
        .where(Staff.active.is_(True), Staff.role.in_([role.value for role in HANDLER_ROLES]))
        .order_by(Staff.email)
    )
    return list(db.session.scalars(query))


# --- reading -----------------------------------------------------------------------------


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
                crypto.decrypt(key, step.internal_note_ct, _note_aad(report, step.id))
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
        evidence=inbox.evidence_list(report, key) if key is not None else [],
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
        db.session.commit()
    return case


def download_evidence(
    *, report: Report, actor: Staff, private_key: crypto.PrivateKey, attachment_id: int
) -> EvidenceFile | None:
    """One decrypted evidence file of this report (None if not one of its files); audited."""
    key = data_key(report, private_key)
    found = inbox.open_evidence(report, key, attachment_id)
    if found is None:
        return None
    audit.record(
        actor=actor.email,
        action="evidence.downloaded",
        target=report.tracking_code,
        detail=f"attachment={attachment_id}",
    )
    db.session.commit()
    return found


# --- changes -----------------------------------------------------------------------------


def _check_seen(report: Report, seen_status: str | None) -> None:
    """StaleCase if the page the member acted on showed another status."""
    if seen_status and seen_status != report.status:
        raise StaleCase()


def _move(
    report: Report,
    *,
    target: Status,
    actor: Staff,
    private_key: crypto.PrivateKey,
    public_note: str,
    internal_note: str,
) -> StatusChange:
    """Append one status change (no commit); IllegalTransition if the lifecycle forbids it."""
    current = Status(report.status)
    if target not in TRANSITIONS[current]:
        raise IllegalTransition(current, target)
    key = data_key(report, private_key) if internal_note else None
    change = StatusChange(
        report_id=report.id, status=target, public_note=public_note, staff_id=actor.id
    )
    report.history.append(change)
    db.session.flush()  # the step's id is bound into the note's ciphertext
    if key is not None:
        change.internal_note_ct = crypto.encrypt(
            key, crypto.pad(internal_note.encode()), _note_aad(report, change.id)
        )
    day = today()
    report.status = target
    report.status_since = day
    report.due_on = deadlines.due_date(target, day)
    if target in VERIFYING_STATUSES and report.verified_on is None:
        report.verified_on = day
    if target in CLOSED_STATUSES:
        report.closed_on = day
    elif current in CLOSED_STATUSES:
        report.closed_on = None  # reopened
        if current is Status.REJECTED:
            # A reopened report is handled on its own again, not as someone's duplicate.
            report.duplicate_of_id = None
    return change


def _status_detail(old: str, new: str, internal_note: str) -> str:
    """Audit detail for a status change: statuses only, never the notes themselves."""
    return f"from={old} to={new}" + (" internal_note=yes" if internal_note else "")


def change_status(
    *,
    report: Report,
    actor: Staff,
    private_key: crypto.PrivateKey,
    target: Status,
    public_note: str,
    internal_note: str = "",
    seen_status: str | None = None,
) -> None:
    """Move a report along the lifecycle with a public note and an optional internal one."""

    def act() -> None:
        _check_seen(report, seen_status)
        if target in DETAILED_STATUSES:
            raise DetailsRequired()
        old = report.status
        _move(
            report,
            target=target,
            actor=actor,
            private_key=private_key,
            public_note=public_note,
            internal_note=internal_note,
        )
        audit.record(
            actor=actor.email,
            action="report.status_changed",
            target=report.tracking_code,
            detail=_status_detail(old, target, internal_note),
        )

    _atomic(act)


def assign(*, report: Report, actor: Staff, assignee_id: int | None) -> None:
    """Give the report to an active admin or investigator, or to nobody."""

    def act() -> None:
        assignee = None
        if assignee_id is not None:
            assignee = db.session.get(Staff, assignee_id)
            if assignee is None or not assignee.active or assignee.role not in HANDLER_ROLES:
                raise NotAssignable()
        report.assignee_id = assignee.id if assignee else None
        audit.record(
            actor=actor.email,
            action="report.assigned",
            target=report.tracking_code,
            detail=f"assignee={assignee.email if assignee else '-'}",
        )

    _atomic(act)


def set_priority(*, report: Report, actor: Staff, priority: Priority) -> None:
    """Set how urgently the report is handled."""

    def act() -> None:
        old = report.priority
        report.priority = priority
        audit.record(
            actor=actor.email,
            action="report.priority_set",
            target=report.tracking_code,
            detail=f"from={old} to={priority}",
        )

    _atomic(act)


def refer(
    *,
    report: Report,
    actor: Staff,
    private_key: crypto.PrivateKey,
    body: OutsideBody,
    reference: str,
    public_note: str,
    internal_note: str = "",
    seen_status: str | None = None,
) -> None:
    """Refer the report to an outside body under their reference number (status referred)."""

    def act() -> None:
        _check_seen(report, seen_status)
        old = report.status
        _move(
            report,
            target=Status.REFERRED,
            actor=actor,
            private_key=private_key,
            public_note=public_note,
            internal_note=internal_note,
        )
        report.referred_to = body
        report.referral_reference = reference
        audit.record(
            actor=actor.email,
            action="report.referred",
            target=report.tracking_code,
            detail=f"{_status_detail(old, Status.REFERRED, internal_note)} body={body}",
        )

    _atomic(act)


def record_outcome(
    *,
    report: Report,
    actor: Staff,
    private_key: crypto.PrivateKey,
    outcome: Outcome,
    sanction: Sanction,
    refund_rupiah: int | None,
    public_note: str,
    internal_note: str = "",
    seen_status: str | None = None,
) -> None:
    """Record what the examination found and resolve the report."""

    def act() -> None:
        _check_seen(report, seen_status)
        if outcome is Outcome.NOT_PROVEN and (sanction is not Sanction.NONE or refund_rupiah):
            raise InconsistentOutcome()
        old = report.status
        _move(
            report,
            target=Status.RESOLVED,
            actor=actor,
            private_key=private_key,
            public_note=public_note,
            internal_note=internal_note,
        )
        report.outcome = outcome
        report.sanction = sanction
        report.refund_rupiah = refund_rupiah or None
        audit.record(
            actor=actor.email,
            action="report.outcome_recorded",
            target=report.tracking_code,
            detail=(
                f"{_status_detail(old, Status.RESOLVED, internal_note)} outcome={outcome}"
                f" sanction={sanction} refund={refund_rupiah or 0}"
            ),
        )

    _atomic(act)


def mark_duplicate(
    *,
    report: Report,
    actor: Staff,
    private_key: crypto.PrivateKey,
    original_code: str,
    prefix: str,
    public_note: str,
    internal_note: str = "",
    seen_status: str | None = None,
) -> None:
    """Link the report as a duplicate of another and reject it (handled under the other).

    The public note must not name the other tracking code. Both codes are public and
    shareable, so printing one on the other's status page would tell each reporter (and
    anyone they or the media showed their code to) that a second person reported the
    same incident, and where to follow it. In a small office that is enough to guess
    who the second reporter is. The link is therefore kept for staff only.
    """

    def act() -> None:
        _check_seen(report, seen_status)
        original = find_by_typed_code(original_code, prefix)
        if original is None:
            raise UnknownOriginal()
        if original.id == report.id:
            raise SelfDuplicate()
        if original.duplicate_of_id is not None:
            pointed = db.session.get(Report, original.duplicate_of_id)
            raise DuplicateChain(pointed.tracking_code if pointed else original.tracking_code)
        if _names_code(public_note, TrackingCode(original.tracking_code)):
            raise NoteRevealsCode()
        old = report.status
        _move(
            report,
            target=Status.REJECTED,
            actor=actor,
            private_key=private_key,
            public_note=public_note,
            internal_note=internal_note,
        )
        report.duplicate_of_id = original.id
        audit.record(
            actor=actor.email,
            action="report.duplicate_linked",
            target=report.tracking_code,
            detail=(
                f"{_status_detail(old, Status.REJECTED, internal_note)}"
                f" original={original.tracking_code}"
            ),
        )

    _atomic(act)


def _names_code(text: str, code: TrackingCode) -> bool:
    """Whether `text` contains the code's random part, however it is spaced or dashed."""
    squeezed = "".join(ch for ch in text.upper() if ch.isalnum())
    return "".join(code.split("-")[1:]) in squeezed


def reply(*, report: Report, actor: Staff, private_key: crypto.PrivateKey, body: str) -> None:
    """Send a message to the reporter's inbox, encrypted with the report's data key."""
    try:
        key = data_key(report, private_key)
        audit.record(actor=actor.email, action="message.sent", target=report.tracking_code)
        # post_message commits, taking the audit entry with it in one transaction.
        inbox.post_message(
            report=report, data_key=key, author=Side.INSPECTORATE, body=body, staff_id=actor.id
        )
    except Exception:
        db.session.rollback()
        raise


def file_for_reporter(
    *,
    actor: Staff,
    channel: Channel,
    category: str,
    service: str,
    unit: str,
    content: reports.ReportContent,
    contact: str,
    files: Sequence[CleanFile],
    submission: str = "",
) -> reports.FiledReport:
    """File a report on behalf of a walk-in, phone, SMS or WhatsApp reporter; audited.

    The audit entry says who filed one and by which channel, never which report: the
    tracking code beside the time of a visit would name the visitor to anyone with the
    office's CCTV or visitor book. `submission` is the form's one-time mark (double submit).
    """

    def audited(report: Report) -> None:
        if submission:
            sessions.use_submission(submission)
        audit.record(
            actor=actor.email,
            action="report.filed_by_operator",
            target="",
            detail=f"channel={channel}",
        )

    return reports.file_report(
        category=category,
        service=service,
        unit=unit,
        content=content,
        contact=contact,
        channel=channel,
        files=files,
        on_filed=audited,
    )
