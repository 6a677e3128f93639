"""Security settings that apply to every response and every request, in one place."""

from __future__ import annotations

import logging
import re

from flask import Flask, Response, current_app, request
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter, Map

from portal import crypto

# No inline script or style, nothing from another host, no framing, forms only to us.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    ]
)

STATIC_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), interest-cohort=()",
}


# Row ids are SQL BIGINTs: a larger number in a URL cannot name a row, and SQLite's
# driver raises OverflowError on it, so such URLs do not match (404) instead.
MAX_ROW_ID = 2**63 - 1


class RowId(IntegerConverter):
    """`<id:name>` in a route: a positive row id that fits a BIGINT."""

    def __init__(self, map: Map) -> None:
        super().__init__(map, min=1, max=MAX_ROW_ID)


def via_onion_service() -> bool:
    """Whether this request came through the onion service's own local port."""
    port = current_app.config.get("ONION_SERVICE_PORT")
    return port is not None and request.environ.get("SERVER_PORT") == str(port)


def client_key() -> str:
    """Rate-limit key: a keyed hash of the client address, never the address itself.

    Tor users have no address of their own: together they are one client, "onion".
    """
    address = "onion" if via_onion_service() else (request.remote_addr or "unknown")
    return crypto.keyed_hash(current_app.config["SECRET_KEY"], "rate-limit", address)


def limit(name: str) -> str:
    """The limit RATELIMIT_<name>, or its onion-service profile RATELIMIT_ONION_<name>."""
    prefix = "RATELIMIT_ONION_" if via_onion_service() else "RATELIMIT_"
    return str(current_app.config[prefix + name])


def submit_limit() -> str:
    """Reports filed per address, shared by the HTML form and the API."""
    return limit("REPORT_SUBMIT")


def lookup_limit() -> str:
    """Status lookups per address, shared by the status page and the API."""
    return limit("STATUS_LOOKUP")


def add_headers(response: Response) -> Response:
    """Set the strict headers on every response; no-store on everything but static files."""
    for name, value in STATIC_HEADERS.items():
        response.headers.setdefault(name, value)
    if request.endpoint != "static":
        response.headers["Cache-Control"] = "no-store"
        response.headers["Pragma"] = "no-cache"
    if current_app.config["HSTS"]:
        response.headers["Strict-Transport-Security"] = "max-age=63072000; includeSubDomains"
    onion = current_app.config["ONION_LOCATION"]
    if onion:
        response.headers["Onion-Location"] = onion + request.full_path.rstrip("?")
    return response


class ScrubClientAddress(logging.Filter):
    """Blank the client address that Werkzeug's request log puts first on each line."""

    _LEADING_ADDRESS = re.compile(r"^\S+ - - \[")

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record in place; never drop it."""
        if isinstance(record.msg, str):
            record.msg = self._LEADING_ADDRESS.sub("- - - [", record.msg)
        return True


def register(app: Flask) -> None:
    """Install headers, proxy handling and log scrubbing on the app."""
    from portal import requests

    requests.install()
    app.url_map.converters["id"] = RowId
    app.after_request(add_headers)
    if app.config["PROXY_COUNT"]:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=app.config["PROXY_COUNT"])  # type: ignore[method-assign]
    werkzeug_log = logging.getLogger("werkzeug")
    if not any(isinstance(f, ScrubClientAddress) for f in werkzeug_log.filters):
        werkzeug_log.addFilter(ScrubClientAddress())
    # Flask-Limiter logs limit keys at INFO; keys are hashes, but keep logs quiet anyway.
    logging.getLogger("flask-limiter").setLevel(logging.WARNING)
