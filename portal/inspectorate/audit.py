"""The audit log for admins and auditors: browse and filter it, check the chain, export CSV.

Browsing is not itself audited (every page view would add an entry and bury the real
ones); exporting is, because a CSV leaves the system.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from flask import Response, current_app, render_template, request, stream_with_context, url_for
from flask.typing import ResponseReturnValue
from flask_babel import format_datetime
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import DateField, SelectField, StringField
from wtforms.validators import NumberRange, Optional, ValidationError

from portal import spreadsheet
from portal.forms import IntegerField, PortalForm, max_length
from portal.inspectorate import bp
from portal.inspectorate.access import signed_in_staff, staff_required
from portal.models import OVERSIGHT_ROLES, AuditEntry
from portal.security import MAX_ROW_ID
from portal.services import audit
from portal.transaction import atomic

# Dates outside these years are typos or probes: they name no entry, and the day after
# 9999-12-31 or the UTC start of 0001-01-01 in WIB does not exist.
FIRST_AUDIT_YEAR = 2000
LAST_AUDIT_YEAR = 2999
CSV_COLUMNS = (
    "id",
    "at_utc",
    "at_wib",
    "actor",
    "action",
    "target",
    "detail",
    "previous_hash",
    "entry_hash",
)


def _plausible_date(form: PortalForm, field: DateField) -> None:
    """Refuse dates outside the years an audit entry can have."""
    if field.data and not FIRST_AUDIT_YEAR <= field.data.year <= LAST_AUDIT_YEAR:
        raise ValidationError(
            _(
                "Choose a date between %(first)d and %(last)d.",
                first=FIRST_AUDIT_YEAR,
                last=LAST_AUDIT_YEAR,
            )
        )


class AuditFilterForm(PortalForm):
    """Filters of the audit log, sent with GET (nothing changes, so no CSRF token)."""

    class Meta(PortalForm.Meta):
        """A search form: read from the query string, no CSRF."""

        csrf = False

    actor = StringField(_l("Actor"), validators=[Optional(), max_length(254)])
    action = SelectField(_l("Action"), choices=[], validate_choice=True, default="")
    target = StringField(_l("Target"), validators=[Optional(), max_length(128)])
    since = DateField(_l("From"), validators=[Optional(), _plausible_date])
    until = DateField(_l("Until"), validators=[Optional(), _plausible_date])
    before = IntegerField(validators=[Optional(), NumberRange(min=1, max=MAX_ROW_ID)])
    after = IntegerField(validators=[Optional(), NumberRange(min=0, max=MAX_ROW_ID)])

    def validate_until(self, field: DateField) -> None:
        """The range must not end before it starts."""
        if field.data and self.since.data and field.data < self.since.data:
            raise ValidationError(_("The end date is before the start date."))

    def filters(self) -> audit.AuditFilter:
        """The validated filters for the service."""
        return audit.AuditFilter(
            actor=(self.actor.data or "").strip(),
            action=self.action.data or "",
            target=(self.target.data or "").strip(),
            since=self.since.data,
            until=self.until.data,
        )

    def query(self, **changes: Any) -> dict[str, Any]:
        """The filters as query arguments (for page links and the CSV link)."""
        args = {
            "actor": self.actor.data or "",
            "action": self.action.data or "",
            "target": self.target.data or "",
            "since": self.since.data.isoformat() if self.since.data else "",
            "until": self.until.data.isoformat() if self.until.data else "",
        }
        args.update({key: str(value) for key, value in changes.items()})
        return {key: value for key, value in args.items() if value}


def _filter_form() -> AuditFilterForm:
    """The filter form bound to the query string, its action choices from the log."""
    form = AuditFilterForm(request.args)
    form.action.choices = [("", _("Any action"))] + [(a, a) for a in audit.known_actions()]
    return form


def wib(at: datetime) -> str:
    """A stored UTC time shown in Western Indonesian Time."""
    return format_datetime(at, "yyyy-MM-dd HH:mm:ss") + " WIB"


@bp.get("/audit")
@staff_required(*OVERSIGHT_ROLES)
def audit_log() -> ResponseReturnValue:
    """Browse the audit log, newest first, with filters and the chain's state at the top."""
    form = _filter_form()
    if not form.validate():
        return render_template(
            "inspectorate/audit.html", form=form, page=None, chain=None, wib=wib
        ), 400
    current = audit.page(
        form.filters(),
        before=form.before.data,
        after=form.after.data,
        size=current_app.config["AUDIT_PAGE_SIZE"],
    )
    # Walking the whole chain costs a read of every entry: do it on the first page only.
    first_page = form.before.data is None and form.after.data is None
    return render_template(
        "inspectorate/audit.html",
        form=form,
        page=current,
        chain=audit.verify_chain() if first_page else None,
        wib=wib,
        newer_url=(
            url_for("inspectorate.audit_log", **form.query(after=current.newer))
            if current.newer is not None
            else None
        ),
        older_url=(
            url_for("inspectorate.audit_log", **form.query(before=current.older))
            if current.older is not None
            else None
        ),
        csv_url=url_for("inspectorate.audit_export", **form.query()),
    )


def _cell(value: str) -> str:
    """A CSV cell that a spreadsheet will show as text, never run as a formula."""
    return str(spreadsheet.cell(value))


def _csv_lines(entries: Iterator[AuditEntry]) -> Iterator[str]:
    """The CSV text, one line at a time, header first."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")

    def line(values: list[str] | tuple[str, ...]) -> str:
        """One row as CSV text."""
        writer.writerow(values)
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    yield line(CSV_COLUMNS)
    for entry in entries:
        yield line(
            [
                str(entry.id),
                entry.at.isoformat(timespec="microseconds") + "Z",
                wib(entry.at),
                _cell(entry.actor),
                _cell(entry.action),
                _cell(entry.target),
                _cell(entry.detail),
                entry.previous_hash,
                entry.entry_hash,
            ]
        )


@bp.get("/audit.csv")
@staff_required(*OVERSIGHT_ROLES)
def audit_export() -> ResponseReturnValue:
    """Download the filtered log as CSV; the export itself is audited."""
    form = _filter_form()
    if not form.validate():
        return render_template(
            "inspectorate/audit.html", form=form, page=None, chain=None, wib=wib
        ), 400
    filters = form.filters()
    with atomic():
        upto = audit.start_export(actor=signed_in_staff().member.email, filters=filters)
    lines = stream_with_context(_csv_lines(audit.export_entries(filters, upto=upto)))
    response = Response(lines, mimetype="text/csv")
    response.headers["Content-Disposition"] = 'attachment; filename="audit-log.csv"'
    return response
