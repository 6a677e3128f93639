"""Failure counters for brute-force protection, kept in the rate-limit storage.

Counters live in the limiter's short-lived storage (memory by default, Redis in
production) under keyed hashes with a rotating in-memory secret (portal.limitkeys), so
neither addresses nor tracking codes are written, and a later copy of the server cannot
map a counter back to one. A window may straddle a rotation: the previous epoch's
counter still locks, so rotation never hands out a fresh set of attempts.
"""

from __future__ import annotations

from typing import Any

from flask import current_app
from limits import parse
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter, RateLimiter

from portal import limitkeys
from portal.extensions import limiter

_OWN = "portal.throttle"  # app.extensions: counters of an app whose request limits are off


def _counters() -> RateLimiter:
    """Where failures are counted: the limiter's storage, or the same kind of storage alone.

    RATELIMIT_ENABLED = False switches the request rate limits off, never the guessing
    counters: they are the brute-force protection of receipts and staff passwords. Then
    the counters keep a storage of their own, made from RATELIMIT_STORAGE_URI (memory, or
    the shared Redis), so sign-ins keep working and keep their limits.
    """
    app: Any = current_app
    if app.config.get("RATELIMIT_ENABLED", True) and limiter.enabled:
        return limiter.limiter
    own = app.extensions.get(_OWN)
    if own is None:
        options = app.config.get("RATELIMIT_STORAGE_OPTIONS") or {}
        storage = storage_from_string(str(app.config["RATELIMIT_STORAGE_URI"]), **options)
        own = app.extensions.setdefault(_OWN, FixedWindowRateLimiter(storage))
    return own


def _subject(scope: str, subject: str, *, previous: bool = False) -> str:
    return limitkeys.key("throttle/" + scope, subject, previous=previous)


def is_locked(scope: str, subject: str, limit: str) -> bool:
    """Whether `subject` has used up its failures in this window (or the one before)."""
    item = parse(limit)
    counters = _counters()
    return not counters.test(item, scope, _subject(scope, subject)) or not (
        counters.test(item, scope, _subject(scope, subject, previous=True))
    )


def record_failure(scope: str, subject: str, limit: str) -> None:
    """Count one failure against `subject`."""
    _counters().hit(parse(limit), scope, _subject(scope, subject))


def clear(scope: str, subject: str, limit: str) -> None:
    """Forget the failures of `subject` (after a success)."""
    counters = _counters()
    for previous in (False, True):
        counters.clear(parse(limit), scope, _subject(scope, subject, previous=previous))
