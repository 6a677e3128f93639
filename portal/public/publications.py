"""The public register of publications (/publikasi), one page each, and its Atom feed.

Only summaries a second staff member approved appear, and only while their report is
still resolved with the facts the approver saw (services.publication).

What is never shown here, on purpose:

- The tracking code. It opens the report's public status page, which gives the day
  the report was received and the day of every status change. Next to a summary
  naming the service, the place and the month, those days could let the officer
  concerned work out who came to the counter that day: the register's promise of
  "never finer than a month" would be broken through the back door. A reporter who
  wants to point to their publication can still show the summary and their own status page
  side by side; the portal does not link the two for everyone.
- The report's id or the publication's row id. Both count up: the report id tells
  roughly when the report was filed, and gaps in either tell how many reports or
  summaries exist unseen. A publication is addressed by a random UUID made for it, which is
  also its Atom entry id (urn:uuid:...), stable across edits and re-approval.
- Exact dates. Months only: of the incident, of the resolution, of publication. The
  feed's timestamps are the first instant (UTC) of the approval month.
"""

from __future__ import annotations

import re
import uuid
import xml.etree.ElementTree as ET  # builds the feed; nothing here parses XML
from datetime import UTC, datetime
from typing import Any

from flask import Response, abort, current_app, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from markupsafe import escape

from portal import sanitize
from portal.i18n import current_locale, format_month, format_rupiah
from portal.labels import outcome_label, sanction_label
from portal.months import month_start_utc
from portal.public import bp
from portal.services import publication
from portal.services.publication import PublicationView

ATOM_NS = "http://www.w3.org/2005/Atom"
ATOM_MIMETYPE = "application/atom+xml"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
# Characters XML 1.0 cannot hold even escaped; the staff form refuses them already.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
MAX_PAGE = 100_000
PAGE_ARG, OLD_PAGE_ARG = "halaman", "page"


def public_url(endpoint: str, **values: Any) -> str:
    """An absolute link on the portal's public address (not whatever host was asked)."""
    base = str(current_app.config["PUBLIC_BASE_URL"] or request.url_root).rstrip("/")
    return base + url_for(endpoint, **values)


def _page_number() -> int:
    """The `halaman` query argument, 1 when absent; 404 when it is not a page number.

    `page`, the register's first parameter, is still read: old links and bookmarks
    (/kasus?page=2 redirects here with its query) keep their page.
    """
    page = request.args.get(PAGE_ARG, request.args.get(OLD_PAGE_ARG, "1"))
    if not page.isdigit() or not 1 <= int(page) <= MAX_PAGE:
        abort(404)
    return int(page)


@bp.get("/publikasi")
def publications_index() -> ResponseReturnValue:
    """Publications, newest approval first: what was found, with no names and no days."""
    page = _page_number()
    found = publication.public_page(
        page=page, per_page=current_app.config["PUBLICATIONS_PAGE_SIZE"]
    )
    if page > 1 and not found.publications:
        abort(404)
    return render_template("public/publications.html", found=found)


@bp.get("/publikasi/<uuid:public_id>")
def publication_page(public_id: uuid.UUID) -> ResponseReturnValue:
    """One publication; 404 once it is withdrawn or its report reopened."""
    found = publication.find_public(str(public_id))
    if found is None:
        abort(404)
    return render_template("public/publication.html", publication=found)


@bp.get("/publikasi/feed.atom")
def publications_feed() -> ResponseReturnValue:
    """The newest publications as an Atom 1.0 feed, for newsrooms."""
    latest = publication.public_latest(limit=current_app.config["PUBLICATIONS_FEED_SIZE"])
    changed = publication.last_public_change()
    document = atom_feed(latest, updated=month_start_utc(changed or datetime.now(UTC)))
    return Response(document, mimetype=ATOM_MIMETYPE)


def _text(value: str) -> str:
    """Text XML can hold."""
    return _NOT_XML.sub("", value)


def _timestamp(moment: datetime) -> str:
    """RFC 3339 in UTC, as Atom requires."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _child(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    """Append an Atom element; ElementTree escapes text and attribute values."""
    element = ET.SubElement(parent, tag, {k: _text(v) for k, v in attrs.items()})
    if text is not None:
        element.text = _text(text)
    return element


def fact_lines(item: PublicationView) -> list[str]:
    """The publication's public facts as "label: value" lines, in the current language."""
    lines = [
        _("Category: %(value)s", value=item.category_name),
        _("Service: %(value)s", value=item.service_name),
        _("Place: %(value)s", value=item.unit_name),
        _("Month of the incident: %(value)s", value=format_month(item.incident_month)),
    ]
    if item.resolved_month:
        lines.append(_("Resolved in: %(value)s", value=format_month(item.resolved_month)))
    lines.append(_("Finding: %(value)s", value=outcome_label(item.outcome)))
    if item.sanction:
        lines.append(_("Sanction: %(value)s", value=sanction_label(item.sanction)))
    if item.refund_rupiah:
        lines.append(_("Refund (rounded): %(value)s", value=format_rupiah(item.refund_rupiah)))
    return lines


def feed_id() -> str:
    """The feed's permanent id: one per city's portal, whatever address serves it.

    It still says "kasus", the register's first name: feed readers know the feed by it.
    """
    name = f"urn:lapor-pungli:{current_app.config['CITY_PREFIX']}:kasus"
    return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, name)}"


def atom_feed(publications: list[PublicationView], *, updated: datetime) -> bytes:
    """An Atom 1.0 document of these publications; every timestamp is month-level."""
    city = current_app.config["CITY_NAME"]
    # Plain tag names under a literal default namespace declaration: ElementTree's own
    # namespace handling would invent "ns0:" prefixes, which some feed readers mishandle.
    feed = ET.Element("feed", {"xmlns": ATOM_NS, XML_LANG: current_locale()})
    _child(feed, "id", feed_id())
    _child(feed, "title", _("Publications · Lapor Pungli %(city)s", city=city))
    _child(
        feed,
        "subtitle",
        _(
            "Resolved reports of illegal levies and brokers, summarised by the inspectorate"
            " and approved by a second staff member. No names; months only."
        ),
    )
    _child(feed, "updated", _timestamp(updated))
    author = _child(feed, "author")
    _child(author, "name", _("Inspectorate %(city)s", city=city))
    _child(
        feed, "link", rel="self", type=ATOM_MIMETYPE, href=public_url("public.publications_feed")
    )
    _child(
        feed,
        "link",
        rel="alternate",
        type="text/html",
        href=public_url("public.publications_index"),
    )
    for item in publications:
        entry = _child(feed, "entry")
        _child(entry, "id", f"urn:uuid:{item.public_id}")
        _child(entry, "title", item.title)
        _child(entry, "updated", _timestamp(month_start_utc(item.published_month)))
        link = public_url("public.publication_page", public_id=item.public_id)
        _child(entry, "link", rel="alternate", type="text/html", href=link)
        _child(entry, "category", term=item.category_code, label=item.category_name)
        _child(entry, "summary", sanitize.plain(item.summary), type="text")
        # The summary's allowed formatting, as escaped HTML (the only markup in the feed).
        facts = "".join(f"<p>{escape(line)}</p>" for line in fact_lines(item))
        _child(entry, "content", facts + sanitize.formatted(item.summary), type="html")
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True)
