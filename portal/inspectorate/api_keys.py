"""Admin page of trusted intake gateways: make a key (shown once), list, revoke."""

from __future__ import annotations

from flask import redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import lazy_gettext as _l
from werkzeug.exceptions import NotFound
from wtforms import RadioField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, NumberRange

from portal.forms import IntegerField, PortalForm, max_length, strip_whitespace
from portal.inspectorate import bp
from portal.inspectorate.access import signed_in_staff, staff_required
from portal.inspectorate.forms import ConfirmForm
from portal.labels import CHANNEL_LABELS
from portal.models import Channel, Role
from portal.services import api_keys
from portal.transaction import atomic


class NewApiKeyForm(PortalForm):
    """A gateway or partner app, its channel and its hourly budget."""

    name = StringField(
        _l("Name of the gateway or app"),
        filters=[strip_whitespace],
        validators=[DataRequired(_l("Name the gateway or app.")), max_length(80)],
    )
    channel = RadioField(
        _l("Channel its reports are recorded with"),
        choices=[
            SelectChoice(channel.value, CHANNEL_LABELS[channel])
            for channel in api_keys.GATEWAY_CHANNELS
        ],
        validators=[InputRequired(_l("Choose one."))],
    )
    reports_per_hour = IntegerField(
        _l("Reports it may file per hour"),
        default=1000,
        validators=[
            InputRequired(),
            NumberRange(
                min=1,
                max=api_keys.MAX_REPORTS_PER_HOUR,
                message=_l("Enter a number from %(min)s to %(max)s."),
            ),
        ],
    )


def _page(
    form: NewApiKeyForm, *, made: api_keys.NewKey | None = None, status: int = 200
) -> ResponseReturnValue:
    return (
        render_template(
            "inspectorate/admin_api_keys.html",
            form=form,
            keys=api_keys.all_keys(),
            made=made,
            confirm_form=ConfirmForm(),
            revoked=request.args.get("done") == "revoked",
        ),
        status,
    )


@bp.get("/admin/api-keys")
@staff_required(Role.ADMIN)
def admin_api_keys() -> ResponseReturnValue:
    """The gateways' keys: name, channel, budget, last day used; never the key itself."""
    return _page(NewApiKeyForm(formdata=None))


@bp.post("/admin/api-keys")
@staff_required(Role.ADMIN)
def admin_api_key_new() -> ResponseReturnValue:
    """Make a key; the page shows it this once (the database keeps only its hash)."""
    form = NewApiKeyForm()
    if not form.validate():
        return _page(form, status=400)
    with atomic():
        made = api_keys.create(
            actor=signed_in_staff().member,
            name=form.name.data or "",
            channel=Channel(form.channel.data),
            reports_per_hour=int(form.reports_per_hour.data or 1),
        )
    return _page(NewApiKeyForm(formdata=None), made=made, status=201)


@bp.post("/admin/api-keys/<id:key_id>/revoke")
@staff_required(Role.ADMIN)
def admin_api_key_revoke(key_id: int) -> ResponseReturnValue:
    """Stop a key at once; reports it filed stay."""
    if not ConfirmForm().validate():
        return _page(NewApiKeyForm(formdata=None), status=400)
    try:
        with atomic():
            api_keys.revoke(key_id, actor=signed_in_staff().member)
    except api_keys.ApiKeyNotFound as error:
        raise NotFound() from error
    return redirect(url_for("inspectorate.admin_api_keys", done="revoked"), 303)
