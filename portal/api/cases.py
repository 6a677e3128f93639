"""API v1: the register of published cases as JSON (operation `listCases`)."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import current_app, jsonify, request
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from portal.api import bp
from portal.errors import api_error
from portal.months import month_key
from portal.public.cases import MAX_PAGE, public_url
from portal.services import publication
from portal.services.publication import PublicCase


def _month(value: date | None) -> str | None:
    """A month as YYYY-MM: public dates are never finer."""
    return month_key(value) if value else None


def case_json(case: PublicCase) -> dict[str, Any]:
    """One published case: catalogue codes, months, rounded Rupiah; no names, no days."""
    return {
        "id": case.public_id,
        "url": public_url("public.cases_page", public_id=case.public_id),
        "title": case.title,
        "summary": case.summary,
        "category": case.category_code,
        "service": case.service_code,
        "unit": case.unit_code,
        "incident_month": _month(case.incident_month),
        "resolved_month": _month(case.resolved_month),
        "published_month": _month(case.published_month),
        "outcome": case.outcome,
        "sanction": case.sanction,
        "refund_rupiah": case.refund_rupiah,
    }


@bp.get("/cases")
def cases_list() -> ResponseReturnValue:
    """Published cases, newest approval first, one page at a time."""
    raw = request.args.get("page", "1")
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_PAGE:
        message = _("Enter a page number from 1 to %(max)s.", max=MAX_PAGE)
        return api_error(400, "invalid_page", message, {"page": [message]})
    page = int(raw)
    found = publication.public_page(
        page=page, per_page=current_app.config["PUBLISHED_CASES_PAGE_SIZE"]
    )
    return jsonify(
        {
            "cases": [case_json(case) for case in found.cases],
            "page": page,
            "next_page": page + 1 if found.has_next else None,
        }
    )
