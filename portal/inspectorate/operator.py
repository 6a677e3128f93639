"""Operator mode: staff file a report for a walk-in, phone, SMS or WhatsApp reporter.

The receipt is shown on the response to the filing POST only (pages are no-store),
for the member to hand over; it is never stored, logged or audited. The audit log learns
only how many reports each member filed per day and channel (services/operator_filings.py).
"""

from __future__ import annotations

import secrets

from flask import abort, render_template, request
from flask.typing import ResponseReturnValue
from sqlalchemy.exc import IntegrityError

from portal.inspectorate import bp
from portal.inspectorate.access import signed_in_staff, staff_required
from portal.inspectorate.forms import OperatorReportForm
from portal.labels import CHANNEL_LABELS
from portal.models import HANDLER_ROLES
from portal.services import evidence_store, intake, operator_filings, reports, sessions
from portal.transaction import atomic
from portal.uploads import evidence_uploads


def _form_page(
    form: OperatorReportForm, upload_error: str | None = None, status: int = 200
) -> tuple[str, int]:
    """The operator form, with a fresh submission mark when none is carried."""
    if not form.submission.data:
        form.submission.data = secrets.token_urlsafe(16)
    return (
        render_template("inspectorate/operator.html", form=form, upload_error=upload_error),
        status,
    )


def _refused(form: OperatorReportForm, refused: intake.Refusal) -> ResponseReturnValue:
    """The form again with the refusal's messages (answers, or the evidence files)."""
    if refused.code == "invalid_report":
        form.show(refused.fields)
        return _form_page(form, status=refused.status)
    if refused.status == 503 and refused.code != "busy":  # not set up, or the key not pinned
        abort(503)  # the plain "not available" page: the details are for the log and the API
    page, status = _form_page(form, upload_error=refused.message, status=refused.status)
    if refused.retry_after is not None:
        return page, status, {"Retry-After": str(refused.retry_after)}
    return page, status


@bp.route("/operator", methods=["GET", "POST"])
@staff_required(*HANDLER_ROLES)
def operator_form() -> ResponseReturnValue:
    """The report form for a reporter's behalf; POST files it and shows the receipt once."""
    if request.method == "GET":
        return _form_page(OperatorReportForm(formdata=None))
    form = OperatorReportForm()
    if not form.validate():
        return _form_page(form, status=400)
    submission = form.submission.data or ""
    # Server-side guard: the operator's cookie does not change with a filing either.
    if submission and sessions.submission_used(submission):
        return render_template("inspectorate/operator_sent.html"), 409
    member = signed_in_staff().member
    try:
        files = evidence_store.read_uploads(evidence_uploads(form.evidence.name))
        report = intake.with_evidence(form.checked(), files)
        receipt = reports.new_receipt_key()  # slow: before the write transaction opens
        with atomic():
            filed = reports.file_report(report, receipt)
            if submission:
                sessions.use_submission(submission)
            # Counted, not audited one by one: see services/operator_filings.py.
            operator_filings.count_filing(actor=member, channel=report.channel)
    except IntegrityError:  # the same form sent twice at once: the other one won
        return render_template("inspectorate/operator_sent.html"), 409
    except intake.REFUSED as error:
        return _refused(form, intake.refusal(error))
    return (
        render_template(
            "inspectorate/operator_receipt.html",
            filed=filed,
            channel=report.channel,
            channel_label=CHANNEL_LABELS[report.channel],
        ),
        201,
    )
