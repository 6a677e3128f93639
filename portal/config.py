"""Configuration defaults, environment overrides and validation.

Every cost and limit lives here so tests can lower it through config instead of
patching code. Production values are the defaults; nothing here is weakened for tests.
One module on purpose: every setting, how the environment overrides it and how it is
checked stand in one visible place (STYLE.md, 7), however long that place is.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flask import Flask
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

# Argon2id cost for keys derived from a staff password (human secrets, guessable from
# dictionaries): 64 MiB, 3 passes, 4 lanes, about 0.2 s of CPU, well above OWASP's minimum.
# Each wrapped key stores the parameters it was made with, so raising these later
# does not lock anyone out.
KDF_DEFAULTS = {"memory_kib": 65536, "iterations": 3, "lanes": 4}

# Argon2id cost for keys derived from a receipt, chosen from the threat rather than by habit.
# A receipt is 20 random digits (66 bits), not a human password: the attacker with a stolen
# database has no dictionary, only the whole space, so each guess needs far less stretching.
# The bar (issue 14): guessing one receipt offline must cost at least 100x guessing one
# GlobaLeaks receipt (16 digits, about 2^53, at 1.6 s per Argon2id guess on this kind of
# machine: 2^53 x 1.6 s). With g seconds per guess that is 2^66 x g >= 100 x 2^53 x 1.6,
# so g >= 100 x 1.6 / 2^13 = 20 ms of one core. 24 MiB, 3 passes, 1 lane takes 33-42 ms of
# one core on the faster of the machines measured (`make bench` prints it: 171-215x the
# bar), so a server half again as fast would still clear 100x; the slower machine took
# 49 ms at two passes, so about 70 ms at three. Two passes cleared the bar by only 18 % on
# the faster machine (23 ms, 118x), and 32 MiB no longer fits the processor's cache there
# (twice the time, memory-bound, for a third more memory). Still memory-hard against GPUs
# (24 MiB per guess in flight); both cores of a small server file 35-45 reports a second
# (above 34/s, 100x GlobaLeaks' 0.34/s). One lane: a guess costs the attacker the
# same core time whatever the lanes, and one lane per derivation lets the server run as
# many at once as it has cores. Memory in flight is bounded by the derivation slots:
# KDF_SLOTS x 24 MiB. Each wrapped key stores the parameters it was made with, so receipts
# made under earlier defaults (64 MiB / t=3 / p=4, 24 MiB / t=2) still open.
RECEIPT_KDF_DEFAULTS = {"memory_kib": 24576, "iterations": 3, "lanes": 1}


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
    # Publications: per page of the public register (/kasus) and of /api/v1/cases;
    # entries in the Atom feed (a newsroom polls it, so the newest are enough); and
    # resolved reports per page of the staff list of summaries still to write.
    PUBLICATIONS_PAGE_SIZE = 20
    PUBLICATIONS_FEED_SIZE = 50
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

    # Key derivation costs: receipts (see RECEIPT_KDF_DEFAULTS), staff passwords (human
    # secrets: KDF_DEFAULTS, at least 64 MiB and 3 passes).
    RECEIPT_KDF = dict(RECEIPT_KDF_DEFAULTS)
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

    # Seconds between two reads of a version token by one app server (the catalogue's, the
    # published statistics', the audit anchors'): pages cached under them show another
    # server's change within this time. 0 reads the token on every request.
    VERSION_CHECK_SECONDS = 1.0

    # Rate limits (Flask-Limiter syntax). Keys are keyed hashes of the address.
    # False switches the request limits off (load tests), never the guessing counters
    # (services/throttle.py). Set explicitly: Flask-Limiter would otherwise keep the last
    # app's value on its process-wide object.
    RATELIMIT_ENABLED = True
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
    # The portal's own log (errors with their scrubbed traceback; see portal/logs.py).
    LOG_LEVEL = "INFO"

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

    # hide_parameters: a database error's message would otherwise carry the bound values
    # (report fields, codes, hashes) into the log; the statement with placeholders remains.
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True, "hide_parameters": True}


# The instance file holding the secret key (hex) when SECRET_KEY is not configured.
# Only `flask setup` writes it (portal/instance.py); everything else only reads it.
INSTANCE_KEY_FILE = "secret_key"
# Sessions, CSRF tokens and the keyed hashes of rate limits all rest on this key.
MIN_SECRET_KEY_BYTES = 32
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
# Rate-limit storages the shipped packages can reach: in-process, or Redis (redis-py; a
# Valkey server speaks the same protocol at redis://).
RATELIMIT_SCHEMES = ("memory", "redis", "rediss", "redis+unix", "redis+sentinel", "redis+cluster")
# More trusted proxies than this is a typo, and trusting a spoofed X-Forwarded-For
# would let one client pose as many to the rate limits.
MAX_PROXY_COUNT = 5


class ConfigError(ValueError):
    """A setting has a value the portal cannot use; the message names it and what it expects."""


# Parsers: text from the environment to a typed value. Each raises ValueError with a short
# detail (never the value of a secret); `from_environment` names the variable around it.

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")
_HEX = re.compile(r"[0-9a-fA-F]+")
_ONION_V3 = re.compile(r"[a-z2-7]{56}\.onion")
_KEY_PREFIX = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
_CITY_PREFIX = re.compile(r"[A-Z]{2,6}")


def parse_bool(text: str) -> bool:
    """`1/true/yes/on` or `0/false/no/off`, any case."""
    if text.lower() in _TRUE:
        return True
    if text.lower() in _FALSE:
        return False
    raise ValueError("not a yes/no value")


def parse_proxy_count(text: str) -> int:
    """A whole number of trusted proxies, 0 to MAX_PROXY_COUNT."""
    if not text.isdigit() or int(text) > MAX_PROXY_COUNT:
        raise ValueError("not a whole number in range")
    return int(text)


def parse_secret_key(text: str) -> bytes:
    """The secret key as bytes: 64+ hex digits are hex, anything else is UTF-8 text.

    Every server parses the same value the same way, so servers sharing one
    SECRET_KEY always share one key whichever form it was written in.
    """
    if len(text) >= 2 * MIN_SECRET_KEY_BYTES and len(text) % 2 == 0 and _HEX.fullmatch(text):
        return bytes.fromhex(text)
    key = text.encode()
    if len(key) < MIN_SECRET_KEY_BYTES:
        raise ValueError(f"{len(key)} bytes long")
    return key


def parse_secret_key_file(text: str) -> bytes:
    """The secret key read from a file (systemd's LoadCredential=), parsed as SECRET_KEY."""
    try:
        content = Path(text).read_text().strip()
    except OSError as error:
        raise ValueError(f"cannot be read: {error.strerror}") from None
    try:
        return parse_secret_key(content)
    except ValueError as error:
        raise ValueError(f"its key is {error}") from None


def parse_database_url(text: str) -> str:
    """A PostgreSQL (psycopg 3) or SQLite URL, normalised to the psycopg driver."""
    try:
        url = make_url(text)
    except ArgumentError:
        raise ValueError("not a database URL") from None
    if url.drivername in ("postgres", "postgresql", "postgresql+psycopg"):
        if not url.database:
            raise ValueError("no database name")
        url = url.set(drivername="postgresql+psycopg")
    elif url.drivername != "sqlite":
        raise ValueError(f"unsupported driver {url.drivername!r}")
    return url.render_as_string(hide_password=False)


def parse_storage_uri(text: str) -> str:
    """A Flask-Limiter storage URI whose client is installed."""
    scheme = text.split("://", 1)[0] if "://" in text else ""
    if scheme not in RATELIMIT_SCHEMES:
        raise ValueError(f"unsupported scheme {scheme!r}" if scheme else "no scheme")
    return text


def parse_key_prefix(text: str) -> str:
    """A short prefix for rate-limit keys: letters, digits and `_.:-`."""
    if not _KEY_PREFIX.fullmatch(text):
        raise ValueError("letters, digits and _.:- only, at most 64")
    return text


def parse_base_url(text: str) -> str:
    """An http(s) origin with an optional path, without a trailing slash."""
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("not an http:// or https:// address")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ValueError("no query, fragment or user name allowed")
    return text.rstrip("/")


def parse_onion_location(text: str) -> str:
    """A v3 onion origin (`http://<56 letters>.onion`); each page's path is appended."""
    parts = urlsplit(text)
    if (
        parts.scheme not in ("http", "https")
        or not _ONION_V3.fullmatch(parts.netloc)
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
    ):
        raise ValueError("not a v3 onion origin")
    return text.rstrip("/")


def parse_log_level(text: str) -> str:
    """One of the standard level names."""
    if text.upper() not in LOG_LEVELS:
        raise ValueError("unknown level")
    return text.upper()


@dataclass(frozen=True)
class EnvironmentSetting:
    """One environment variable: the config key it fills, its parser, what it expects."""

    variable: str
    key: str
    parse: Callable[[str], Any]
    expects: str
    secret: bool = False


# Every environment variable the portal reads (PORTAL_INSTANCE too, in instance_path()).
# The environment wins over instance/config.py; an empty value counts as unset.
ENVIRONMENT = (
    EnvironmentSetting(
        "DATABASE_URL",
        "SQLALCHEMY_DATABASE_URI",
        parse_database_url,
        "postgresql://user@host/name (psycopg 3) or sqlite:////absolute/path.db",
    ),
    EnvironmentSetting(
        "RATELIMIT_STORAGE_URI",
        "RATELIMIT_STORAGE_URI",
        parse_storage_uri,
        "memory:// or redis://host:port/db",
    ),
    EnvironmentSetting(
        "RATELIMIT_KEY_PREFIX",
        "RATELIMIT_KEY_PREFIX",
        parse_key_prefix,
        "up to 64 letters, digits or _.:- (one per portal sharing a Redis)",
    ),
    EnvironmentSetting(
        "SECRET_KEY",
        "SECRET_KEY",
        parse_secret_key,
        f"at least {MIN_SECRET_KEY_BYTES} bytes of text or {2 * MIN_SECRET_KEY_BYTES} hex digits"
        " (python3 -c 'import secrets; print(secrets.token_hex(32))')",
        secret=True,
    ),
    # The same key from a file, so it is in no process's environment (/proc/<pid>/environ).
    EnvironmentSetting(
        "SECRET_KEY_FILE",
        "SECRET_KEY",
        parse_secret_key_file,
        f"a readable file holding at least {MIN_SECRET_KEY_BYTES} bytes of text"
        f" or {2 * MIN_SECRET_KEY_BYTES} hex digits",
    ),
    EnvironmentSetting(
        "PUBLIC_BASE_URL",
        "PUBLIC_BASE_URL",
        parse_base_url,
        "the public address, e.g. https://lapor.example.go.id",
    ),
    EnvironmentSetting(
        "PORTAL_ONION_LOCATION",
        "ONION_LOCATION",
        parse_onion_location,
        "a v3 onion origin, e.g. http://<56 letters and digits>.onion",
    ),
    EnvironmentSetting(
        "SESSION_COOKIE_SECURE",
        "SESSION_COOKIE_SECURE",
        parse_bool,
        "true or false (true behind HTTPS)",
    ),
    EnvironmentSetting("HSTS", "HSTS", parse_bool, "true or false (true behind HTTPS)"),
    EnvironmentSetting(
        "PROXY_COUNT",
        "PROXY_COUNT",
        parse_proxy_count,
        f"the number of reverse proxies in front, 0 to {MAX_PROXY_COUNT}",
    ),
    EnvironmentSetting(
        "STATS_REFRESH_IN_REQUESTS",
        "STATS_REFRESH_IN_REQUESTS",
        parse_bool,
        "true or false (false when cron runs `stats refresh`)",
    ),
    EnvironmentSetting("PORTAL_LOG_LEVEL", "LOG_LEVEL", parse_log_level, " or ".join(LOG_LEVELS)),
)


# Variable name -> config key, for callers that clear or copy the portal's environment.
ENVIRONMENT_KEYS = {setting.variable: setting.key for setting in ENVIRONMENT}


def from_environment(environ: Any = None) -> dict[str, Any]:
    """The config keys set by the environment, parsed; ConfigError on the first bad value."""
    environ = os.environ if environ is None else environ
    if environ.get("SECRET_KEY", "").strip() and environ.get("SECRET_KEY_FILE", "").strip():
        raise ConfigError("SECRET_KEY and SECRET_KEY_FILE are both set: keep one")
    values: dict[str, Any] = {}
    for setting in ENVIRONMENT:
        text = environ.get(setting.variable, "").strip()
        if not text:
            continue
        try:
            values[setting.key] = setting.parse(text)
        except ValueError as error:
            shown = "" if setting.secret else f"={_shown(setting, text)}"
            raise ConfigError(
                f"{setting.variable}{shown} is not usable ({error}): expected {setting.expects}"
            ) from None
    return values


def _shown(setting: EnvironmentSetting, text: str) -> str:
    """The bad value as the error message shows it: short, a URL's password hidden."""
    if setting.variable == "DATABASE_URL":
        try:
            text = make_url(text).render_as_string(hide_password=True)
        except ArgumentError:
            text = "<unparseable>"
    return repr(text if len(text) <= 80 else text[:77] + "...")


def instance_path() -> str:
    """The instance folder: `PORTAL_INSTANCE` or `instance/` beside the package."""
    configured = os.environ.get("PORTAL_INSTANCE", "").strip()
    if configured:
        return str(Path(configured).resolve())
    return str(Path(__file__).resolve().parent.parent / "instance")


def load(app: Flask, test_config: dict[str, Any] | None) -> None:
    """Fill app.config: defaults, then instance config.py, then environment, then tests.

    Nothing here creates a file: a missing instance folder or secret key is left for
    `flask setup` to make and for portal.instance to refuse, so a mistyped
    PORTAL_INSTANCE can never start an empty portal with a new key.
    """
    app.config.from_object(DefaultConfig)
    app.config["SQLALCHEMY_DATABASE_URI"] = "sqlite:///" + os.path.join(
        app.instance_path, "portal.db"
    )
    app.config.from_pyfile("config.py", silent=True)
    app.config.update(from_environment())
    if test_config:
        app.config.update(test_config)
    app.config["SECRET_KEY"] = _secret_key(app.config.get("SECRET_KEY"), app.instance_path)
    _normalise_database_url(app)
    _sqlite_engine_options(app)
    try:
        validate(app.config)
    except ValueError as error:  # any check's refusal is a ConfigError: one line at start
        raise ConfigError(str(error)) from None


def _secret_key(configured: Any, folder: str) -> bytes | None:
    """The configured key as bytes, else the instance file's, else None (not set up)."""
    if isinstance(configured, str):
        try:
            return parse_secret_key(configured)
        except ValueError as error:
            raise ConfigError(f"SECRET_KEY is too short ({error})") from None
    if configured:
        return bytes(configured)
    path = Path(folder) / INSTANCE_KEY_FILE
    try:
        text = path.read_text().strip()
    except FileNotFoundError:
        return None
    except OSError as error:
        raise ConfigError(f"{path} cannot be read ({error.strerror})") from None
    if not _HEX.fullmatch(text) or len(text) < 2 * MIN_SECRET_KEY_BYTES or len(text) % 2:
        raise ConfigError(f"{path} is damaged: expected {2 * MIN_SECRET_KEY_BYTES} hex digits")
    return bytes.fromhex(text)


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
    # A file has no server to drop the connection: the pre-ping (a SELECT 1 per request,
    # half of a status lookup's statements) only guards network databases.
    options["pool_pre_ping"] = False
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options


def validate(config: Any) -> None:
    """Refuse to start on settings that would silently weaken the portal.

    The environment is already typed by its parsers; this also catches the same
    mistakes in instance/config.py (HSTS = "False" would otherwise be true).
    """
    secret = config["SECRET_KEY"]
    if secret is not None and len(secret) < MIN_SECRET_KEY_BYTES:
        raise ConfigError(f"SECRET_KEY must be at least {MIN_SECRET_KEY_BYTES} bytes long")
    for name in ("RECEIPT_KDF", "PASSWORD_KDF"):
        costs = config[name]
        if set(costs) != set(KDF_DEFAULTS):
            raise ConfigError(f"{name} needs exactly {sorted(KDF_DEFAULTS)}")
    slots = config.get("KDF_SLOTS")
    if isinstance(slots, bool) or not isinstance(slots, int) or slots < 1:
        raise ConfigError("KDF_SLOTS must be a whole number of at least 1")
    wait = config.get("KDF_SLOT_WAIT_SECONDS")
    if isinstance(wait, bool) or not isinstance(wait, int | float) or not 0 <= wait <= 60:
        # Beyond a minute the server's own timeouts would answer first, without Retry-After.
        raise ConfigError("KDF_SLOT_WAIT_SECONDS must be a number of seconds from 0 to 60")
    if config["BABEL_DEFAULT_LOCALE"] not in config["LANGUAGES"]:
        raise ConfigError("BABEL_DEFAULT_LOCALE must be one of LANGUAGES")
    if not isinstance(config.get("CITY_PREFIX"), str) or not _CITY_PREFIX.fullmatch(
        config["CITY_PREFIX"]
    ):
        # Codes are read back in capitals: any other prefix would make every code unfindable.
        raise ConfigError("CITY_PREFIX must be 2 to 6 capital letters, e.g. SRG")
    if not isinstance(config.get("STATS_MIN_CELL"), int) or config["STATS_MIN_CELL"] < 3:
        raise ConfigError("STATS_MIN_CELL must be a whole number of at least 3")
    for name in ("SESSION_COOKIE_SECURE", "HSTS", "STATS_REFRESH_IN_REQUESTS"):
        if not isinstance(config.get(name), bool):
            raise ConfigError(f"{name} must be True or False")
    proxies = config.get("PROXY_COUNT")
    if (
        isinstance(proxies, bool)
        or not isinstance(proxies, int)
        or not 0 <= proxies <= MAX_PROXY_COUNT
    ):
        raise ConfigError(f"PROXY_COUNT must be a whole number from 0 to {MAX_PROXY_COUNT}")
    if config.get("PUBLIC_BASE_URL") is not None:
        _check(config, "PUBLIC_BASE_URL", parse_base_url)
    _check(config, "RATELIMIT_STORAGE_URI", parse_storage_uri)
    _check(config, "LOG_LEVEL", parse_log_level)
    if config.get("ONION_LOCATION") is not None:
        _check(config, "ONION_LOCATION", parse_onion_location)
    if config.get("RATELIMIT_KEY_PREFIX"):
        _check(config, "RATELIMIT_KEY_PREFIX", parse_key_prefix)
    if config.get("NOTIFY_SMTP_HOST") and not config.get("NOTIFY_TO"):
        raise ConfigError("NOTIFY_SMTP_HOST is set: NOTIFY_TO needs at least one address")


def _check(config: Any, name: str, parse: Callable[[str], Any]) -> None:
    """Run an environment parser over a value from any source, naming the key on failure."""
    value = config.get(name)
    try:
        if not isinstance(value, str):
            raise ValueError(f"a {type(value).__name__}, not text")
        parse(value)
    except ValueError as error:
        raise ConfigError(f"{name} is not usable ({error})") from None


def log_level(config: Any) -> int:
    """The numeric level of LOG_LEVEL."""
    return int(logging.getLevelName(str(config["LOG_LEVEL"])))
