"""Rate-limit and failure-counter keys under a secret that lives in memory and rotates.

A key under a fixed secret (SECRET_KEY, beside the database) could be reversed later by
anyone holding a copy of the server: all of IPv4 is a few core-hours of hashing, and a
tracking code's counter names the report. Here each epoch (RATELIMIT_KEY_ROTATION_SECONDS,
at least the longest limit window) has its own random secret, made in this process's
memory, never written anywhere, and forgotten once the epoch before the current one ends.
A key whose secret is forgotten cannot be mapped back to an address or a code by anyone.

Trade-off: each app server has its own secrets, so with several servers behind one Redis
a client's count is kept per server (limits are per server, not per cluster).
"""

from __future__ import annotations

import secrets
import threading

from flask import current_app

from portal import crypto

_secrets: dict[int, bytes] = {}
_lock = threading.Lock()


def epoch() -> int:
    """The current rotation epoch, from the portal's clock."""
    from portal.models.base import now  # the models import the limiter, which imports us

    return int(now().timestamp()) // int(current_app.config["RATELIMIT_KEY_ROTATION_SECONDS"])


def _secret(number: int) -> bytes:
    """The secret of an epoch; made on first use; epochs before the previous are forgotten."""
    with _lock:
        for old in [known for known in _secrets if known < number - 1]:
            del _secrets[old]
        if number not in _secrets:
            _secrets[number] = secrets.token_bytes(32)
        return _secrets[number]


def key(purpose: str, value: str, *, previous: bool = False) -> str:
    """The limiter key of `value` in this epoch (or the one before, to carry counts over)."""
    number = epoch() - (1 if previous else 0)
    # SECRET_KEY too, so that two instances in one process (tests) never share counters;
    # it adds nothing for a thief, who still lacks the epoch's secret.
    instance = current_app.config["SECRET_KEY"]
    instance = instance.encode() if isinstance(instance, str) else instance
    return crypto.keyed_hash(_secret(number) + instance, purpose, value)


def forget_all() -> None:
    """Drop every secret (tests; a restarted process starts with none)."""
    with _lock:
        _secrets.clear()
