"""The report lifecycle: which status may follow which, and the one path every move takes.

A move checks that the member acted on the status the report still has (StaleCase), that
the lifecycle allows it (IllegalTransition), appends the timeline step with its notes,
updates the report's dates and audits it, all through `_transition`. The four moves
differ only in what they check first and what they record beside the status. They flush;
the caller's `atomic()` block commits (or rolls back a refused move).
"""

from __future__ import annotations

from flask_babel import gettext
from flask_babel import lazy_gettext as _l

from portal import crypto, deadlines
from portal.extensions import db
from portal.identifiers import TrackingCode
from portal.labels import status_label
from portal.models import Outcome, OutsideBody, Report, Sanction, Staff, Status, StatusChange
from portal.models.base import today
from portal.services import audit
from portal.services.cases.base import CaseError, data_key, find_by_typed_code, note_aad

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


def allowed_next(status: str) -> list[Status]:
    """The statuses a report in `status` may move to, in lifecycle order."""
    allowed = TRANSITIONS.get(Status(status), frozenset())
    return [candidate for candidate in STATUS_ORDER if candidate in allowed]


def _transition(
    report: Report,
    *,
    target: Status,
    actor: Staff,
    private_key: crypto.PrivateKey,
    public_note: str,
    internal_note: str,
    seen_status: str | None,
    action: str,
    detail: str = "",
) -> StatusChange:
    """The one path of every status change: check, append the step, update dates, audit.

    StaleCase if the page the member acted on showed another status; IllegalTransition
    if the lifecycle forbids the move. The audit detail names both statuses and whether
    an internal note was added (never the notes themselves), then `detail`.
    """
    if seen_status and seen_status != report.status:
        raise StaleCase()
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
            key, crypto.pad(internal_note.encode()), note_aad(report, change.id)
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
    moved = f"from={current} to={target}" + (" internal_note=yes" if internal_note else "")
    audit.record(
        actor=actor.email,
        action=action,
        target=report.tracking_code,
        detail=f"{moved} {detail}" if detail else moved,
    )
    return change


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
    if target in DETAILED_STATUSES:
        raise DetailsRequired()
    _transition(
        report,
        target=target,
        actor=actor,
        private_key=private_key,
        public_note=public_note,
        internal_note=internal_note,
        seen_status=seen_status,
        action="report.status_changed",
    )


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
    _transition(
        report,
        target=Status.REFERRED,
        actor=actor,
        private_key=private_key,
        public_note=public_note,
        internal_note=internal_note,
        seen_status=seen_status,
        action="report.referred",
        detail=f"body={body}",
    )
    report.referred_to = body
    report.referral_reference = reference


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
    if outcome is Outcome.NOT_PROVEN and (sanction is not Sanction.NONE or refund_rupiah):
        raise InconsistentOutcome()
    _transition(
        report,
        target=Status.RESOLVED,
        actor=actor,
        private_key=private_key,
        public_note=public_note,
        internal_note=internal_note,
        seen_status=seen_status,
        action="report.outcome_recorded",
        detail=f"outcome={outcome} sanction={sanction} refund={refund_rupiah or 0}",
    )
    report.outcome = outcome
    report.sanction = sanction
    report.refund_rupiah = refund_rupiah or None


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
    _transition(
        report,
        target=Status.REJECTED,
        actor=actor,
        private_key=private_key,
        public_note=public_note,
        internal_note=internal_note,
        seen_status=seen_status,
        action="report.duplicate_linked",
        detail=f"original={original.tracking_code}",
    )
    report.duplicate_of_id = original.id


def _names_code(text: str, code: TrackingCode) -> bool:
    """Whether `text` contains the code's random part, however it is spaced or dashed."""
    squeezed = "".join(ch for ch in text.upper() if ch.isalnum())
    return "".join(code.split("-")[1:]) in squeezed
