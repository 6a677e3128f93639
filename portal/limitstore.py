"""In-process rate-limit storage that sweeps expired counters inline, without a timer thread.

limits' MemoryStorage (the `memory://` default) starts a new threading.Timer 10 ms after
every hit to drop expired counters: under load that is a thread created a hundred times a
second, each start a hand-over of the interpreter lock, paid by every request of the one
process that holds the limits. Expiry is already checked on every read (`get`), so the
sweep only frees memory; here it runs inline, at most once per SWEEP_SECONDS.

Defining the class registers it for the `memory` scheme (limits picks storage classes by
scheme, the last definition winning), so Flask-Limiter and the failure counters
(portal.services.throttle) both get it from `memory://`. Imported by portal.extensions
before the limiter is made.
"""

from __future__ import annotations

import time
from typing import Any

from limits.storage import MemoryStorage

SWEEP_SECONDS = 1.0


class SweptMemoryStorage(MemoryStorage):
    """MemoryStorage with inline sweeps instead of a timer thread per burst of hits."""

    STORAGE_SCHEME = ["memory"]

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options: Any):
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        self.timer.cancel()  # the parent starts its first timer; nothing restarts it here
        self._next_sweep = time.monotonic() + SWEEP_SECONDS

    def _MemoryStorage__schedule_expiry(self) -> None:
        """Replaces the parent's private hook (called on every hit): sweep if one is due."""
        now = time.monotonic()
        if now >= self._next_sweep:
            self._next_sweep = now + SWEEP_SECONDS
            self._MemoryStorage__expire_events()  # type: ignore[attr-defined]
