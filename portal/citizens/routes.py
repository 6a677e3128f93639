"""Views of the citizen journey: form -> review -> one-time receipt. No JavaScript needed."""

from __future__ import annotations

import secrets

from flask import abort, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError

from portal import pages
from portal.citizens import bp
from portal.citizens.forms import ReportForm
from portal.crypto import DerivationBusy
from portal.evidence import EvidenceRejected
from portal.extensions import limiter
from portal.i18n import current_locale, today_iso
from portal.models import Category, Service, Unit
from portal.security import submit_limit
from portal.services import catalog, inbox, sessions
from portal.services.reports import NotInitialised, file_report, round_amount
from portal.uploads import evidence_uploads


def _public_facts(form: ReportForm) -> dict[str, object]:
    """The facts that become public statistics, as the reporter will see them."""
    return {
        "category": catalog.find_active(Category, form.category.data or ""),
        "service": catalog.find_active(Service, form.service.data or ""),
        "unit": catalog.find_active(Unit, form.unit.data or ""),
        "incident_month": form.incident_date.data,
        "amount": round_amount(form.amount_demanded.amount),
    }


@bp.get("/lapor")
def report_form() -> ResponseReturnValue:
    """Empty report form; `?layanan=` and `?unit=` pre-select a service or place."""
    service = request.args.get("layanan", "")
    unit = request.args.get("unit", "")
    service = service if catalog.find_active(Service, service) else ""
    unit = unit if catalog.find_active(Unit, unit) else ""

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
    # (HEAD renders the language link differently: base.html.)
    key = ("report_form", catalog.version(), today_iso(), current_locale(), request.path)
    return pages.cached((*key, request.method, service, unit), render)


@bp.post("/lapor")
def review() -> ResponseReturnValue:
    """Validate and show the review step, or return to the form (to fix or to edit)."""
    form = ReportForm()
    if request.form.get("action") == "edit":
        form.validate()  # fills parsed values; errors are not shown when editing
        for field in form:
            field.errors = []
        return render_template("citizens/report_form.html", form=form)
    if not form.validate():
        return render_template("citizens/report_form.html", form=form), 400
    form.submission.data = secrets.token_urlsafe(16)
    return _review_page(form)


def _review_page(form: ReportForm, upload_error: str | None = None) -> tuple[str, int]:
    """The review step; with an upload error when the chosen files were refused."""
    page = render_template(
        "citizens/review.html",
        form=form,
        facts=_public_facts(form),
        hints=form.hints(),
        upload_error=upload_error,
    )
    return page, 400 if upload_error else 200


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
        files = inbox.read_uploads(evidence_uploads())
        filed = file_report(
            category=form.category.data or "",
            service=form.service.data or "",
            unit=form.unit.data or "",
            content=form.content(),
            contact=(form.contact.data or "").strip(),
            files=files,
            on_filed=(lambda _report: sessions.use_submission(submission)) if submission else None,
        )
    except IntegrityError:  # the same review step sent twice at once: the other one won
        return render_template("citizens/already_sent.html"), 409
    except EvidenceRejected as error:
        return _review_page(form, upload_error=str(error.message))
    except inbox.TooManyFiles as error:
        return _review_page(form, upload_error=error.message)
    except DerivationBusy as busy:
        # The review page again, with everything typed kept, rather than a bare error page.
        message = _(
            "The portal is busy and your report was not sent yet. Send it again in a moment."
        )
        page = _review_page(form, upload_error=message)[0]
        return page, 503, {"Retry-After": str(busy.retry_after)}
    except NotInitialised:
        abort(503)
    return render_template("citizens/receipt.html", filed=filed), 201
