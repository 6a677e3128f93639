"""Static files under fingerprinted addresses, so browsers may keep them for a year.

`url_for('static', filename=...)` gains `?v=<hash of the file>`: a changed file gets a new
address, so an address can be cached as immutable. A request carrying the current hash is
answered `public, max-age=31536000, immutable`; any other (no hash, an old one) must be
revalidated, so no one is ever stuck with a stale stylesheet.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from flask import Flask, Response, current_app, request

FINGERPRINT_ARG = "v"
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
_HASH_CHARS = 12


def fingerprint(filename: str) -> str | None:
    """The short content hash of a static file (cached per process), or None if missing."""
    cache: dict[str, str | None] = current_app.extensions.setdefault("static_fingerprints", {})
    if filename not in cache or current_app.debug:
        folder = Path(current_app.static_folder or "")
        path = (folder / filename).resolve()
        if not path.is_relative_to(folder.resolve()) or not path.is_file():
            cache[filename] = None
        else:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            cache[filename] = digest[:_HASH_CHARS]
    return cache[filename]


def _add_fingerprint(endpoint: str, values: dict[str, Any]) -> None:
    """url_defaults hook: every static address names its file's content."""
    if endpoint == "static" and "filename" in values and FINGERPRINT_ARG not in values:
        version = fingerprint(str(values["filename"]))
        if version:
            values[FINGERPRINT_ARG] = version


def cache_static(response: Response) -> Response:
    """Long caching for a fingerprinted static file, revalidation for anything else static."""
    if request.endpoint != "static" or response.status_code != 200:
        return response
    filename = (request.view_args or {}).get("filename", "")
    current = fingerprint(str(filename))
    if current and request.args.get(FINGERPRINT_ARG) == current:
        response.headers["Cache-Control"] = IMMUTABLE
    else:
        response.headers["Cache-Control"] = REVALIDATE
    return response


def register(app: Flask) -> None:
    """Fingerprint static addresses and set their caching."""
    app.url_defaults(_add_fingerprint)
    app.after_request(cache_static)
