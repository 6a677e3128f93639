"""Pages whose only per-visitor part is the CSRF token: rendered once, the token put in.

The home page, the empty report form and a status page are the same for every visitor in
one language except for the form's CSRF token (which is per browser session, and must stay
so). The page is rendered once with this request's token, the token is swapped for a placeholder
random to this process, and later requests get the stored copy with their own token put
back: a string replace instead of a template render (1-8 ms of CPU per request).

Callers choose the key: language, path, and whatever else the page depends on (the
catalogue's version token for the report form, so an admin's edit shows at once).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

from portal import memo
from portal.signing import csrf_token

# Not in any page: made here, at random, for this process.
_PLACEHOLDER = f"csrf-{secrets.token_hex(16)}"
_STORE = "portal.pages"
# Copies kept per app server (a report form is ~30 KB); stale keys (yesterday's form, an
# old catalogue version) age out of the bounded store.
MAX_PAGES = 256


def tokenless(render: Callable[[], str]) -> str:
    """Render the page, with this request's CSRF token replaced by the placeholder."""
    return render().replace(csrf_token(), _PLACEHOLDER)


def with_token(template: str) -> str:
    """A stored page with this request's CSRF token (which also starts the session)."""
    return template.replace(_PLACEHOLDER, csrf_token())


# Status pages, kept apart so a media spike's few hundred hot codes never push the home
# page and the form out (a status page is ~9 KB: about 18 MB per app server when full).
STATUS_STORE = ("portal.status_pages", 2048)


def cached(
    key: tuple[Any, ...],
    render: Callable[[], str],
    store: tuple[str, int] = (_STORE, MAX_PAGES),
) -> str:
    """The page for `key`, rendered on first use on this app server, with a fresh token."""
    template = memo.app_cache(*store).get(key, lambda: tokenless(render))
    return with_token(template)
