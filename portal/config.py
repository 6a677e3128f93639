"""Configuration defaults, environment overrides and validation.

Every cost and limit lives here so tests can lower it through config instead of
patching code. Production values are the defaults; nothing here is weakened for tests.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from flask import Flask

# Argon2id cost for keys derived from a reporter's receipt and a staff password.
# 64 MiB, 3 passes, 4 lanes: about 0.2 s on one core, well above OWASP's minimum.
# Each wrapped key stores the parameters it was made with, so raising these later
# does not lock anyone out.
KDF_DEFAULTS = {"memory_kib": 65536, "iterations": 3, "lanes": 4}


class DefaultConfig:
    """Production-safe defaults. Instance config and environment may override them."""

    # Locale: Bahasa Indonesia first, English second.
    BABEL_DEFAULT_LOCALE = "id"
    BABEL_DEFAULT_TIMEZONE = "Asia/Jakarta"
    LANGUAGES = ("id", "en")

    # City: the prefix of every tracking code and the name shown on pages.
    CITY_PREFIX = "SRG"
    CITY_NAME = "Kota Serang"

    # Working days allowed per status (DESIGN.md, "Report lifecycle").
    DEADLINE_WORKING_DAYS = {"received": 3, "needs_info": 10, "verified": 5, "in_progress": 14}
    # Reports per page of the triage queue. Pages are keyset pages, so a deep page costs
    # the same as the first; 50 rows fit one screen of a wide table and stay light.
    QUEUE_PAGE_SIZE = 50
    # Months a closed report is kept before its keys are shredded. An admin may change it
    # (and the deadlines above) on the settings page; stored values win over these defaults.
    RETENTION_MONTHS = 24
    # How often `flask purge` runs (the systemd timer in the README runs it daily); the
    # admin page names the next run from the last one and warns when a run is missed.
    RETENTION_RUN_INTERVAL_HOURS = 24
    # Published cases: per page of the public register (/kasus) and of /api/v1/cases;
    # entries in the Atom feed (a newsroom polls it, so the newest are enough); and
    # resolved reports per page of the staff list of summaries still to write.
    PUBLISHED_CASES_PAGE_SIZE = 20
    PUBLISHED_CASES_FEED_SIZE = 50
    PUBLICATION_CANDIDATES_PAGE_SIZE = 50

    # Sessions: a reporter's inbox closes after 15 idle minutes; staff after 30, and
    # after 12 hours whatever they do.
    REPORTER_SESSION_IDLE_MINUTES = 15
    REPORTER_SESSION_MAX_MINUTES = 120
    STAFF_SESSION_IDLE_MINUTES = 30
    STAFF_SESSION_MAX_MINUTES = 12 * 60
    # Guessing (docs/threat-model.md, "Guessing"). Wrong receipts allowed per tracking
    # code *from one address* before that address is locked out of that code for the
    # rest of the window (never the code itself: a stranger knows the public code, so a
    # lock on the code would lock its reporter out); and inbox sign-ins per address.
    RATELIMIT_RECEIPT_FAILURES = "5 per hour"
    RATELIMIT_INBOX_LOGIN = "20 per hour"
    # Staff: failed logins per account from one address (or from one trusted device);
    # failed logins per account from all devices that never signed in to it, past which
    # only its trusted devices may try; and logins per address.
    RATELIMIT_STAFF_FAILURES = "5 per 15 minutes"
    RATELIMIT_STAFF_ACCOUNT_FAILURES = "10 per hour"
    RATELIMIT_STAFF_LOGIN = "30 per hour"
    # Days a browser that signed in stays a trusted device of that member's account.
    STAFF_DEVICE_DAYS = 90

    # Key derivation costs (see KDF_DEFAULTS).
    RECEIPT_KDF = dict(KDF_DEFAULTS)
    PASSWORD_KDF = dict(KDF_DEFAULTS)
    # At most this many Argon2id runs at once per process (each holds 64 MiB and its lanes'
    # cores for a fraction of a second); a request waits at most KDF_SLOT_WAIT_SECONDS for
    # a slot, then gets 503 with Retry-After instead of piling up on the CPU and memory.
    KDF_SLOTS = os.cpu_count() or 1
    KDF_SLOT_WAIT_SECONDS: float = 5
    # A derivation must never run while the request holds a database transaction (it
    # would keep a pooled connection for the whole derivation). Tests (TESTING, or this
    # set) refuse it with an error; production logs a warning and carries on.
    KDF_FORBID_HELD_CONNECTION = False

    # Rate limits (Flask-Limiter syntax). Keys are keyed hashes of the address.
    RATELIMIT_STORAGE_URI = "memory://"
    # Limiter keys are hashed under an in-memory secret that changes this often and is
    # forgotten two periods later (portal.limitkeys); at least the longest limit window.
    RATELIMIT_KEY_ROTATION_SECONDS = 3600
    RATELIMIT_DEFAULT = "300 per minute"
    RATELIMIT_REPORT_SUBMIT = "10 per hour"
    RATELIMIT_STATUS_LOOKUP = "30 per minute"
    RATELIMIT_HEADERS_ENABLED = False

    # Evidence: count and size per report; pixels per image (decompression bombs).
    EVIDENCE_MAX_FILES = 5
    EVIDENCE_MAX_BYTES = 10 * 1024 * 1024
    EVIDENCE_MAX_PIXELS = 40_000_000  # a 40-megapixel photo; larger is refused

    # Request bodies larger than this are refused before they are read: room for a
    # full set of evidence plus the form.
    MAX_CONTENT_LENGTH = 5 * 10 * 1024 * 1024 + 256 * 1024
    # A JSON report without files is a few KB.
    API_JSON_MAX_BYTES = 64 * 1024
    # Form fields (not files) are held in memory; keep them small.
    MAX_FORM_MEMORY_SIZE = 256 * 1024

    # Cookies: HttpOnly always; Secure must be turned on behind HTTPS (see README).
    SESSION_COOKIE_NAME = "lp_session"
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = False
    WTF_CSRF_TIME_LIMIT = 3600 * 4

    # The address citizens type or scan: printed posters carry QR codes and short links to
    # the report form built from it, so it must be the public address, not the server's.
    # Unset, posters are refused (a poster printing this machine's address misleads every
    # reader); other absolute links fall back to the address the request came to.
    PUBLIC_BASE_URL: str | None = None

    # Public statistics (DESIGN.md, "Public transparency"). A published count of 1 to
    # STATS_MIN_CELL - 1 reports is shown as "< k", so that no number points at a person;
    # at least 3, or "< k" would itself give the number away.
    STATS_MIN_CELL = 5
    # The dashboard and the stats API read a snapshot of monthly aggregates, never the
    # reports table. A request finding it older than this rebuilds it (one app server at a
    # time); run `flask stats refresh` from cron to keep requests from ever paying for it.
    STATS_MAX_AGE_SECONDS = 600
    # At a million reports a rebuild takes ~30 s: large instances set this to False and
    # rebuild only from cron (`flask stats refresh`), so no request ever waits for it.
    STATS_REFRESH_IN_REQUESTS = True
    # How long one app server may hold the rebuild before another may take over (a crash).
    STATS_REFRESH_LEASE_SECONDS = 300
    # The licence line of the open data; the publisher defaults to "Inspektorat <CITY_NAME>".
    STATS_LICENCE = "CC BY 4.0"
    STATS_PUBLISHER: str | None = None

    # Published summaries and public notes may link to official sources only: https links
    # to these hosts and their subdomains (portal/sanitize.py). Other links lose their href.
    SANITIZE_LINK_HOSTS: tuple[str, ...] = ("go.id",)

    # Optional: an onion address announced with the Onion-Location header.
    ONION_LOCATION: str | None = None
    # The onion-service profile. Every Tor user reaches the portal from 127.0.0.1, so a
    # per-address budget would be one budget for all of them. Give gunicorn a second bind
    # (e.g. --bind 127.0.0.1:8001) that only Tor's HiddenServicePort forwards to and name
    # it here: requests on it share these budgets, kept apart from any other loopback use.
    ONION_SERVICE_PORT: int | None = None
    RATELIMIT_ONION_REPORT_SUBMIT = "200 per hour"
    RATELIMIT_ONION_STATUS_LOOKUP = "600 per minute"
    RATELIMIT_ONION_INBOX_LOGIN = "400 per hour"
    RATELIMIT_ONION_RECEIPT_FAILURES = "20 per hour"
    # Send HSTS only when the portal is served over HTTPS.
    HSTS = False
    # Number of proxies in front of the app whose X-Forwarded-For may be trusted.
    PROXY_COUNT = 0

    # Audit log entries per page (keyset pages: a deep page costs the same as the first).
    AUDIT_PAGE_SIZE = 50

    # Optional staff notifications by email: off while NOTIFY_SMTP_HOST is None. Mails
    # carry counts and tracking codes only, never report content. The timeout bounds how
    # long filing a report can wait on a slow mail server (sending never fails filing).
    NOTIFY_SMTP_HOST: str | None = None
    NOTIFY_SMTP_PORT = 587
    NOTIFY_SMTP_USER: str | None = None
    NOTIFY_SMTP_PASSWORD: str | None = None
    NOTIFY_SMTP_STARTTLS = True
    NOTIFY_SMTP_TIMEOUT = 5  # seconds, per connection step
    NOTIFY_FROM = "lapor-pungli@localhost"
    NOTIFY_TO: list[str] = []  # staff addresses, e.g. ["inspektorat@serangkota.go.id"]
    # Tracking codes listed in one overdue digest; beyond this only the count is given.
    NOTIFY_DIGEST_MAX_CODES = 200

    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}


# Environment variables an operator may set, and the config key each one fills.
ENVIRONMENT_KEYS = {
    "DATABASE_URL": "SQLALCHEMY_DATABASE_URI",
    "RATELIMIT_STORAGE_URI": "RATELIMIT_STORAGE_URI",
    "SECRET_KEY": "SECRET_KEY",
    "PORTAL_ONION_LOCATION": "ONION_LOCATION",
    "PUBLIC_BASE_URL": "PUBLIC_BASE_URL",
}


def instance_path() -> str:
    """The instance folder: `PORTAL_INSTANCE` or `instance/` beside the package."""
    configured = os.environ.get("PORTAL_INSTANCE")
    if configured:
        return str(Path(configured).resolve())
    return str(Path(__file__).resolve().parent.parent / "instance")


def load(app: Flask, test_config: dict[str, Any] | None) -> None:
    """Fill app.config: defaults, then instance config.py, then environment, then tests."""
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    app.config.from_object(DefaultConfig)
    app.config["SQLALCHEMY_DATABASE_URI"] = "sqlite:///" + os.path.join(
        app.instance_path, "portal.db"
    )
    app.config.from_pyfile("config.py", silent=True)
    for variable, key in ENVIRONMENT_KEYS.items():
        if os.environ.get(variable):
            app.config[key] = os.environ[variable]
    if test_config:
        app.config.update(test_config)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _instance_secret_key(app.instance_path)
    app.config["SECRET_KEY"] = _secret_key_bytes(app.config["SECRET_KEY"])
    _normalise_database_url(app)
    _sqlite_engine_options(app)
    validate(app.config)


def _instance_secret_key(folder: str) -> bytes:
    """Read the instance's secret key, creating it (mode 0600) on first use."""
    path = Path(folder) / "secret_key"
    if not path.exists():
        Path(folder).mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
    return bytes.fromhex(path.read_text().strip())


def _secret_key_bytes(value: str | bytes) -> bytes:
    """The secret key as bytes: text from the environment is hex (64+ digits) or UTF-8."""
    if isinstance(value, bytes):
        return value
    text = value.strip()
    if len(text) >= 64 and len(text) % 2 == 0 and all(c in "0123456789abcdefABCDEF" for c in text):
        return bytes.fromhex(text)
    return text.encode()


def _normalise_database_url(app: Flask) -> None:
    """Let `postgresql://` URLs use psycopg 3, the driver we ship."""
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            app.config["SQLALCHEMY_DATABASE_URI"] = "postgresql+psycopg://" + url[len(prefix) :]


# SQLite lets one writer at a time: another waits this long for the lock (the sqlite3
# default is 5 s) before failing with "database is locked". Key derivations run outside
# transactions, so each write holds the lock for milliseconds; a burst of filings queues.
SQLITE_BUSY_TIMEOUT_SECONDS = 15


def _sqlite_engine_options(app: Flask) -> None:
    """Give SQLite a busy timeout for threaded servers, unless the operator set one.

    The pool stays SQLAlchemy's (5 connections + 10 overflow per process): requests hold
    a connection only while they query, never during a key derivation.
    """
    if not str(app.config["SQLALCHEMY_DATABASE_URI"]).startswith("sqlite"):
        return
    options = dict(app.config["SQLALCHEMY_ENGINE_OPTIONS"])  # never mutate the class default
    options["connect_args"] = {
        "timeout": SQLITE_BUSY_TIMEOUT_SECONDS,
        **options.get("connect_args", {}),
    }
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options


def validate(config: Any) -> None:
    """Refuse to start on settings that would silently weaken the portal."""
    secret = config["SECRET_KEY"]
    if len(secret) < 32:
        raise ValueError("SECRET_KEY must be at least 32 bytes long")
    for name in ("RECEIPT_KDF", "PASSWORD_KDF"):
        costs = config[name]
        if set(costs) != set(KDF_DEFAULTS):
            raise ValueError(f"{name} needs exactly {sorted(KDF_DEFAULTS)}")
    slots = config.get("KDF_SLOTS")
    if isinstance(slots, bool) or not isinstance(slots, int) or slots < 1:
        raise ValueError("KDF_SLOTS must be a whole number of at least 1")
    wait = config.get("KDF_SLOT_WAIT_SECONDS")
    if isinstance(wait, bool) or not isinstance(wait, int | float) or not 0 <= wait <= 60:
        # Beyond a minute the server's own timeouts would answer first, without Retry-After.
        raise ValueError("KDF_SLOT_WAIT_SECONDS must be a number of seconds from 0 to 60")
    if config["BABEL_DEFAULT_LOCALE"] not in config["LANGUAGES"]:
        raise ValueError("BABEL_DEFAULT_LOCALE must be one of LANGUAGES")
    if not isinstance(config.get("STATS_MIN_CELL"), int) or config["STATS_MIN_CELL"] < 3:
        raise ValueError("STATS_MIN_CELL must be a whole number of at least 3")
    base_url = config.get("PUBLIC_BASE_URL")
    if base_url is not None and not str(base_url).startswith(("http://", "https://")):
        raise ValueError("PUBLIC_BASE_URL must start with http:// or https://")
    if config.get("NOTIFY_SMTP_HOST") and not config.get("NOTIFY_TO"):
        raise ValueError("NOTIFY_SMTP_HOST is set: NOTIFY_TO needs at least one address")
