"""JSON API v1 views: file a report, read its public status, read the catalogue."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from flask import Response, current_app, jsonify, request
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from werkzeug.datastructures import MultiDict

from portal.api import bp
from portal.citizens.forms import ReportForm
from portal.errors import api_error
from portal.extensions import limiter
from portal.identifiers import InvalidIdentifier, TrackingCode, parse_tracking_code
from portal.models import Category, Channel, Service, Unit
from portal.security import lookup_limit, submit_limit
from portal.services import catalog
from portal.services.reports import NotInitialised, PublicStatus, file_report, public_status

OPENAPI_FILE = Path(__file__).with_name("openapi.json")

TEXT_FIELDS = (
    "category",
    "service",
    "unit",
    "incident_date",
    "who_asked",
    "promised",
    "person_description",
    "chronology",
    "contact",
)
REPORT_FIELDS = frozenset(TEXT_FIELDS) | {"amount_demanded", "paid"}


def _as_form_data(payload: dict[str, Any]) -> tuple[MultiDict[str, str], dict[str, list[str]]]:
    """Check JSON types and turn the payload into form data for ReportForm."""
    errors: dict[str, list[str]] = {}
    data: MultiDict[str, str] = MultiDict()
    for name in sorted(set(payload) - REPORT_FIELDS):
        errors[name] = [_("Unknown field.")]
    for name in TEXT_FIELDS:
        value = payload.get(name)
        if value is None:
            continue
        if not isinstance(value, str):
            errors[name] = [_("Must be a string.")]
        elif not _encodable(value):
            errors[name] = [_("Contains characters that are not valid text.")]
        else:
            data[name] = value
    amount = payload.get("amount_demanded")
    if amount is not None:
        if isinstance(amount, bool) or not isinstance(amount, int):
            errors["amount_demanded"] = [_("Must be a whole number of Rupiah.")]
        else:
            data["amount_demanded"] = str(amount)
    paid = payload.get("paid")
    if paid is not None and not isinstance(paid, bool):
        errors["paid"] = [_("Must be true, false or null.")]
    else:
        data["paid"] = {True: "yes", False: "no", None: "unknown"}[paid]
    return data, errors


def _encodable(value: str) -> bool:
    """JSON may carry lone surrogates (\\ud800) that no UTF-8 text can hold."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


@bp.post("/reports")
@limiter.shared_limit(submit_limit, scope="report-submit")
def create_report() -> ResponseReturnValue:
    """File a report from JSON; answers the tracking code and the one-time receipt."""
    if request.is_json:
        # A JSON report is a few KB; the large limit is for multipart evidence only.
        request.max_content_length = current_app.config["API_JSON_MAX_BYTES"]
    if not request.is_json:
        return api_error(
            415,
            "unsupported_media_type",
            _("Send JSON with the header Content-Type: application/json."),
        )
    try:
        payload = request.get_json(silent=True)
    except RecursionError:  # absurdly deep nesting is malformed, not a crash
        payload = None
    if not isinstance(payload, dict):
        return api_error(400, "malformed_json", _("The body is not a JSON object."))
    data, errors = _as_form_data(payload)
    form = ReportForm(formdata=data, meta={"csrf": False})
    if not form.validate() or errors:
        for name, messages in form.errors.items():
            errors.setdefault(str(name), [str(message) for message in messages])
        return api_error(400, "invalid_report", _("Some fields are missing or invalid."), errors)
    try:
        filed = file_report(
            category=form.category.data or "",
            service=form.service.data or "",
            unit=form.unit.data or "",
            content=form.content(),
            contact=(form.contact.data or "").strip(),
            channel=Channel.API,
        )
    except NotInitialised:
        return api_error(503, "not_initialised", _("The portal is not set up yet."))
    body = {"tracking_code": filed.tracking_code, "receipt": filed.receipt, "status": "received"}
    return jsonify(body), 201


def _status_json(found: PublicStatus) -> dict[str, Any]:
    return {
        "tracking_code": found.tracking_code,
        "status": found.status,
        "category": found.category.code,
        "service": found.service.code,
        "unit": found.unit.code,
        "received_on": found.received_on.isoformat(),
        "timeline": [
            {"status": step.status, "note": step.note, "at": step.on.isoformat()}
            for step in found.timeline
        ],
    }


@bp.get("/reports/<tracking_code>")
@limiter.shared_limit(lookup_limit, scope="status-lookup")
def report_status(tracking_code: str) -> ResponseReturnValue:
    """Public status of a report by tracking code (forgiving of how it is typed)."""
    try:
        canonical = parse_tracking_code(tracking_code, current_app.config["CITY_PREFIX"])
    except InvalidIdentifier:
        canonical = TrackingCode("-")
    found = public_status(canonical)
    if found is None:
        return api_error(404, "not_found", _("No report has this tracking code."))
    return jsonify(_status_json(found))


@bp.get("/catalog")
def catalog_list() -> ResponseReturnValue:
    """Codes and names of the categories, services and units the form offers."""
    return jsonify(
        {
            "categories": [
                {"code": row.code, "name_id": row.name_id, "name_en": row.name_en}
                for row in catalog.active(Category)
            ],
            "services": [
                {
                    "code": row.code,
                    "name_id": row.name_id,
                    "name_en": row.name_en,
                    "fee_rupiah": row.fee_rupiah,
                    "legal_basis": row.legal_basis,
                }
                for row in catalog.active(Service)
            ],
            "units": [
                {"code": row.code, "name_id": row.name_id, "name_en": row.name_en, "kind": row.kind}
                for row in catalog.active(Unit)
            ],
        }
    )


@bp.get("/openapi.json")
def openapi() -> ResponseReturnValue:
    """The OpenAPI 3.1 description of this API."""
    document = json.loads(OPENAPI_FILE.read_text())
    return Response(json.dumps(document, indent=2), mimetype="application/json")
