"""Inspectorate blueprint: staff sign-in, triage queue, case handling, admin, audit log."""

from flask import Blueprint

bp = Blueprint("inspectorate", __name__, url_prefix="/inspectorate")

from portal.inspectorate import auth, navigation  # noqa: E402,F401
