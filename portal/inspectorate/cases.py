"""The case view: one report decrypted for staff, its evidence, conversation and actions.

Every action is its own small POST form (CSRF), handled by one function of
services/cases/ in one `atomic()` block, and answered with 303 back to the case; a
refusal rolls the block back and re-renders the case with the reason.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import abort, current_app, redirect, render_template, url_for
from flask.typing import ResponseReturnValue

from portal.citizens.forms import WHO_ASKED
from portal.downloads import attachment_response
from portal.forms import PortalForm
from portal.identifiers import InvalidIdentifier, parse_tracking_code
from portal.inspectorate import bp
from portal.inspectorate.access import StaffContext, signed_in_staff, staff_required
from portal.inspectorate.forms import (
    AssignForm,
    CaseMessageForm,
    ConfirmForm,
    DuplicateForm,
    OutcomeForm,
    PriorityForm,
    ReferForm,
    StatusForm,
)
from portal.models import HANDLER_ROLES, Outcome, Priority, Report, Status
from portal.services import cases, reports
from portal.transaction import atomic

# A lifecycle conflict (the report is not in a state that allows the action) is a 409;
# anything else refused by the service is bad input, a 400.
CONFLICTS = (cases.IllegalTransition, cases.StaleCase, cases.ContentDeleted)
WHO_ASKED_LABELS = {choice.value: choice.label for choice in WHO_ASKED}


def _report_or_404(code: str, *, lock: bool = False) -> Report:
    """The report named by `code` (typed forgivingly), or 404."""
    try:
        canonical = parse_tracking_code(code, current_app.config["CITY_PREFIX"])
    except InvalidIdentifier:
        abort(404)
    report = cases.find_for_update(canonical) if lock else reports.find(canonical)
    if report is None:
        abort(404)
    return report


def _back(report: Report, anchor: str = "") -> ResponseReturnValue:
    """303 to the case page after a successful action."""
    return redirect(url_for("inspectorate.case", code=report.tracking_code) + anchor, 303)


def _forms(report: Report, posted: PortalForm | None) -> dict[str, Any]:
    """Every action form of the page: the posted one as sent, the others empty."""
    members = cases.assignable_staff()
    forms: dict[str, Any] = {
        "assign": AssignForm(formdata=None, prefix="assign", members=members),
        "priority": PriorityForm(formdata=None, prefix="priority"),
        "status": StatusForm(formdata=None, prefix="status", current=report.status),
        "refer": ReferForm(formdata=None, prefix="refer"),
        "outcome": OutcomeForm(formdata=None, prefix="outcome"),
        "duplicate": DuplicateForm(formdata=None, prefix="duplicate"),
        "reply": CaseMessageForm(formdata=None, prefix="reply"),
        "contact": ConfirmForm(formdata=None, prefix="contact"),
    }
    forms["assign"].assignee.data = str(report.assignee_id or "")
    forms["priority"].priority.data = report.priority
    if report.outcome:
        forms["outcome"].outcome.data = report.outcome
        forms["outcome"].sanction.data = report.sanction or "none"
    if posted is not None:
        for name, form in forms.items():
            if type(form) is type(posted):
                forms[name] = posted
    for form in forms.values():
        if hasattr(form, "seen_status"):
            form.seen_status.data = report.status
    return forms


def _case_page(
    report: Report,
    *,
    posted: PortalForm | None = None,
    problem: str | None = None,
    show_contact: bool = False,
    status: int = 200,
) -> ResponseReturnValue:
    """Render the case; decrypting it is audited by the service."""
    staff = signed_in_staff()
    with atomic():
        case = cases.open_case(
            report=report,
            actor=staff.member,
            private_key=staff.private_key,
            show_contact=show_contact,
        )
    allowed = set(cases.allowed_next(report.status))
    return (
        render_template(
            "inspectorate/case.html",
            case=case,
            report=report,
            forms=_forms(report, posted),
            problem=problem,
            who_asked=WHO_ASKED_LABELS,
            can_refer=Status.REFERRED in allowed,
            can_resolve=Status.RESOLVED in allowed,
            can_reject=Status.REJECTED in allowed,
        ),
        status,
    )


def _refused(report: Report, form: PortalForm, error: cases.CaseError) -> ResponseReturnValue:
    """Re-render the case with the service's reason; nothing was changed."""
    status = 409 if isinstance(error, CONFLICTS) else 400
    return _case_page(report, posted=form, problem=error.message, status=status)


def _act(
    report: Report,
    form: PortalForm,
    action: Callable[[StaffContext], None],
    anchor: str,
) -> ResponseReturnValue:
    """Validate `form`, run `action` as the signed-in member in one block, 303; else say why."""
    if not form.validate():
        return _case_page(report, posted=form, status=400)
    try:
        with atomic():
            action(signed_in_staff())
    except cases.CaseError as error:
        return _refused(report, form, error)
    return _back(report, anchor)


@bp.get("/reports/<code>")
@staff_required(*HANDLER_ROLES)
def case(code: str) -> ResponseReturnValue:
    """One report, decrypted: facts, timeline, content, evidence, conversation, actions."""
    report = _report_or_404(code)
    if report.tracking_code != code:
        return redirect(url_for("inspectorate.case", code=report.tracking_code), 302)
    return _case_page(report)


@bp.post("/reports/<code>/contact")
@staff_required(*HANDLER_ROLES)
def case_contact(code: str) -> ResponseReturnValue:
    """Show the reporter's contact details: an explicit, audited step."""
    report = _report_or_404(code)
    form = ConfirmForm(prefix="contact")
    if not form.validate():
        return _case_page(report, status=400)
    return _case_page(report, show_contact=True)


@bp.get("/reports/<code>/evidence/<id:attachment_id>")
@staff_required(*HANDLER_ROLES)
def case_evidence(code: str, attachment_id: int) -> ResponseReturnValue:
    """Download one evidence file of this report (audited); another report's file is 404."""
    report = _report_or_404(code)
    staff = signed_in_staff()
    try:
        with atomic():
            found = cases.download_evidence(
                report=report,
                actor=staff.member,
                private_key=staff.private_key,
                attachment_id=attachment_id,
            )
    except cases.ContentDeleted:
        abort(404)
    if found is None:
        abort(404)
    return attachment_response(found.name, found.content_type, found.data)


@bp.post("/reports/<code>/messages")
@staff_required(*HANDLER_ROLES)
def case_reply(code: str) -> ResponseReturnValue:
    """Send a message to the reporter's inbox."""
    report = _report_or_404(code, lock=True)
    form = CaseMessageForm(prefix="reply")

    def send(staff: StaffContext) -> None:
        """Encrypt and post the message."""
        cases.reply(
            report=report,
            actor=staff.member,
            private_key=staff.private_key,
            body=form.body.data or "",
        )

    return _act(report, form, send, "#messages")


@bp.post("/reports/<code>/assignment")
@staff_required(*HANDLER_ROLES)
def case_assign(code: str) -> ResponseReturnValue:
    """Assign the report to a member, or to nobody."""
    report = _report_or_404(code, lock=True)
    form = AssignForm(prefix="assign", members=cases.assignable_staff())

    def assign(staff: StaffContext) -> None:
        """Give the report to the chosen member (blank: nobody)."""
        chosen = form.assignee.data or ""
        cases.assign(report=report, actor=staff.member, assignee_id=int(chosen) if chosen else None)

    return _act(report, form, assign, "#handling")


@bp.post("/reports/<code>/priority")
@staff_required(*HANDLER_ROLES)
def case_priority(code: str) -> ResponseReturnValue:
    """Set the report's priority."""
    report = _report_or_404(code, lock=True)
    form = PriorityForm(prefix="priority")

    def prioritise(staff: StaffContext) -> None:
        """Set the chosen priority."""
        cases.set_priority(report=report, actor=staff.member, priority=Priority(form.priority.data))

    return _act(report, form, prioritise, "#handling")


@bp.post("/reports/<code>/status")
@staff_required(*HANDLER_ROLES)
def case_status(code: str) -> ResponseReturnValue:
    """Move the report along the lifecycle with a public note (and an internal one)."""
    report = _report_or_404(code, lock=True)
    form = StatusForm(prefix="status", current=report.status)

    def move(staff: StaffContext) -> None:
        """Change the status with the notes."""
        cases.change_status(
            report=report,
            actor=staff.member,
            private_key=staff.private_key,
            target=Status(form.status.data),
            **form.notes(),
        )

    return _act(report, form, move, "#status")


@bp.post("/reports/<code>/referral")
@staff_required(*HANDLER_ROLES)
def case_refer(code: str) -> ResponseReturnValue:
    """Refer the report to an outside body under their reference number."""
    report = _report_or_404(code, lock=True)
    form = ReferForm(prefix="refer")

    def refer(staff: StaffContext) -> None:
        """Record the referral and move the report to referred."""
        cases.refer(
            report=report,
            actor=staff.member,
            private_key=staff.private_key,
            body=cases.OutsideBody(form.body.data),
            reference=form.reference.data or "",
            **form.notes(),
        )

    return _act(report, form, refer, "#status")


@bp.post("/reports/<code>/outcome")
@staff_required(*HANDLER_ROLES)
def case_outcome(code: str) -> ResponseReturnValue:
    """Record the outcome (finding, sanction, refund) and resolve the report."""
    report = _report_or_404(code, lock=True)
    form = OutcomeForm(prefix="outcome")

    def resolve(staff: StaffContext) -> None:
        """Record the outcome and move the report to resolved."""
        cases.record_outcome(
            report=report,
            actor=staff.member,
            private_key=staff.private_key,
            outcome=Outcome(form.outcome.data),
            sanction=cases.Sanction(form.sanction.data),
            refund_rupiah=form.refund.data,
            **form.notes(),
        )

    return _act(report, form, resolve, "#status")


@bp.post("/reports/<code>/duplicate")
@staff_required(*HANDLER_ROLES)
def case_duplicate(code: str) -> ResponseReturnValue:
    """Link the report as a duplicate of another; it is rejected, handled under the other."""
    report = _report_or_404(code, lock=True)
    form = DuplicateForm(prefix="duplicate")

    def link(staff: StaffContext) -> None:
        """Link the report to the original and reject it."""
        cases.mark_duplicate(
            report=report,
            actor=staff.member,
            private_key=staff.private_key,
            original_code=form.original.data or "",
            prefix=current_app.config["CITY_PREFIX"],
            **form.notes(),
        )

    return _act(report, form, link, "#status")
