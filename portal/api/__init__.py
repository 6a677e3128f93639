"""JSON API v1 for other intake channels and for media; described in openapi.json."""

from flask import Blueprint

from portal.extensions import csrf

bp = Blueprint("api", __name__)
# The API takes JSON only (enforced per view), which a browser cannot send cross-site
# without a CORS preflight that we never answer, and it uses no cookies: CSRF does not apply.
csrf.exempt(bp)

from portal.api import (  # noqa: E402,F401  (each module adds its views to bp)
    publications,
    routes,
    stats,
)
