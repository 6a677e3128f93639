"""Admin pages for the catalogue: services (fees, times, requirements), categories, units.

Fees and times are facts a city must be able to correct. Every change is audited with
old and new values and is live at once on /layanan, the report form and the API.
"""

from __future__ import annotations

from typing import Any

from flask import redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import (
    BooleanField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import (
    DataRequired,
    InputRequired,
    NumberRange,
    Regexp,
    StopValidation,
)
from wtforms.widgets import CheckboxInput, ListWidget

from portal.extensions import db
from portal.forms import IntegerField, PortalForm, RupiahField, max_length
from portal.inspectorate import bp
from portal.inspectorate.access import signed_in_staff, staff_required
from portal.models import Category, Role, Service, Unit
from portal.services import catalog
from portal.transaction import atomic

# --- Forms ---------------------------------------------------------------------------------


class WholeNumberField(IntegerField):
    """An integer; when it is not a number, only that is said (no range message too)."""

    def pre_validate(self, form: Any) -> None:
        """Stop after a parse error, so one message explains the problem."""
        if self.process_errors:
            raise StopValidation()


def _text(label: Any, limit: int, *, required: bool = False) -> StringField:
    """A one-line text field within the column's length."""
    validators: list[Any] = [max_length(limit)]
    if required:
        validators.insert(0, DataRequired())
    return StringField(label, validators=validators)


def _lines(label: Any) -> TextAreaField:
    """Several lines of text (requirements: one per line)."""
    return TextAreaField(
        label,
        validators=[max_length(catalog.MAX_REQUIREMENTS_LENGTH)],
    )


def _position() -> WholeNumberField:
    """Display order: lower numbers first."""
    return WholeNumberField(
        _l("Order (lower numbers first)"),
        default=0,
        validators=[
            InputRequired(),
            NumberRange(
                min=0,
                max=catalog.MAX_POSITION,
                message=_l("Enter a number from %(min)s to %(max)s."),
            ),
        ],
    )


def _code() -> StringField:
    """The code of a new row: fixed once made, used in links and open data."""
    return StringField(
        _l("Code"),
        validators=[
            DataRequired(),
            Regexp(
                catalog.CODE_PATTERN.pattern,
                message=_l("Use 2 to 40 lowercase letters, digits or underscores."),
            ),
        ],
    )


ACTIVE_LABEL = _l("Active: offered on the report form and shown to the public")


class CategoryForm(PortalForm):
    """An admin edits a category."""

    name_id = _text(_l("Name in Indonesian"), 120, required=True)
    name_en = _text(_l("Name in English"), 120, required=True)
    position = _position()
    active = BooleanField(ACTIVE_LABEL)


class NewCategoryForm(CategoryForm):
    """An admin adds a category."""

    code = _code()


class ServiceForm(PortalForm):
    """An admin edits a service: names, fee, legal basis, times, requirements, places."""

    name_id = _text(_l("Name in Indonesian"), 120, required=True)
    name_en = _text(_l("Name in English"), 120, required=True)
    fee_rupiah = RupiahField(
        _l("Official fee in Rupiah (0 if free)"),
        validators=[InputRequired()],
        maximum=catalog.MAX_FEE_RUPIAH,
        invalid=_l("Enter the fee in whole Rupiah, for example 0 or 25000."),
        negative=_l("The fee cannot be negative."),
        too_large=_l("At most %(max)s Rupiah: check the amount."),
    )
    legal_basis = _text(_l("Legal basis of the fee"), 200, required=True)
    penalty_basis = _text(_l("Legal basis of the penalty for charging outside the rules"), 200)
    standard_time_id = _text(_l("Standard time in Indonesian"), 200)
    standard_time_en = _text(_l("Standard time in English"), 200)
    requirements_id = _lines(_l("Requirements in Indonesian, one per line"))
    requirements_en = _lines(_l("Requirements in English, one per line"))
    units = SelectMultipleField(
        _l("Where it is served"),
        choices=[],
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
        validate_choice=True,
    )
    position = _position()
    active = BooleanField(ACTIVE_LABEL)
    listed = BooleanField(_l("Listed in the public fee catalogue and on posters"))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.units.choices = [
            SelectChoice(
                unit.code, unit.name if unit.active else _("%(name)s (inactive)", name=unit.name)
            )
            for unit in catalog.every(Unit)
        ]


class NewServiceForm(ServiceForm):
    """An admin adds a service."""

    code = _code()


class UnitForm(PortalForm):
    """An admin edits a unit (a place of service)."""

    name_id = _text(_l("Name in Indonesian"), 160, required=True)
    name_en = _text(_l("Name in English"), 160, required=True)
    kind = SelectField(
        _l("Kind of place"),
        choices=[SelectChoice(kind, label) for kind, label in catalog.UNIT_KIND_LABELS.items()],
    )
    address = _text(_l("Address"), 300)
    hours_id = _text(_l("Opening hours in Indonesian"), 200)
    hours_en = _text(_l("Opening hours in English"), 200)
    position = _position()
    active = BooleanField(ACTIVE_LABEL)


class NewUnitForm(UnitForm):
    """An admin adds a unit."""

    code = _code()


# --- Views ---------------------------------------------------------------------------------

DONE_MESSAGES = {
    "added": lambda: _("Added. It is live on the public catalogue, the report form and the API."),
    "saved": lambda: _(
        "Saved. The change is live on the public catalogue, the report form and the API."
    ),
    "unchanged": lambda: _("Nothing was changed."),
}

FORMS: dict[type[Any], tuple[type[PortalForm], type[PortalForm]]] = {
    Category: (CategoryForm, NewCategoryForm),
    Service: (ServiceForm, NewServiceForm),
    Unit: (UnitForm, NewUnitForm),
}


def _row_data(row: Any) -> dict[str, Any]:
    """A row's editable values as a form's initial data."""
    model = type(row)
    data = {name: getattr(row, name) for name in catalog.EDITABLE[model]}
    if isinstance(row, Service):
        data["units"] = [unit.code for unit in row.units]
    return data


def _form_page(
    model: type[Any], form: PortalForm, row: Any | None, *, status: int = 200
) -> ResponseReturnValue:
    """The add or edit page of one row."""
    table = catalog.TABLE_NAMES[model]
    return render_template(f"inspectorate/catalog_{table}.html", form=form, row=row), status


def _submit(model: type[Any], row: Any | None) -> ResponseReturnValue:
    """Validate and save a new row (row None) or changes to one; then back to the list."""
    form = FORMS[model][1 if row is None else 0]()
    if not form.validate():
        return _form_page(model, form, row, status=400)
    actor = signed_in_staff().member.email
    values = {
        # A text box left out of the post is empty text, as if it had been sent blank.
        name: "" if form[name].data is None and rule.kind in ("text", "lines") else form[name].data
        for name, rule in catalog.EDITABLE[model].items()
    }
    unit_codes = list(form["units"].data or []) if model is Service else None
    code = str(form["code"].data or "") if row is None else row.code
    try:
        with atomic():
            if row is None:
                catalog.create(model, actor=actor, code=code, values=values, unit_codes=unit_codes)
                outcome = "added"
            else:
                changed = catalog.update(row, actor=actor, values=values, unit_codes=unit_codes)
                outcome = "saved" if changed else "unchanged"
    except catalog.DuplicateCode as error:
        form["code"].errors = [error.message]
        return _form_page(model, form, row, status=400)
    except catalog.InvalidEntry as error:
        for name, message in error.errors.items():
            if name in form:
                form[name].errors = [*form[name].errors, str(message)]
        return _form_page(model, form, row, status=400)
    anchor = f"{catalog.TABLE_NAMES[model]}-{code}"
    return redirect(url_for("inspectorate.admin_catalog", done=outcome, _anchor=anchor), 303)


def _edit(model: type[Any], code: str) -> ResponseReturnValue:
    """GET: the edit form filled from the row; POST: save it."""
    row = db.get_or_404(model, code)
    if request.method == "POST":
        return _submit(model, row)
    return _form_page(model, FORMS[model][0](formdata=None, data=_row_data(row)), row)


def _new(model: type[Any]) -> ResponseReturnValue:
    """GET: an empty add form; POST: add the row."""
    if request.method == "POST":
        return _submit(model, None)
    data: dict[str, Any] = {"active": True, "position": 0}
    if model is Service:
        data.update(fee_rupiah=0, listed=True)
    return _form_page(model, FORMS[model][1](formdata=None, data=data), None)


@bp.get("/admin/catalog")
@staff_required(Role.ADMIN)
def admin_catalog() -> ResponseReturnValue:
    """Services with their fees and times, categories and units, each with an edit link."""
    done = DONE_MESSAGES.get(request.args.get("done", ""))
    return render_template(
        "inspectorate/catalog.html",
        services=catalog.every(Service),
        categories=catalog.every(Category),
        units=catalog.every(Unit),
        kind_label=catalog.unit_kind_label,
        message=done() if done else None,
    )


@bp.route("/admin/catalog/services/new", methods=["GET", "POST"])
@staff_required(Role.ADMIN)
def admin_service_new() -> ResponseReturnValue:
    """Add a service."""
    return _new(Service)


@bp.route("/admin/catalog/services/<service_code>", methods=["GET", "POST"])
@staff_required(Role.ADMIN)
def admin_service_edit(service_code: str) -> ResponseReturnValue:
    """Correct a service: names, fee, legal basis, times, requirements, places, active."""
    return _edit(Service, service_code)


@bp.route("/admin/catalog/categories/new", methods=["GET", "POST"])
@staff_required(Role.ADMIN)
def admin_category_new() -> ResponseReturnValue:
    """Add a category."""
    return _new(Category)


@bp.route("/admin/catalog/categories/<category_code>", methods=["GET", "POST"])
@staff_required(Role.ADMIN)
def admin_category_edit(category_code: str) -> ResponseReturnValue:
    """Rename, reorder or deactivate a category."""
    return _edit(Category, category_code)


@bp.route("/admin/catalog/units/new", methods=["GET", "POST"])
@staff_required(Role.ADMIN)
def admin_unit_new() -> ResponseReturnValue:
    """Add a unit (a place of service)."""
    return _new(Unit)


@bp.route("/admin/catalog/units/<unit_code>", methods=["GET", "POST"])
@staff_required(Role.ADMIN)
def admin_unit_edit(unit_code: str) -> ResponseReturnValue:
    """Correct a unit: names, kind, address, opening hours, active."""
    return _edit(Unit, unit_code)
