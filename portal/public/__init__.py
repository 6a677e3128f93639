"""Public blueprint: home page, status by tracking code, language switch."""

from flask import Blueprint

bp = Blueprint("public", __name__)

from portal.public import (  # noqa: E402,F401  (each module adds its views to bp)
    catalog,
    publications,
    routes,
    transparency,
)
