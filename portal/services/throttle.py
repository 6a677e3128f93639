"""Failure counters for brute-force protection, kept in the rate-limit storage.

Counters live in the limiter's short-lived storage (memory by default, Redis in
production) under keyed hashes with a rotating in-memory secret (portal.limitkeys), so
neither addresses nor tracking codes are written, and a later copy of the server cannot
map a counter back to one. A window may straddle a rotation: the previous epoch's
counter still locks, so rotation never hands out a fresh set of attempts.
"""

from __future__ import annotations

from limits import parse

from portal import limitkeys
from portal.extensions import limiter


def _subject(scope: str, subject: str, *, previous: bool = False) -> str:
    return limitkeys.key("throttle/" + scope, subject, previous=previous)


def is_locked(scope: str, subject: str, limit: str) -> bool:
    """Whether `subject` has used up its failures in this window (or the one before)."""
    item = parse(limit)
    return not limiter.limiter.test(item, scope, _subject(scope, subject)) or not (
        limiter.limiter.test(item, scope, _subject(scope, subject, previous=True))
    )


def record_failure(scope: str, subject: str, limit: str) -> None:
    """Count one failure against `subject`."""
    limiter.limiter.hit(parse(limit), scope, _subject(scope, subject))


def clear(scope: str, subject: str, limit: str) -> None:
    """Forget the failures of `subject` (after a success)."""
    for previous in (False, True):
        limiter.limiter.clear(parse(limit), scope, _subject(scope, subject, previous=previous))
