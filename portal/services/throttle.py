"""Failure counters for brute-force protection, kept in the rate-limit storage.

Counters live in the limiter's short-lived storage (memory by default, Redis in
production) under keyed hashes, so neither addresses nor tracking codes are written.
"""

from __future__ import annotations

from flask import current_app
from limits import parse

from portal import crypto
from portal.extensions import limiter


def _subject(scope: str, subject: str) -> str:
    return crypto.keyed_hash(current_app.config["SECRET_KEY"], "throttle/" + scope, subject)


def is_locked(scope: str, subject: str, limit: str) -> bool:
    """Whether `subject` has used up its failures in the current window."""
    return not limiter.limiter.test(parse(limit), scope, _subject(scope, subject))


def record_failure(scope: str, subject: str, limit: str) -> None:
    """Count one failure against `subject`."""
    limiter.limiter.hit(parse(limit), scope, _subject(scope, subject))


def clear(scope: str, subject: str, limit: str) -> None:
    """Forget the failures of `subject` (after a success)."""
    limiter.limiter.clear(parse(limit), scope, _subject(scope, subject))
