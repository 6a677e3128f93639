"""API v1 views: file a report (JSON, or multipart with evidence), read status and catalogue."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

from flask import Response, current_app, g, jsonify, request
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from werkzeug.datastructures import FileStorage
from werkzeug.exceptions import RequestEntityTooLarge

from portal.api import bp
from portal.errors import api_error
from portal.evidence import CleanFile
from portal.extensions import limiter
from portal.identifiers import InvalidIdentifier, TrackingCode, parse_tracking_code
from portal.models import ApiKey, Category, Channel, Service, Unit
from portal.security import LOOKUP_SCOPE, counted, lookup_limit, submit_limit
from portal.services import api_keys, catalog, evidence_store, intake, reports
from portal.services.reports import PublicStatus, public_status
from portal.transaction import atomic

OPENAPI_FILE = intake.OPENAPI_FILE

# multipart/form-data: the report as JSON in one part, evidence files in the other.
MULTIPART = "multipart/form-data"
REPORT_PART = "report"
FILES_PART = "files"


class Refusal(Exception):
    """An error answer instead of a filed report, raised while reading the request."""

    def __init__(
        self, status: int, code: str, message: str, fields: dict[str, list[str]] | None = None
    ) -> None:
        super().__init__(code)  # the code only: a logged refusal shows no content
        self.status = status
        self.code = code
        self.message = message
        self.fields = fields

    def response(self) -> tuple[Response, int]:
        """The refusal in the API's error shape."""
        return api_error(self.status, self.code, self.message, self.fields)


def _json_body() -> dict[str, Any]:
    """The report of an application/json request."""
    # A JSON report is a few KB; the large limit is for multipart evidence only.
    request.max_content_length = current_app.config["API_JSON_MAX_BYTES"]
    try:
        payload = request.get_json(silent=True)
    except RecursionError:  # absurdly deep nesting is malformed, not a crash
        payload = None
    if not isinstance(payload, dict):
        raise Refusal(400, "malformed_json", _("The body is not a JSON object."))
    return payload


def _multipart_body() -> tuple[dict[str, Any], list[FileStorage]]:
    """The report and the evidence uploads of a multipart/form-data request.

    The report is the JSON object of the part `report` (a text field, or a file part
    as some clients send a JSON blob); the evidence is every file part `files`.
    MAX_CONTENT_LENGTH caps the whole body: Werkzeug answers 413 before reading it.
    Any other part is refused, so that evidence sent under a wrong name is never
    silently left out.
    """
    form, uploads = request.form, request.files
    texts = form.getlist(REPORT_PART)
    blobs = uploads.getlist(REPORT_PART)
    if len(texts) + len(blobs) != 1:
        message = _('Send the report as one JSON object in the part "report".')
        raise Refusal(400, "malformed_json", message, {REPORT_PART: [message]})
    payload = _json_object(texts[0] if texts else _read_report_file(blobs[0]))
    if not isinstance(payload, dict):
        message = _('The part "report" is not a JSON object.')
        raise Refusal(400, "malformed_json", message, {REPORT_PART: [message]})
    unknown = {
        str(name): [_("Unknown field.")]
        for name in sorted((set(form) | set(uploads)) - {REPORT_PART, FILES_PART})
    }
    if FILES_PART in form:  # a part without a file name is text, not a file
        unknown[FILES_PART] = [_("Send each file as a file part, with a file name.")]
    if unknown:
        raise Refusal(400, "invalid_report", _("Some fields are missing or invalid."), unknown)
    return payload, uploads.getlist(FILES_PART)


def _read_report_file(upload: FileStorage) -> str | None:
    """The text of a `report` sent as a file part, held to the limit of a text field."""
    limit = request.max_form_memory_size
    data = upload.stream.read(-1 if limit is None else limit + 1)
    if limit is not None and len(data) > limit:
        raise RequestEntityTooLarge()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _json_object(text: str | None) -> Any:
    """The JSON value of `text`; None when it is not JSON at all."""
    if text is None:
        return None
    try:
        return current_app.json.loads(text)
    except (ValueError, RecursionError):
        return None


def _clean_evidence(uploads: list[FileStorage]) -> list[CleanFile]:
    """Cleaned copies of the uploads; too many files are refused before any is read."""
    evidence_store.check_file_count(None, sum(1 for upload in uploads if upload.filename))
    return evidence_store.read_uploads(uploads)


def _refused(refused: intake.Refusal) -> ResponseReturnValue:
    """A refused filing in the API's error shape; evidence refusals name the part `files`."""
    fields = dict(refused.fields)
    if intake.EVIDENCE in fields:
        fields[FILES_PART] = fields.pop(intake.EVIDENCE)
    response, status = api_error(refused.status, refused.code, refused.message, fields)
    if refused.retry_after is not None:
        response.headers["Retry-After"] = str(refused.retry_after)
    return response, status


def _origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def refuse_cross_site() -> None:
    """Refuse a report a web page of another site makes its visitor's browser send.

    A browser sends a form or multipart POST to any site without asking first (no CORS
    preflight), with the page's Origin and Sec-Fetch-Site headers: without this, any
    web page could file reports through its visitors. Apps and gateways send no Origin.
    """
    origin = request.headers.get("Origin")
    ours = {_origin_of(request.host_url), _origin_of(current_app.config["PUBLIC_BASE_URL"])}
    cross = request.headers.get("Sec-Fetch-Site") == "cross-site"
    if cross or (origin is not None and origin.lower() not in ours):
        raise Refusal(
            403,
            "cross_site",
            _("Reports cannot be sent from another website. Use the form on this site."),
        )


def gateway() -> ApiKey | None:
    """The trusted gateway's key this request carries (`Authorization: Bearer lpk_...`)."""
    if "gateway" not in g:
        header = request.headers.get("Authorization", "")
        scheme, _sep, secret = header.partition(" ")
        g.gateway = api_keys.find_active(secret.strip()) if scheme.lower() == "bearer" else None
    found: ApiKey | None = g.gateway
    return found


def _with_gateway() -> bool:
    return gateway() is not None


def _without_gateway() -> bool:
    return gateway() is None


def _gateway_limit() -> str:
    """A gateway's own budget: it speaks for many people, so no per-address limit applies."""
    found = gateway()
    return f"{found.reports_per_hour if found else 1} per hour"


def _gateway_id() -> str:
    found = gateway()
    return f"api-key/{found.id}" if found else "api-key/none"


def _check_caller(multipart: bool) -> ApiKey | None:
    """The gateway key, or a refusal for what only a gateway may send."""
    found = gateway()
    if "Authorization" in request.headers and found is None:
        raise Refusal(401, "invalid_api_key", _("This API key is not valid or was revoked."))
    if found is None:
        refuse_cross_site()
        if multipart:
            raise Refusal(
                401,
                "api_key_required",
                _(
                    "Reports with evidence files are accepted from registered apps and gateways"
                    " only. Use the form on this site to send files."
                ),
            )
    return found


@bp.post("/reports")
@limiter.shared_limit(submit_limit, scope="report-submit", exempt_when=_with_gateway)
@limiter.limit(_gateway_limit, key_func=_gateway_id, exempt_when=_without_gateway)
def create_report() -> ResponseReturnValue:
    """File a report from JSON, or from multipart form data with evidence files.

    Answers the tracking code and the one-time receipt. Nothing is stored unless the
    report and every file are accepted. A gateway's key records its channel and gives
    it its own limit; multipart and cross-site requests need one.
    """
    uploads: list[FileStorage] = []
    try:
        key = _check_caller(multipart=request.mimetype == MULTIPART)
        if request.is_json:
            payload = _json_body()
        elif request.mimetype == MULTIPART:
            payload, uploads = _multipart_body()
        else:
            raise Refusal(
                415,
                "unsupported_media_type",
                _(
                    "Send JSON with the header Content-Type: application/json, or "
                    'multipart/form-data with the report in the part "report".'
                ),
            )
    except Refusal as refusal:
        response, status = refusal.response()
        if status == 401:
            response.headers["WWW-Authenticate"] = 'Bearer realm="lapor-pungli"'
        return response, status
    try:
        report = intake.from_json(payload, channel=Channel(key.channel) if key else Channel.API)
        report = intake.with_evidence(report, _clean_evidence(uploads))
        receipt = reports.new_receipt_key()  # slow: before the write transaction opens
        with atomic():
            filed = reports.file_report(report, receipt)
            if key is not None:
                api_keys.mark_used(key)
    except intake.REFUSED as error:
        return _refused(intake.refusal(error))
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
@counted(lookup_limit, scope=LOOKUP_SCOPE)
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
    # The same answer for everyone: serialised once per catalogue version (catalog.cached).
    body = catalog.cached(("catalog_list",), lambda: current_app.json.dumps(_catalog_json()) + "\n")
    return current_app.response_class(body, mimetype="application/json")


def _catalog_json() -> dict[str, Any]:
    """The catalogue as the API answers it."""
    return {
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


@bp.get("/openapi.json")
def openapi() -> ResponseReturnValue:
    """The OpenAPI 3.1 description of this API."""
    document = json.loads(OPENAPI_FILE.read_text())
    return Response(json.dumps(document, indent=2), mimetype="application/json")
