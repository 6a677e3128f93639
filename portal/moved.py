"""Old addresses that keep working: each answers 308 Permanent Redirect to today's.

Posters, QR codes, newsrooms' links and reporters' bookmarks carry public addresses for
years, so a renamed public page keeps its old address here (ARCHITECTURE.md, "The URL rule"). Path
arguments and the query string are carried over; nothing is served at an old address.
Only GET pages are kept: forms post to the addresses their page gives.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from flask import Flask, redirect, request
from flask.typing import ResponseReturnValue

# (endpoint, old rule, new address with the same <argument> names)
MOVED = (
    ("moved.kasus", "/kasus", "/publikasi"),
    ("moved.kasus_feed", "/kasus/feed.atom", "/publikasi/feed.atom"),
    ("moved.kasus_page", "/kasus/<uuid:public_id>", "/publikasi/<public_id>"),
    ("moved.inbox", "/inbox", "/kotak-masuk"),
    (
        "moved.inbox_download",
        "/inbox/bukti/<id:attachment_id>",
        "/kotak-masuk/bukti/<attachment_id>",
    ),
    ("moved.api_cases", "/api/v1/cases", "/api/v1/publications"),
)


NEW_ADDRESS = {endpoint: new for endpoint, _, new in MOVED}
_ARGUMENT = re.compile(r"<([^<>]+)>")


def moved(**values: Any) -> ResponseReturnValue:
    """308 to the new address of this old one, with its path arguments and query string."""
    target = NEW_ADDRESS[str(request.endpoint)]
    path = _ARGUMENT.sub(lambda match: quote(str(values[match.group(1)]), safe=""), target)
    if request.query_string:
        path += "?" + request.query_string.decode("latin-1")
    return redirect(path, 308)


def init_app(app: Flask) -> None:
    """Add the old addresses to the URL map, each answered by `moved`."""
    for endpoint, old, _ in MOVED:
        app.add_url_rule(old, endpoint=endpoint, view_func=moved, methods=["GET"])
