"""Operator mode: staff file a report for a walk-in, phone, SMS or WhatsApp reporter.

The receipt is shown on the response to the filing POST only (pages are no-store),
for the member to hand over; it is never stored, logged or audited.
"""

from __future__ import annotations

import secrets

from flask import abort, render_template, request
from flask.typing import ResponseReturnValue
from sqlalchemy.exc import IntegrityError

from portal.evidence import EvidenceRejected
from portal.inspectorate import bp
from portal.inspectorate.access import signed_in_staff, staff_required
from portal.inspectorate.forms import OperatorReportForm
from portal.labels import CHANNEL_LABELS
from portal.models import HANDLER_ROLES, Channel
from portal.services import cases, inbox, sessions
from portal.services.reports import NotInitialised, UnknownCatalogCode
from portal.uploads import evidence_uploads


def _form_page(
    form: OperatorReportForm, upload_error: str | None = None, status: int = 200
) -> ResponseReturnValue:
    """The operator form, with a fresh submission mark when none is carried."""
    if not form.submission.data:
        form.submission.data = secrets.token_urlsafe(16)
    return (
        render_template("inspectorate/operator.html", form=form, upload_error=upload_error),
        status,
    )


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
    try:
        files = inbox.read_uploads(evidence_uploads(form.evidence.name))
        filed = cases.file_for_reporter(
            actor=signed_in_staff().member,
            channel=Channel(form.channel.data),
            category=form.category.data or "",
            service=form.service.data or "",
            unit=form.unit.data or "",
            content=form.content(),
            contact=(form.contact.data or "").strip(),
            files=files,
            submission=submission,
        )
    except IntegrityError:  # the same form sent twice at once: the other one won
        return render_template("inspectorate/operator_sent.html"), 409
    except EvidenceRejected as error:
        return _form_page(form, upload_error=str(error.message), status=400)
    except inbox.TooManyFiles as error:
        return _form_page(form, upload_error=error.message, status=400)
    except UnknownCatalogCode:  # a choice deactivated between page and POST
        return _form_page(form, status=400)
    except NotInitialised:
        abort(503)
    return (
        render_template(
            "inspectorate/operator_receipt.html",
            filed=filed,
            channel=form.channel.data,
            channel_label=CHANNEL_LABELS[Channel(form.channel.data)],
        ),
        201,
    )
