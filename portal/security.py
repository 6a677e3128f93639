"""Security settings that apply to every response and every request, in one place."""

from __future__ import annotations

import functools
import logging
import re
import time
from collections.abc import Callable
from typing import Any, TypeVar, cast

from flask import Flask, Response, current_app, g, request
from flask.sessions import SecureCookieSessionInterface
from flask_limiter import ExemptionScope, Limiter
from itsdangerous import URLSafeTimedSerializer
from limits import RateLimitItem, parse
from werkzeug.exceptions import TooManyRequests
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter, Map

from portal import limitkeys
from portal.signing import KeptKeySigner, KeptSignerSerializer

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


def client_address() -> str:
    """Who the client is for limits: its address, or "onion" for every Tor user together.

    Never stored as it is: it only reaches keyed hashes under the rotating secret
    (`client_key`, and the failure counters of portal.services.throttle).
    """
    return "onion" if via_onion_service() else (request.remote_addr or "unknown")


def client_key() -> str:
    """Rate-limit key: a keyed hash of the client address under a rotating in-memory secret.

    Made once per request (every limit of a route asks for it) and kept on `g`, which
    ends with the request.
    """
    key = g.get("_portal_client_key")
    if key is None:
        key = g._portal_client_key = limitkeys.key("rate-limit", client_address())
    return str(key)


def limit(name: str) -> str:
    """The limit RATELIMIT_<name>, or its onion-service profile RATELIMIT_ONION_<name>."""
    prefix = "RATELIMIT_ONION_" if via_onion_service() else "RATELIMIT_"
    return str(current_app.config[prefix + name])


def submit_limit() -> str:
    """Reports filed per address, shared by the HTML form and the API."""
    return limit("REPORT_SUBMIT")


# Status lookups by page, form and API share one budget per address.
LOOKUP_SCOPE = "status-lookup"


def lookup_limit() -> str:
    """Status lookups per address, shared by the status page and the API."""
    return limit("STATUS_LOOKUP")


# --- The default limit: every request's budget per address -----------------------------

View = TypeVar("View", bound=Callable[..., Any])

# The storage scope of the default limit (Flask-Limiter's named limits have their own).
DEFAULT_SCOPE = "default"


@functools.lru_cache(maxsize=64)
def _parsed(text: str) -> RateLimitItem:
    return parse(text)


def spend(budget: str, scope: str) -> None:
    """Count this request against `budget` for its address in `scope`; 429 past it.

    One hit on the limiter's own strategy and storage (memory or Redis), keyed as
    Flask-Limiter keys its limits: [RATELIMIT_KEY_PREFIX,] keyed address, scope.
    """
    from portal.extensions import limiter  # the extensions import this module

    if not limiter.enabled:
        return
    prefix = current_app.config.get("RATELIMIT_KEY_PREFIX")
    keys = (prefix, client_key(), scope) if prefix else (client_key(), scope)
    if not limiter.limiter.hit(_parsed(budget), *keys):
        raise TooManyRequests()


def counted(budget: Callable[[], str], scope: str) -> Callable[[View], View]:
    """Decorate a view: each request spends one of `budget()` per address, shared by scope.

    For the hot lookups (status pages, the status API): what `@limiter.shared_limit` does,
    in one storage hit instead of Flask-Limiter's resolution of every limit it knows.
    """

    def decorate(view: View) -> View:
        @functools.wraps(view)
        def limited(*args: Any, **kwargs: Any) -> Any:
            spend(budget(), scope)
            return view(*args, **kwargs)

        return cast(View, limited)

    return decorate


def install_default_limit(app: Flask, limiter: Limiter) -> None:
    """Check RATELIMIT_DEFAULT on every request in one storage hit (`spend`).

    Flask-Limiter's own before-request pass resolves decorators, blueprints, exemptions
    and meta limits on every request: about 0.3 ms of CPU, more than a stored page costs
    to serve (its after-request and teardown hooks run on every request too). The portal
    has one default limit, the lookup limit (`counted`) and a few named ones on the routes
    that carry them (`@limiter.limit`, `@limiter.shared_limit`, still checked by
    Flask-Limiter), so the default is counted here, with the limiter's own strategy and
    storage, and Flask-Limiter's generic hooks are taken out. `@limiter.exempt` still
    exempts from the default.
    """
    before = app.before_request_funcs.setdefault(None, [])
    if limiter._check_request_limit in before:
        before.remove(limiter._check_request_limit)
    # Its after-request hook sends limit headers (off: RATELIMIT_HEADERS_ENABLED, they
    # would tell a guesser its budget) and applies `deduct_when` (no limit here has one);
    # its teardown resets state kept on the request context, which ends with the request.
    if not app.config["RATELIMIT_HEADERS_ENABLED"]:
        after = app.after_request_funcs.setdefault(None, [])
        after[:] = [hook for hook in after if getattr(hook, "args", ()) != (limiter,)]
    teardown = app.teardown_request_funcs.setdefault(None, [])
    teardown[:] = [hook for hook in teardown if getattr(hook, "__self__", None) is not limiter]
    exempt: dict[str | None, bool] = {}

    def check_default_limit() -> None:
        endpoint = request.endpoint
        if endpoint not in exempt:
            scope = limiter.limit_manager.exemption_scope(app, endpoint, request.blueprint)
            exempt[endpoint] = (
                endpoint is None
                or endpoint.rsplit(".", 1)[-1] == "static"
                or bool(scope & ExemptionScope.DEFAULT)
            )
        if not exempt[endpoint]:
            spend(str(current_app.config["RATELIMIT_DEFAULT"]), DEFAULT_SCOPE)

    app.before_request(check_default_limit)


_STATIC_HEADER_NAMES = {name.lower(): name for name in STATIC_HEADERS}


def add_headers(response: Response) -> Response:
    """Set the strict headers on every response; no-store on everything but static files."""
    headers = response.headers
    # The headers a view set itself win (as setdefault would), found in one pass.
    own = {key.lower() for key, _value in headers.items()} & _STATIC_HEADER_NAMES.keys()
    for lower, name in _STATIC_HEADER_NAMES.items():
        if lower not in own:
            headers.add(name, STATIC_HEADERS[name])
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
    """Keep only method and status of the development server's request log lines.

    Werkzeug writes "address - - [time] "GET /status/SRG-... HTTP/1.1" 200 -": the address,
    the second and the path (a tracking code, a period someone looked up) would together
    say who looked at what when. What is left: "- - - [-] "GET - HTTP/1.1" 200 -".
    """

    _LEADING = re.compile(r"^\S+ - - \[[^\]]*\]")
    _REQUEST_LINE = re.compile(r"^(\S+) \S+( HTTP/[\d.]+)?$")
    _COLOUR = re.compile(r"\x1b\[[0-9;]*m")  # Werkzeug colours the line on a terminal

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record in place; never drop it."""
        if isinstance(record.msg, str) and self._LEADING.match(record.msg):
            record.msg = self._LEADING.sub("- - - [-]", record.msg)
            if isinstance(record.args, tuple) and record.args and isinstance(record.args[0], str):
                plain = self._COLOUR.sub("", record.args[0])
                line = self._REQUEST_LINE.sub(r"\1 -\2", plain)
                if line == plain:  # not a request line as expected: keep nothing of it
                    line = "-"
                record.args = (line, *record.args[1:])
        return True


class _DayStampSigner(KeptKeySigner):
    """Signs the session cookie with the start of the day (UTC), not the second."""

    def get_timestamp(self) -> int:
        """The day, in seconds since the epoch: a cookie never records when it was set."""
        now = int(time.time())
        return now - now % 86_400


class _DayStampSerializer(KeptSignerSerializer):
    """Flask's session serializer with a day-grained signature time."""

    default_signer = _DayStampSigner


class DayStampSessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session whose signature carries the day only.

    The session cookie holds the CSRF token; with Flask's own signer it would also hold
    the second it was written, which, beside a report's day, narrows who filed it.
    """

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        """Flask's serializer (secret key and fallbacks) with the day-stamp signer.

        Made once per set of keys and kept on the app: every request opens a session.
        """
        if not app.secret_key:
            return None
        keys: list[str | bytes] = [*(app.config["SECRET_KEY_FALLBACKS"] or []), app.secret_key]
        kept = app.extensions.get("portal.session_serializer")
        if kept is not None and kept[0] == keys:
            return kept[1]
        serializer = self._serializer(keys)
        app.extensions["portal.session_serializer"] = (keys, serializer)
        return serializer

    def _serializer(self, keys: list[str | bytes]) -> URLSafeTimedSerializer:
        return _DayStampSerializer(
            keys,
            salt=self.salt,
            serializer=self.serializer,
            signer_kwargs={
                "key_derivation": self.key_derivation,
                "digest_method": self.digest_method,
            },
        )


def register(app: Flask) -> None:
    """Install headers, proxy handling and log scrubbing on the app."""
    from portal import requests

    requests.install()
    app.url_map.converters["id"] = RowId
    app.after_request(add_headers)
    app.session_interface = DayStampSessionInterface()
    if app.config["PROXY_COUNT"]:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=app.config["PROXY_COUNT"])  # type: ignore[method-assign]
    werkzeug_log = logging.getLogger("werkzeug")
    if not any(isinstance(f, ScrubClientAddress) for f in werkzeug_log.filters):
        werkzeug_log.addFilter(ScrubClientAddress())
    # Flask-Limiter logs limit keys at INFO; keys are hashes, but keep logs quiet anyway.
    logging.getLogger("flask-limiter").setLevel(logging.WARNING)
