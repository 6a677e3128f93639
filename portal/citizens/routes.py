"""Views of the citizen journey: form -> review -> one-time receipt. No JavaScript needed."""

from __future__ import annotations

import secrets

from flask import abort, render_template, request
from flask.typing import ResponseReturnValue
from sqlalchemy.exc import IntegrityError

from portal import pages
from portal.citizens import bp
from portal.citizens.forms import ReportForm
from portal.extensions import limiter
from portal.i18n import current_locale, today_iso
from portal.models import Category, Service, Unit
from portal.security import submit_limit
from portal.services import catalog, evidence_store, intake, reports, sessions
from portal.transaction import atomic
from portal.uploads import evidence_uploads


def _public_facts(form: ReportForm) -> dict[str, object]:
    """The facts that become public statistics, as the reporter will see them."""
    report = form.checked()
    return {
        "category": catalog.find_active(Category, report.category),
        "service": catalog.find_active(Service, report.service),
        "unit": catalog.find_active(Unit, report.unit),
        "incident_month": report.content.incident_date,
        "amount": reports.round_amount(report.content.amount_demanded),
    }


@bp.get("/lapor")
def report_form() -> ResponseReturnValue:
    """Empty report form; `?layanan=` and `?tempat=` pre-select a service or place.

    `?unit=` is read too: the QR codes of posters printed before it was renamed carry it.
    """
    service = request.args.get("layanan", "")
    unit = request.args.get("tempat", request.args.get("unit", ""))
    service = service if catalog.is_active(Service, service) else ""
    unit = unit if catalog.is_active(Unit, unit) else ""

    def render() -> str:
        form = ReportForm()
        if service:
            form.service.data = service
        if unit:
            form.unit.data = unit
        return render_template("citizens/report_form.html", form=form)

    # The same for everyone in a language but the CSRF token: rendered once per catalogue
    # version (an admin's edit shows at once), day (the date field's max) and
    # pre-selection; the token is put in per visit.
    key = ("report_form", catalog.version(), today_iso(), current_locale(), request.path)
    return pages.cached((*key, request.method, service, unit), render)


@bp.post("/lapor")
def review() -> ResponseReturnValue:
    """Validate and show the review step, or return to the form (to fix or to edit)."""
    form = ReportForm()
    if request.form.get("action") == "edit":
        for field in form:
            field.errors = []
        return render_template("citizens/report_form.html", form=form)
    if not form.validate():
        return render_template("citizens/report_form.html", form=form), 400
    form.submission.data = secrets.token_urlsafe(16)
    return _review_page(form)


def _review_page(
    form: ReportForm, upload_error: str | None = None, status: int = 200
) -> tuple[str, int]:
    """The review step; with an upload error when the chosen files were refused."""
    page = render_template(
        "citizens/review.html",
        form=form,
        facts=_public_facts(form),
        hints=form.hints(),
        upload_error=upload_error,
    )
    return page, status


def _refused(form: ReportForm, refused: intake.Refusal) -> ResponseReturnValue:
    """The page for a refused filing: the form with its messages, or the review step again."""
    if refused.code == "invalid_report":
        form.show(refused.fields)
        return render_template("citizens/report_form.html", form=form), refused.status
    if refused.status == 503 and refused.code != "busy":  # not set up, or the key not pinned
        abort(503)  # the plain "not available" page: the details are for the log and the API
    # Files refused or the portal busy: the review page again, with everything typed kept.
    page, status = _review_page(form, upload_error=refused.message, status=refused.status)
    if refused.retry_after is not None:
        return page, status, {"Retry-After": str(refused.retry_after)}
    return page, status


@bp.post("/lapor/kirim")
@limiter.shared_limit(submit_limit, scope="report-submit")
def send() -> ResponseReturnValue:
    """File the reviewed report and show the receipt once, on this response only."""
    form = ReportForm()
    if not form.validate():
        return render_template("citizens/report_form.html", form=form), 400
    # The guard lives on the server (a keyed hash of the review step's mark): the browser
    # leaves the receipt page with no cookie changed and nothing saying it filed.
    submission = form.submission.data or ""
    if submission and sessions.submission_used(submission):
        return render_template("citizens/already_sent.html"), 409
    try:
        files = evidence_store.read_uploads(evidence_uploads())
        report = intake.with_evidence(form.checked(), files)
        receipt = reports.new_receipt_key()  # slow: before the write transaction opens
        with atomic():
            filed = reports.file_report(report, receipt)
            if submission:
                sessions.use_submission(submission)
    except IntegrityError:  # the same review step sent twice at once: the other one won
        return render_template("citizens/already_sent.html"), 409
    except intake.REFUSED as error:
        return _refused(form, intake.refusal(error))
    return render_template("citizens/receipt.html", filed=filed), 201
