"""Values built once per key on this app server, kept in a bounded store.

The one mechanism behind every per-process cache of the portal: the catalogue under its
version token, pages that differ only in their CSRF token, protected statistics quarters and
rendered statistics under their publication ids (and the version reads themselves, at most
once a second: `shared_version`). Each cache belongs to one app (so two apps
in one process, on two databases, never share an entry); the least recently used entry goes
first once the store is full, so keys a visitor can vary cannot grow memory without limit.
A key must name everything its value depends on: nothing here ever invalidates an entry.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar, cast

from flask import current_app

T = TypeVar("T")
_MISSING = object()
_REGISTRY_LOCK = threading.Lock()


class BoundedCache:
    """A thread-safe store of built values, least recently used out past `size` entries."""

    def __init__(self, size: int) -> None:
        """An empty store holding at most `size` entries."""
        self.size = size
        self._entries: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, build: Callable[[], T]) -> T:
        """The value under `key`, built (outside the lock) the first time it is asked for."""
        with self._lock:
            found = self._entries.get(key, _MISSING)
            if found is not _MISSING:
                self._entries.move_to_end(key)
                return found
        value = build()
        with self._lock:
            self._entries[key] = value
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
        return value

    def clear(self) -> None:
        """Forget every entry (as a server that has built nothing yet)."""
        with self._lock:
            self._entries.clear()


def app_cache(name: str, size: int) -> BoundedCache:
    """The current app's cache called `name`, made on first use."""
    with _REGISTRY_LOCK:
        cache = current_app.extensions.get(name)
        if cache is None:
            cache = current_app.extensions[name] = BoundedCache(size)
    assert isinstance(cache, BoundedCache)  # noqa: S101 - the names are ours
    return cache


# --- Versions read from the shared database, at most once a second -----------------------

_VERSIONS = "portal.versions"


def shared_version(name: str, read: Callable[[], T]) -> T:
    """`read()` (a version token in the database) at most once per VERSION_CHECK_SECONDS.

    Cached values are keyed by versions that any app server may change (an admin's
    catalogue edit, the timer's publication). Reading the version on every request costs a
    database round trip on pages that are otherwise served from memory; read at most once
    a second, an edit made elsewhere shows on this server within that second. An edit on
    this server forgets the version at once (`forget_version`). 0 reads on every request.
    """
    seconds = float(current_app.config["VERSION_CHECK_SECONDS"])
    if seconds <= 0:
        return read()
    versions: dict[str, tuple[float, Any]] = current_app.extensions.setdefault(_VERSIONS, {})
    now = time.monotonic()
    kept = versions.get(name)
    if kept is not None and now < kept[0]:
        return cast(T, kept[1])
    value = read()
    versions[name] = (now + seconds, value)
    return value


def forget_version(name: str) -> None:
    """Read `name` from the database at its next use (this server changed it)."""
    current_app.extensions.get(_VERSIONS, {}).pop(name, None)
