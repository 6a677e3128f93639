"""Rate-limit and failure-counter keys under a secret that lives in memory and rotates.

A key under a fixed secret (SECRET_KEY, beside the database) could be reversed later by
anyone holding a copy of the server: all of IPv4 is a few core-hours of hashing, and a
tracking code's counter names the report. Here each epoch (RATELIMIT_KEY_ROTATION_SECONDS,
at least the longest limit window) has its own random secret, made in this process's
memory, never written anywhere, and forgotten once the epoch before the current one ends.
A key whose secret is forgotten cannot be mapped back to an address or a code by anyone.

With several app servers on one Redis (RATELIMIT_STORAGE_URI=redis://...), the epoch's
secret is shared through that Redis (first server to need it sets it, with an expiry of
two epochs), so limits count per cluster. Redis is memory-only here (docs/deploy.md: no
persistence), so the secret still never reaches a disk and is gone two epochs later.
"""

from __future__ import annotations

import secrets
import threading
from typing import Any

from flask import current_app

from portal import crypto

_secrets: dict[tuple[str, int], bytes] = {}
_lock = threading.Lock()
_clients: dict[str, Any] = {}


def epoch() -> int:
    """The current rotation epoch, from the portal's clock."""
    from portal.models.base import now  # the models import the limiter, which imports us

    return int(now().timestamp()) // int(current_app.config["RATELIMIT_KEY_ROTATION_SECONDS"])


def _shared_store() -> tuple[str, Any] | None:
    """The Redis that every app server shares for limits (prefix, client), if any."""
    uri = str(current_app.config["RATELIMIT_STORAGE_URI"])
    if not uri.startswith(("redis://", "rediss://", "unix://")):
        return None
    options = current_app.config.get("RATELIMIT_STORAGE_OPTIONS") or {}
    prefix = str(options.get("key_prefix", "LIMITS"))
    with _lock:
        if uri not in _clients:
            import redis

            _clients[uri] = redis.Redis.from_url(uri, socket_timeout=2)
        return prefix, _clients[uri]


def _secret(number: int) -> bytes:
    """The secret of an epoch; made on first use; epochs before the previous are forgotten."""
    shared = _shared_store()
    scope = f"{shared[0]}@{current_app.config['RATELIMIT_STORAGE_URI']}" if shared else ""
    with _lock:
        for old in [known for known in _secrets if known[1] < number - 1]:
            del _secrets[old]
        if (scope, number) in _secrets:
            return _secrets[(scope, number)]
    made = secrets.token_bytes(32)
    if shared is not None:
        prefix, client = shared
        name = f"{prefix}:limitkey:{number}"
        lifetime = 2 * int(current_app.config["RATELIMIT_KEY_ROTATION_SECONDS"])
        # The first server to need this epoch's secret sets it; every other one reads it.
        client.set(name, made, nx=True, ex=lifetime)
        made = client.get(name) or made
    with _lock:
        return _secrets.setdefault((scope, number), made)


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
