"""Inspectorate blueprint: staff sign-in, triage queue, case handling, admin, audit log."""

from flask import Blueprint

bp = Blueprint("inspectorate", __name__, url_prefix="/inspectorate")

from portal.inspectorate import (  # noqa: E402,F401  (each module adds its views to bp)
    admin,
    api_keys,
    audit,
    auth,
    cases,
    catalog_admin,
    navigation,
    operator,
    publication,
    queue,
)
