"""The triage queue page: every report's public facts, filters, counts per status, pages."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from functools import partial
from types import MappingProxyType
from typing import Any, cast

from flask import current_app, get_template_attribute, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import format_date, get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup, escape
from wtforms import BooleanField, DateField, SelectField
from wtforms.validators import Optional, ValidationError
from wtforms.widgets import Select
from wtforms.widgets.core import html_params

from portal import memo
from portal.forms import PortalForm
from portal.i18n import current_locale
from portal.inspectorate import bp
from portal.inspectorate.access import signed_in_staff, staff_required
from portal.labels import CHANNEL_LABELS, PRIORITY_LABELS, status_label
from portal.models import HANDLER_ROLES, Status
from portal.services import catalog, queue
from portal.services.queue import Sort
from portal.services.staff import directory

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


class Options(list[tuple[str, str]]):
    """A select's (value, label) choices with their `<option>` HTML made once.

    Built once per language and catalogue version (`_vocabulary`) and shared by every
    request, which only reads it: a page then marks the chosen option by splicing two
    slices of one string instead of building some 70 options through WTForms.
    """

    def __init__(self, choices: Iterable[tuple[str, str]]) -> None:
        """Keep the choices, render each option unselected and selected, note the offsets."""
        super().__init__((str(value), str(label)) for value, label in choices)
        plain = [QuickSelect.option(value, label, selected=False) for value, label in self]
        self._chosen = [QuickSelect.option(value, label, selected=True) for value, label in self]
        self._html = "".join(plain)
        self._starts: dict[str, tuple[int, int]] = {}
        offset = 0
        for index, (value, _label) in enumerate(self):
            self._starts.setdefault(value, (index, offset))
            offset += len(plain[index])
        self._plain_lengths = [len(option) for option in plain]

    def html(self, chosen: Any) -> str:
        """Every option, the one whose value equals `chosen` marked selected."""
        found = self._starts.get(chosen) if isinstance(chosen, str) else None
        if found is None:
            return self._html
        index, offset = found
        end = offset + self._plain_lengths[index]
        return self._html[:offset] + self._chosen[index] + self._html[end:]


class QuickSelect(Select):
    """WTForms' select with plain options built directly: the same HTML, a fraction of the cost.

    The filter form renders about 70 options per view; WTForms builds each through
    `html_params` and a formatter. Choices given as `Options` come ready-made; anything
    unusual (extra attributes, groups, several values) goes the usual way.
    """

    @staticmethod
    def option(value: str, label: str, *, selected: bool) -> str:
        """`<option [selected] value="...">label</option>`, as html_params orders them."""
        chosen = "selected " if selected else ""
        return f'<option {chosen}value="{escape(value)}">{escape(label or value)}</option>'

    def __call__(self, field: Any, **kwargs: Any) -> Markup:
        """The select with its options, from `Options` when the field has them."""
        if not isinstance(field.choices, Options) or self.multiple:
            return super().__call__(field, **kwargs)
        kwargs.setdefault("id", field.id)
        flags = getattr(field, "flags", {})
        for name in dir(flags):
            if name in self.validation_attrs and name not in kwargs:
                kwargs[name] = getattr(flags, name)
        if kwargs.keys() == {"id"}:  # the usual case: html_params' output, without its work
            head = f'<select id="{escape(kwargs["id"])}" name="{escape(field.name)}">'
        else:
            head = f"<select {html_params(name=field.name, **kwargs)}>"
        # Selected as WTForms decides it: coerce(value) == data (coerce is str here).
        return Markup(head + field.choices.html(field.data) + "</select>")  # noqa: S704 (escaped)

    @classmethod
    def render_option(cls, choice: Any, **kwargs: Any) -> Markup:
        """One option of a field whose choices are not `Options`."""
        if kwargs or choice.render_kw or isinstance(choice.value, bool):
            return super().render_option(choice, **kwargs)
        html = cls.option(choice.value, choice.label, selected=choice.selected)
        return Markup(html)  # noqa: S704 (escaped)


class QueueFilterForm(PortalForm):
    """The queue's filters and sort, read from the query string (GET changes nothing).

    Its fields are VIEW_PARAMETERS, the names a read form is kept under (_read_filters);
    the page cursor is read apart, since it changes on every page of a view.
    """

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

    def validate_received_to(self, field: DateField) -> None:
        """A date range must not end before it starts."""
        start = self.received_from.data
        if start is not None and field.data is not None and field.data < start:
            raise ValidationError(_("The end date is before the start date."))


@dataclass(frozen=True, eq=False)  # compared and hashed as itself: rows are kept under it
class _Vocabulary:
    """What the page needs to name codes, in one language for one catalogue version.

    `choices` feed the selects (but the assignee one, whose members change without a
    catalogue edit); `names` are each code's label, escaped, for the table rows.
    """

    choices: dict[str, Options]
    names: dict[str, dict[str, str]]


def _vocabulary() -> _Vocabulary:
    """The page's choices and labels, built once per language and catalogue version.

    Keyed on the catalogue's version token (catalog.cached): an admin's edit on any
    server shows at the next request; the other labels are fixed per language.
    """
    locale = get_locale()
    language = str(locale) if locale is not None else "-"

    def build() -> _Vocabulary:
        names = queue.catalogue_names()
        labels: dict[str, list[tuple[str, str]]] = {
            "status": [(status.value, status_label(status)) for status in Status],
            "category": names.categories,
            "service": names.services,
            "unit": names.units,
            "channel": [(code, str(label)) for code, label in CHANNEL_LABELS.items()],
            "priority": [(code, str(label)) for code, label in PRIORITY_LABELS.items()],
        }
        anything = {
            "status": _("Any status"),
            "category": _("Any category"),
            "service": _("Any service"),
            "unit": _("Any unit"),
            "channel": _("Any channel"),
            "priority": _("Any priority"),
        }
        choices = {name: Options([("", anything[name]), *pairs]) for name, pairs in labels.items()}
        choices["sort"] = Options((sort.value, str(label)) for sort, label in SORT_LABELS.items())
        return _Vocabulary(
            choices=choices,
            names={
                name: {code: str(escape(label)) for code, label in pairs}
                for name, pairs in labels.items()
            },
        )

    return catalog.cached(("queue-vocabulary", language), build)


def _offer_choices(
    form: QueueFilterForm, vocabulary: _Vocabulary, handlers: tuple[tuple[int, str], ...]
) -> None:
    """Fill every select with "any" plus the values the queue knows."""
    for name, options in vocabulary.choices.items():
        form[name].choices = options
    form.assignee.choices = Options(
        [
            ("", _("Anyone or nobody")),
            (MINE, _("Me")),
            (UNASSIGNED, _("Nobody (unassigned)")),
            *((str(member_id), email) for member_id, email in handlers),
        ]
    )


def _filters(values: Mapping[str, Any], member_id: int) -> queue.Filters:
    """The service's filters from a valid form's values; "mine" is the signed-in member."""
    assignee = values["assignee"] or ""
    assignee_id = int(assignee) if assignee.isdigit() else None
    return queue.Filters(
        status=values["status"] or None,
        category=values["category"] or None,
        service=values["service"] or None,
        unit=values["unit"] or None,
        channel=values["channel"] or None,
        assignee_id=member_id if assignee == MINE else assignee_id,
        unassigned=assignee == UNASSIGNED,
        priority=values["priority"] or None,
        overdue=bool(values["overdue"]),
        received_from=values["received_from"],
        received_to=values["received_to"],
    )


def _view_parameters(given: Mapping[str, str]) -> dict[str, Any]:
    """The non-empty view parameters of a query, for links that keep them."""
    return {name: value for name in VIEW_PARAMETERS if (value := given.get(name, ""))}


@dataclass(frozen=True)
class _ReadFilters:
    """A query string's filters as the form read them, and the form's HTML.

    `values` are the fields' data, None when some field is in error; shared by every
    request of the same key, which only read them.
    """

    values: Mapping[str, Any] | None
    html: Markup


# Read filter forms per (language, catalogue version, assignable members, filter values).
# Visitors vary the values, so the store is bounded; the form holds no CSRF token and
# nothing of the member who asks ("Me" is a fixed label), so staff may share an entry.
_FILTER_FORMS = "portal.queue_filter_forms"
_FILTER_FORMS_SIZE = 512


def _read_filters(vocabulary: _Vocabulary, handlers: tuple[tuple[int, str], ...]) -> _ReadFilters:
    """The request's filters, validated, with the form's HTML: some 3 ms a page to build.

    What the form makes of a query string follows from the language, the choices
    (catalogue version and assignable members) and the values of its fields alone, so
    it is built, validated and rendered once per such key on this server.
    """

    def build() -> _ReadFilters:
        form = QueueFilterForm(formdata=request.args)
        _offer_choices(form, vocabulary, handlers)
        valid = form.validate()
        macro = get_template_attribute("inspectorate/_queue_filters.html", "filters")
        html = cast(Markup, macro(form))  # an autoescaped macro returns Markup
        return _ReadFilters(MappingProxyType(form.data) if valid else None, html)

    key = (
        current_locale(),
        catalog.version(),
        handlers,
        tuple(tuple(request.args.getlist(name)) for name in VIEW_PARAMETERS),
    )
    return memo.app_cache(_FILTER_FORMS, _FILTER_FORMS_SIZE).get(key, build)


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
    vocabulary = _vocabulary()
    members = directory.names()
    read = _read_filters(vocabulary, members.handlers)
    # Each parameter's first value, in a plain dict: MultiDict.get raises (and catches) an
    # HTTP exception for each absent name, and most of the names asked for are absent.
    given = request.args.to_dict()
    cursor = given.get("cursor", "")
    bad_link = _("This page link is not valid. Start again from the first page.")
    if len(cursor) > CURSOR_MAX_LENGTH:
        return _render(400, filter_form=read.html, problem=bad_link)
    if read.values is None:
        problem = _("Some filters are not valid. Correct the marked fields.")
        return _render(400, filter_form=read.html, problem=problem)
    filters = _filters(read.values, current.member.id)
    try:
        page = queue.page(
            filters=filters,
            sort=Sort(read.values["sort"]),
            cursor=cursor or None,
            size=int(current_app.config["QUEUE_PAGE_SIZE"]),
        )
    except queue.BadCursor:
        return _render(400, filter_form=read.html, problem=bad_link)
    parameters = _view_parameters(given)
    without_status = {name: value for name, value in parameters.items() if name != "status"}
    # Counts per status: maintained ones where they exist (most views); an exact count of
    # a rarer combination only when asked for, since it reads every matching report.
    counts = queue.stored_counts(filters=filters)
    count_url = None
    if counts is None:
        if given.get(COUNT_PARAMETER) == "1":
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
        filter_form=read.html,
        page=page,
        counts=counts,
        count_url=count_url,
        current_status=filters.status,
        without_status=without_status,
        first_url=url_for("inspectorate.queue", **parameters) if cursor else None,
        next_url=next_url,
        status_links=_status_links(counts, filters.status, without_status, vocabulary),
        table_rows=_table_rows(page.rows, vocabulary, members.emails),
    )


def _status_links(
    counts: dict[str, int] | None,
    current: str | None,
    without_status: dict[str, Any],
    vocabulary: _Vocabulary,
) -> list[tuple[Markup, int, str | None]]:
    """Each status's label, count and link to the view with that status (None: shown now)."""
    if counts is None:
        return []
    names = vocabulary.names["status"]
    # Status values are plain identifiers: the same in a query string escaped or not.
    before, after = _url_around("status", "inspectorate.queue", **without_status)
    return [
        (
            Markup(names.get(status) or escape(status)),  # noqa: S704 (escaped in the vocabulary)
            count,
            None if status == current else before + status + after,
        )
        for status, count in counts.items()
    ]


# One table row; every value is escaped before it is put in (see _table_rows).
_ROW = (
    "<tr{overdue_class}>"
    '<th scope="row" class="tracking">{code}</th>'
    "<td>{status}</td>"
    '<td class="clip" title="{category}">{category}</td>'
    '<td class="clip" title="{service}">{service}</td>'
    '<td class="clip" title="{unit}">{unit}</td>'
    "<td>{channel}</td>"
    '<td><time datetime="{received_iso}">{received}</time></td>'
    "<td>{assignee}</td>"
    "<td>{priority}</td>"
    "<td>{deadline}{overdue_flag}</td>"
    "</tr>\n"
)


# Rendered table rows per (vocabulary, case link, assignee email, row): a report's row is
# the same on every page and for every member until the report changes, and a changed
# report is a new key (the row holds every field the HTML shows). Bounded: old rows age out.
_ROWS = "portal.queue_rows"
_ROWS_SIZE = 8192


def _table_rows(
    rows: list[queue.QueueRow], vocabulary: _Vocabulary, emails: dict[int, str]
) -> Markup:
    """The table's rows (about 50 x 12 cells), each rendered once and then kept.

    As a Jinja loop, each cell cost an attribute lookup, a label lookup and an escape
    through the template runtime: most of the page's rendering time. Labels come escaped
    from the vocabulary; everything else read from a row is escaped here.
    """
    case_url = _case_url() if "inspectorate.case" in current_app.view_functions else None
    cache = memo.app_cache(_ROWS, _ROWS_SIZE)
    context = (vocabulary, case_url("") if case_url else None)
    painter: _RowPainter | None = None

    def paint(row: queue.QueueRow, assignee: str | None) -> str:
        nonlocal painter
        if painter is None:  # only when some row is not kept yet
            painter = _RowPainter(vocabulary, case_url)
        return painter.paint(row, assignee)

    html = []
    for row in rows:
        assignee = emails.get(row.assignee_id, "") if row.assignee_id else None
        html.append(cache.get((context, assignee, row), partial(paint, row, assignee)))
    return Markup("".join(html))  # noqa: S704 (every part escaped by _RowPainter)


class _RowPainter:
    """One table row's HTML from a queue row, in the page's language."""

    def __init__(self, vocabulary: _Vocabulary, case_url: Callable[[str], str] | None) -> None:
        """The labels and fixed snippets every row uses."""
        self.names = vocabulary.names
        self.case_url = case_url
        self.unassigned = f'<span class="muted">{escape(_("Unassigned"))}</span>'
        self.no_deadline = f'<span class="muted">{escape(_("No deadline"))}</span>'
        self.overdue_flag = f' <strong class="overdue-flag">{escape(_("Overdue"))}</strong>'

    def label(self, table: str, code: str) -> str:
        """A code's escaped label, or the code itself (escaped) if the table lacks it."""
        found = self.names[table].get(code)
        return found if found is not None else str(escape(code))

    def paint(self, row: queue.QueueRow, assignee: str | None) -> str:
        """The `<tr>` of `row`; `assignee`: the assigned member's email (None: nobody)."""
        dates = _formatted_dates({row.received_on, row.due_on})
        code = escape(row.tracking_code)
        deadline = (
            f'<time datetime="{row.due_on.isoformat()}">{dates[row.due_on]}</time>'
            if row.due_on
            else self.no_deadline
        )
        return _ROW.format(
            overdue_class=' class="overdue"' if row.overdue else "",
            code=f'<a href="{escape(self.case_url(row.tracking_code))}">{code}</a>'
            if self.case_url
            else code,
            status=self.label("status", row.status),
            category=self.label("category", row.category_code),
            service=self.label("service", row.service_code),
            unit=self.label("unit", row.unit_code),
            channel=self.label("channel", row.channel),
            received_iso=row.received_on.isoformat(),
            received=dates[row.received_on],
            assignee=str(escape(assignee)) if assignee is not None else self.unassigned,
            priority=self.label("priority", row.priority),
            deadline=deadline,
            overdue_flag=self.overdue_flag if row.overdue else "",
        )


# Formatted dates per (locale, day): a date's text never changes, and a page shows up to
# 100 distinct days (a deadline-sorted page spans weeks), each a Babel call otherwise.
_DATES = "portal.queue_dates"
_DATES_SIZE = 8192


def _formatted_dates(days: set[date | None]) -> dict[date | None, str]:
    """Each day as the locale writes it (Babel's default date format), escaped."""
    locale = get_locale()
    language = str(locale) if locale is not None else "-"
    cache = memo.app_cache(_DATES, _DATES_SIZE)

    def formatted(day: date) -> str:
        return cache.get((language, day), lambda: str(escape(format_date(day))))

    return {day: formatted(day) for day in days if day is not None}


def _url_around(name: str, endpoint: str, **values: Any) -> tuple[str, str]:
    """url_for's URL with `values`, split where the value of `name` goes.

    For values that are the same escaped or not (identifiers, tracking codes): putting
    one between the halves gives what url_for would give for it, at one url_for a page.
    """
    placeholder = "PLACEHOLDER-1f3a"
    url: str = url_for(endpoint, **{**values, name: placeholder})
    before, after = url.split(placeholder, 1)
    return before, after


def _case_url() -> Callable[[str], str]:
    """A tracking code's case page URL (Crockford symbols and dashes), one url_for a page."""
    before, after = _url_around("code", "inspectorate.case")
    return lambda code: before + code + after
