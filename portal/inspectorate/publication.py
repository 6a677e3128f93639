"""Staff pages for publications: write a redacted summary, approve another's, withdraw.

Handlers only (admins and investigators). These pages decrypt nothing: they show the
report's public facts and the summary, which is written to be public.
"""

from __future__ import annotations

from typing import Any

from flask import abort, current_app, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import HiddenField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Optional, ValidationError

from portal.forms import PortalForm, has_invisible, max_length
from portal.identifiers import InvalidIdentifier, parse_tracking_code
from portal.inspectorate import bp
from portal.inspectorate.access import signed_in_staff, staff_required
from portal.labels import (
    WITHDRAWAL_LABELS,
)
from portal.models import (
    HANDLER_ROLES,
    Publication,
    PublicationState,
    Report,
    WithdrawalReason,
)
from portal.models.publication import SUMMARY_MAX, TITLE_MAX, WITHDRAWAL_NOTE_MAX
from portal.services import four_eyes, publication, reports
from portal.services.reports import round_amount
from portal.transaction import atomic

# Outcomes named in the redirect after a change (POST, then GET: a reload sends nothing).
DONE_MESSAGES = {
    "saved": lambda: _("The summary was saved. It is not public until another member approves it."),
    "unchanged": lambda: _("Nothing was changed."),
    "approved": lambda: _("The summary is approved and public."),
    "withdrawn": lambda: _("The summary was withdrawn and is no longer public."),
}
# Published and withdrawn summaries listed on the overview; older ones open by code.
OVERVIEW_LIMIT = 100


def _text_block(value: Any) -> Any:
    """Browsers send CRLF line ends: keep LF, and trim, so a re-sent text compares equal."""
    if not isinstance(value, str):
        return value
    return value.replace("\r\n", "\n").replace("\r", "\n").strip()


def _one_line(value: Any) -> Any:
    """Headlines are one line: collapse any whitespace run to one space."""
    return " ".join(value.split()) if isinstance(value, str) else value


def _printable(form: PortalForm, field: Any) -> None:
    """Refuse control characters: they are invisible on the page and invalid in the feed."""
    text = field.data or ""
    if has_invisible(text):
        raise ValidationError(_l("Remove the invisible control characters."))


class SummaryForm(PortalForm):
    """The public title and text of a resolved report."""

    class Meta(PortalForm.Meta):
        """Invisible characters are refused with a message (_printable), not removed."""

        clean_text = False

    title = StringField(
        _l("Public title"),
        filters=[_one_line],
        validators=[
            DataRequired(_l("Write a title.")),
            max_length(TITLE_MAX),
            _printable,
        ],
    )
    summary = TextAreaField(
        _l("Public summary"),
        filters=[_text_block],
        validators=[
            DataRequired(_l("Write the summary.")),
            max_length(SUMMARY_MAX),
            _printable,
        ],
    )


class ApproveForm(PortalForm):
    """Approve exactly the revision the page showed."""

    revision = HiddenField(validators=[DataRequired()])


class WithdrawForm(PortalForm):
    """Take a published summary down, with a reason."""

    reason = SelectField(
        _l("Reason"),
        choices=[SelectChoice(key.value, label) for key, label in WITHDRAWAL_LABELS.items()],
    )
    note = TextAreaField(
        _l("Note for staff"),
        filters=[_text_block],
        validators=[Optional(), max_length(WITHDRAWAL_NOTE_MAX)],
    )


def _report_or_404(code: str) -> Report:
    """The report with this tracking code (however it is typed), or 404."""
    try:
        canonical = parse_tracking_code(code, current_app.config["CITY_PREFIX"])
    except InvalidIdentifier:
        abort(404)
    found = reports.find(canonical)
    if found is None:
        abort(404)
    return found


def _page_number() -> int:
    """The `page` query argument, 1 when absent; 404 when it is not a page number."""
    page = request.args.get("page", "1")
    if not page.isdigit() or not 1 <= int(page) <= 1_000_000:
        abort(404)
    return int(page)


@bp.get("/publications")
@staff_required(*HANDLER_ROLES)
def publication_index() -> ResponseReturnValue:
    """Summaries awaiting approval, resolved reports without one, published and withdrawn."""
    error = None
    code = request.args.get("code", "").strip()
    if code:
        try:
            canonical = parse_tracking_code(code, current_app.config["CITY_PREFIX"])
        except InvalidIdentifier:
            canonical = None
        if canonical is not None and reports.find(canonical) is not None:
            return redirect(url_for("inspectorate.publication_page", code=canonical), 303)
        error = _("No report has that tracking code.")
    page = _page_number()
    per_page = current_app.config["PUBLICATION_CANDIDATES_PAGE_SIZE"]
    todo, more = publication.candidates(page=page, per_page=per_page)
    return (
        render_template(
            "inspectorate/publication.html",
            current=signed_in_staff(),
            awaiting=publication.awaiting_approval(),
            todo=todo,
            page=page,
            more=more,
            published=publication.in_state(PublicationState.PUBLISHED, limit=OVERVIEW_LIMIT),
            withdrawn=publication.in_state(PublicationState.WITHDRAWN, limit=OVERVIEW_LIMIT),
            overview_limit=OVERVIEW_LIMIT,
            is_public=publication.is_public,
            code=code,
            error=error,
            four_eyes_enforceable=four_eyes.enforceable(),
        ),
        404 if error else 200,
    )


def _publication_page(
    report: Report,
    *,
    form: SummaryForm | None = None,
    withdraw_form: WithdrawForm | None = None,
    error: str | None = None,
    status: int = 200,
) -> ResponseReturnValue:
    """The page of one report's publication: facts, text, approval, withdrawal."""
    found: Publication | None = publication.for_report(report)
    if form is None:
        data = {"title": found.title, "summary": found.summary} if found else {}
        form = SummaryForm(formdata=None, data=data)
    done = DONE_MESSAGES.get(request.args.get("done", ""))
    public_view = publication.find_public(found.public_id) if found is not None else None
    # The report page belongs to the case-handling views; link to it where it exists.
    has_report_page = "inspectorate.case" in current_app.view_functions
    viewer = signed_in_staff().member
    may_approve = (
        found is not None
        and found.author is not None
        and (four_eyes.can_approve(author=found.author, approver=viewer))
    )
    report_url = (
        url_for("inspectorate.case", code=report.tracking_code) if has_report_page else None
    )
    return (
        render_template(
            "inspectorate/publication_page.html",
            current=signed_in_staff(),
            report=report,
            publication=found,
            may_approve=may_approve,
            four_eyes_enforceable=four_eyes.enforceable(),
            public_view=public_view,
            facts_match=publication.facts_match(found, report) if found else True,
            report_url=report_url,
            round_amount=round_amount,
            form=form,
            approve_form=ApproveForm(formdata=None),
            withdraw_form=withdraw_form or WithdrawForm(formdata=None),
            title_max=TITLE_MAX,
            summary_max=SUMMARY_MAX,
            message=done() if done and error is None else None,
            error=error,
        ),
        status,
    )


def _refused(report: Report, refusal: publication.PublicationError) -> ResponseReturnValue:
    """The page again with the refusal: 403 for four eyes, 409 for a state conflict."""
    four_eyes_refusals = (publication.OwnSummary, publication.NotIndependent)
    status = 403 if isinstance(refusal, four_eyes_refusals) else 409
    return _publication_page(report, error=refusal.message, status=status)


def _done(report: Report, outcome: str) -> ResponseReturnValue:
    """Back to the report's summary page, naming what happened."""
    return redirect(
        url_for("inspectorate.publication_page", code=report.tracking_code, done=outcome), 303
    )


@bp.get("/publications/<code>")
@staff_required(*HANDLER_ROLES)
def publication_page(code: str) -> ResponseReturnValue:
    """One report's publication: write, edit, approve or withdraw it."""
    return _publication_page(_report_or_404(code))


@bp.post("/publications/<code>")
@staff_required(*HANDLER_ROLES)
def publication_save(code: str) -> ResponseReturnValue:
    """Save the summary; it (again) awaits approval by another member."""
    report = _report_or_404(code)
    form = SummaryForm()
    if not form.validate():
        return _publication_page(report, form=form, status=400)
    before = publication.for_report(report)
    revision = before.revision if before else 0
    state = before.state if before else None
    try:
        with atomic():
            saved = publication.save_summary(
                report=report,
                actor=signed_in_staff().member,
                title=form.title.data or "",
                summary=form.summary.data or "",
            )
    except publication.PublicationError as refusal:
        return _refused(report, refusal)
    changed = saved.revision != revision or saved.state != state
    return _done(report, "saved" if changed else "unchanged")


@bp.post("/publications/<code>/approve")
@staff_required(*HANDLER_ROLES)
def publication_approve(code: str) -> ResponseReturnValue:
    """Approve another member's summary: it becomes public."""
    report = _report_or_404(code)
    form = ApproveForm()
    revision = form.revision.data or ""
    if not form.validate() or not revision.isdigit():
        return _publication_page(report, error=_("Open the page again and retry."), status=400)
    try:
        with atomic():
            publication.approve(
                report=report, actor=signed_in_staff().member, revision=int(revision)
            )
    except publication.PublicationError as refusal:
        return _refused(report, refusal)
    return _done(report, "approved")


@bp.post("/publications/<code>/withdraw")
@staff_required(*HANDLER_ROLES)
def publication_withdraw(code: str) -> ResponseReturnValue:
    """Take a published summary down at once, with a reason."""
    report = _report_or_404(code)
    form = WithdrawForm()
    if not form.validate():
        return _publication_page(report, withdraw_form=form, status=400)
    try:
        with atomic():
            publication.withdraw(
                report=report,
                actor=signed_in_staff().member,
                reason=WithdrawalReason(form.reason.data),
                note=form.note.data or "",
            )
    except publication.PublicationError as refusal:
        return _refused(report, refusal)
    return _done(report, "withdrawn")
