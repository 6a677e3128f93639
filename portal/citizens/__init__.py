"""Citizen blueprint: the report form, its review step and the one-time receipt page."""

from flask import Blueprint

bp = Blueprint("citizens", __name__)

from portal.citizens import inbox, routes  # noqa: E402,F401
