"""The triage queue page: every report's public facts, filters, counts per status, pages."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import current_app, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import format_date
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup, escape
from wtforms import BooleanField, DateField, HiddenField, SelectField
from wtforms.validators import Length, Optional, ValidationError
from wtforms.widgets import Select

from portal.forms import PortalForm
from portal.inspectorate import bp
from portal.inspectorate.access import signed_in_staff, staff_required
from portal.labels import CHANNEL_LABELS, PRIORITY_LABELS, status_label
from portal.models import HANDLER_ROLES, Status
from portal.services import queue
from portal.services.queue import Sort

# Assignee filter values besides a member's id.
MINE, UNASSIGNED = "mine", "unassigned"
# Query parameters that describe the view (kept by "next page" and the status counts).
VIEW_PARAMETERS = (
    "status",
    "category",
    "service",
    "unit",
    "channel",
    "assignee",
    "priority",
    "overdue",
    "received_from",
    "received_to",
    "sort",
)
SORT_LABELS = {
    Sort.NEWEST: _l("Newest first"),
    Sort.OLDEST: _l("Oldest first"),
    Sort.DEADLINE: _l("Deadline soonest"),
}
# Asks for exact counts per status where no maintained ones cover the filters.
COUNT_PARAMETER = "counts"
# A cursor is a few dozen characters; anything much longer was not made by us.
CURSOR_MAX_LENGTH = 200


class QuickSelect(Select):
    """WTForms' select with plain options built directly: the same HTML, a fifth of the cost.

    The filter form renders about 70 options per view; WTForms builds each through
    `html_params` and a formatter. Anything unusual (extra attributes) goes the usual way.
    """

    @classmethod
    def render_option(cls, choice: Any, **kwargs: Any) -> Markup:
        """`<option [selected] value="...">label</option>`, as html_params orders them."""
        if kwargs or choice.render_kw or isinstance(choice.value, bool):
            return super().render_option(choice, **kwargs)
        selected = "selected " if choice.selected else ""
        label = escape(choice.label or choice.value)
        value = escape(choice.value)
        return Markup(f'<option {selected}value="{value}">{label}</option>')  # noqa: S704 (escaped)


class QueueFilterForm(PortalForm):
    """The queue's filters and sort, read from the query string (GET changes nothing)."""

    class Meta:
        """No CSRF token: this form only reads."""

        csrf = False

    status = SelectField(_l("Status"), default="", widget=QuickSelect())
    category = SelectField(_l("Category"), default="", widget=QuickSelect())
    service = SelectField(_l("Service"), default="", widget=QuickSelect())
    unit = SelectField(_l("Unit"), default="", widget=QuickSelect())
    channel = SelectField(_l("Channel"), default="", widget=QuickSelect())
    assignee = SelectField(_l("Assigned to"), default="", widget=QuickSelect())
    priority = SelectField(_l("Priority"), default="", widget=QuickSelect())
    overdue = BooleanField(_l("Overdue only"))
    received_from = DateField(_l("Received from"), validators=[Optional()])
    received_to = DateField(_l("Received until"), validators=[Optional()])
    sort = SelectField(_l("Sort"), default=Sort.NEWEST.value, widget=QuickSelect())
    cursor = HiddenField(validators=[Length(max=CURSOR_MAX_LENGTH)])

    def validate_received_to(self, field: DateField) -> None:
        """A date range must not end before it starts."""
        start = self.received_from.data
        if start is not None and field.data is not None and field.data < start:
            raise ValidationError(_("The end date is before the start date."))


def _offer_choices(form: QueueFilterForm, options: queue.FilterOptions) -> None:
    """Fill every select with "any" plus the values the queue knows."""
    form.status.choices = [("", _("Any status"))] + [(s.value, status_label(s)) for s in Status]
    form.category.choices = [("", _("Any category"))] + [
        (row.code, row.name) for row in options.categories
    ]
    form.service.choices = [("", _("Any service"))] + [
        (row.code, row.name) for row in options.services
    ]
    form.unit.choices = [("", _("Any unit"))] + [(row.code, row.name) for row in options.units]
    form.channel.choices = [("", _("Any channel"))] + [
        (code, str(label)) for code, label in CHANNEL_LABELS.items()
    ]
    form.assignee.choices = [
        ("", _("Anyone or nobody")),
        (MINE, _("Me")),
        (UNASSIGNED, _("Nobody (unassigned)")),
    ] + [
        (
            str(member.id),
            member.email if member.active else _("%(email)s (disabled)", email=member.email),
        )
        for member in options.handlers
    ]
    form.priority.choices = [("", _("Any priority"))] + [
        (code, str(label)) for code, label in PRIORITY_LABELS.items()
    ]
    form.sort.choices = [(sort.value, str(label)) for sort, label in SORT_LABELS.items()]


def _filters(form: QueueFilterForm, member_id: int) -> queue.Filters:
    """The service's filters from a validated form; "mine" is the signed-in member."""
    assignee = form.assignee.data or ""
    assignee_id = int(assignee) if assignee.isdigit() else None
    return queue.Filters(
        status=form.status.data or None,
        category=form.category.data or None,
        service=form.service.data or None,
        unit=form.unit.data or None,
        channel=form.channel.data or None,
        assignee_id=member_id if assignee == MINE else assignee_id,
        unassigned=assignee == UNASSIGNED,
        priority=form.priority.data or None,
        overdue=bool(form.overdue.data),
        received_from=form.received_from.data,
        received_to=form.received_to.data,
    )


def _view_parameters() -> dict[str, Any]:
    """The non-empty view parameters of this request, for links that keep them."""
    return {name: value for name in VIEW_PARAMETERS if (value := request.args.get(name, ""))}


def _render(status: int, **context: Any) -> ResponseReturnValue:
    """The queue page with the defaults every branch shares."""
    context.setdefault("page", None)
    context.setdefault("counts", None)
    context.setdefault("count_url", None)
    context.setdefault("problem", None)
    return render_template("inspectorate/queue.html", **context), status


@bp.get("/queue", endpoint="queue")
@staff_required(*HANDLER_ROLES)
def report_queue() -> ResponseReturnValue:
    """Every report with its status, facts, assignee and deadline; filters, sort, pages."""
    current = signed_in_staff()
    options = queue.filter_options()
    form = QueueFilterForm(formdata=request.args)
    _offer_choices(form, options)
    if not form.validate():
        problem = _("Some filters are not valid. Correct the marked fields.")
        if form.cursor.errors:
            problem = _("This page link is not valid. Start again from the first page.")
        return _render(400, form=form, problem=problem)
    filters = _filters(form, current.member.id)
    try:
        page = queue.page(
            filters=filters,
            sort=Sort(form.sort.data),
            cursor=form.cursor.data or None,
            size=int(current_app.config["QUEUE_PAGE_SIZE"]),
        )
    except queue.BadCursor:
        problem = _("This page link is not valid. Start again from the first page.")
        return _render(400, form=form, problem=problem)
    parameters = _view_parameters()
    without_status = {name: value for name, value in parameters.items() if name != "status"}
    # Counts per status: maintained ones where they exist (most views); an exact count of
    # a rarer combination only when asked for, since it reads every matching report.
    counts = queue.stored_counts(filters=filters)
    count_url = None
    if counts is None:
        if request.args.get(COUNT_PARAMETER) == "1":
            counts = queue.status_counts(filters=filters)
            without_status[COUNT_PARAMETER] = "1"
        else:
            count_url = url_for("inspectorate.queue", **{**parameters, COUNT_PARAMETER: "1"})
    next_url = (
        url_for("inspectorate.queue", **parameters, cursor=page.next_cursor)
        if page.next_cursor
        else None
    )
    return _render(
        200,
        form=form,
        page=page,
        counts=counts,
        count_url=count_url,
        current_status=filters.status,
        without_status=without_status,
        first_url=url_for("inspectorate.queue", **parameters) if form.cursor.data else None,
        next_url=next_url,
        names={
            "category": {row.code: row.name for row in options.categories},
            "service": {row.code: row.name for row in options.services},
            "unit": {row.code: row.name for row in options.units},
        },
        assignees=queue.staff_emails(
            [row.assignee_id for row in page.rows if row.assignee_id is not None]
        ),
        # Per page, not per row: 50 rows x (3 labels + 2 dates + a URL) was most of the render.
        labels={
            "status": {status.value: status_label(status) for status in Status},
            "channel": {code: str(label) for code, label in CHANNEL_LABELS.items()},
            "priority": {code: str(label) for code, label in PRIORITY_LABELS.items()},
        },
        dates={
            day: format_date(day)
            for day in {row.received_on for row in page.rows}
            | {row.due_on for row in page.rows if row.due_on is not None}
        },
        case_url=_case_url() if "inspectorate.case" in current_app.view_functions else None,
    )


def _case_url() -> Callable[[str], str]:
    """A tracking code's case page URL, built by url_for once per page.

    Tracking codes are Crockford symbols and dashes, the same in a path escaped or not,
    so putting one where url_for put a placeholder gives what url_for would.
    """
    placeholder = "SRG-PLACEHOLDER"
    template = url_for("inspectorate.case", code=placeholder)
    before, after = template.split(placeholder, 1)
    return lambda code: before + code + after
