"""The one place markup written by staff becomes HTML: published summaries and public notes.

Everything else on every page is escaped text. Here a strict allow-list (bleach) keeps
paragraphs, line breaks, lists, emphasis and links to official sources (https, hosts
under SANITIZE_LINK_HOSTS, by default every *.go.id) and escapes anything else, so it
shows as the characters typed and never runs. This is the only module that imports bleach.
"""

from __future__ import annotations

import html
import re
from urllib.parse import urlsplit

import bleach
from flask import Flask, current_app
from markupsafe import Markup

ALLOWED_TAGS = frozenset({"p", "br", "ul", "ol", "li", "strong", "em", "b", "i", "a"})
ALLOWED_PROTOCOLS = frozenset({"https"})
_BLOCK = re.compile(r"<(p|ul|ol)\b", re.I)
_BLANK_LINE = re.compile(r"\n\s*\n")


def official_link(url: str) -> bool:
    """Whether `url` is an https link to a host the portal trusts as an official source."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    host = (parts.hostname or "").lower().rstrip(".")
    if parts.scheme != "https" or not host or parts.username or parts.password:
        return False
    hosts = current_app.config["SANITIZE_LINK_HOSTS"]
    return any(host == allowed or host.endswith("." + allowed) for allowed in hosts)


def _attribute_allowed(tag: str, name: str, value: str) -> bool:
    """Only `href` on links, and only to an official source."""
    return tag == "a" and name == "href" and official_link(value)


def _cleaner() -> bleach.Cleaner:
    return bleach.Cleaner(
        tags=ALLOWED_TAGS,
        attributes=_attribute_allowed,
        protocols=ALLOWED_PROTOCOLS,
        strip=False,  # a forbidden tag shows as typed text, never silently disappears
        strip_comments=True,
    )


def formatted(text: str | None) -> Markup:
    """Staff-written text as safe HTML: allowed markup kept, the rest shown as text.

    Text without paragraphs of its own gets them from blank lines, and line breaks from
    single newlines, so plain text written before formatting was allowed reads the same.
    """
    cleaned = _cleaner().clean(text or "").strip()
    if cleaned and not _BLOCK.search(cleaned):
        paragraphs = [part.strip() for part in _BLANK_LINE.split(cleaned) if part.strip()]
        cleaned = "".join(f"<p>{part.replace(chr(10), '<br>')}</p>" for part in paragraphs)
    return Markup(cleaned)  # noqa: S704 - cleaned by the allow-list above


def plain(text: str | None) -> str:
    """The same text with every tag removed, for plain-text outputs (feed summaries)."""
    return html.unescape(bleach.clean(text or "", tags=set(), strip=True, strip_comments=True))


def init_app(app: Flask) -> None:
    """Expose `formatted` to templates as the `formatted` filter."""
    app.jinja_env.filters["formatted"] = formatted
