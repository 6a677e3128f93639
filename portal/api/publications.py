"""API v1: the register of publications as JSON (operation `listPublications`)."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import current_app, jsonify, request
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from portal.api import bp
from portal.errors import api_error
from portal.months import month_key
from portal.public.publications import MAX_PAGE, public_url
from portal.services import publication
from portal.services.publication import PublicationView


def _month(value: date | None) -> str | None:
    """A month as YYYY-MM: public dates are never finer."""
    return month_key(value) if value else None


def publication_json(item: PublicationView) -> dict[str, Any]:
    """One publication: catalogue codes, months, rounded Rupiah; no names, no days."""
    return {
        "id": item.public_id,
        "url": public_url("public.publication_page", public_id=item.public_id),
        "title": item.title,
        "summary": item.summary,
        "category": item.category_code,
        "service": item.service_code,
        "unit": item.unit_code,
        "incident_month": _month(item.incident_month),
        "resolved_month": _month(item.resolved_month),
        "published_month": _month(item.published_month),
        "outcome": item.outcome,
        "sanction": item.sanction,
        "refund_rupiah": item.refund_rupiah,
    }


@bp.get("/publications")
def publications_list() -> ResponseReturnValue:
    """Publications, newest approval first, one page at a time."""
    raw = request.args.get("page", "1")
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_PAGE:
        message = _("Enter a page number from 1 to %(max)s.", max=MAX_PAGE)
        return api_error(400, "invalid_page", message, {"page": [message]})
    page = int(raw)
    found = publication.public_page(
        page=page, per_page=current_app.config["PUBLICATIONS_PAGE_SIZE"]
    )
    return jsonify(
        {
            "publications": [publication_json(item) for item in found.publications],
            "page": page,
            "next_page": page + 1 if found.has_next else None,
        }
    )
