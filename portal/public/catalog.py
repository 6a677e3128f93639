"""The public fee and service catalogue (/layanan) and printable posters per unit."""

from __future__ import annotations

import segno
from flask import abort, current_app, render_template, request, url_for
from flask.typing import ResponseReturnValue

from portal.i18n import current_locale
from portal.models import Service, Unit
from portal.public import bp
from portal.services import catalog


def report_url(unit: Unit) -> str | None:
    """The absolute address of the report form with this unit chosen, for print.

    None while PUBLIC_BASE_URL is unset: the address this request came to may be the
    server's own (127.0.0.1), and a poster must never send citizens there.
    """
    base = current_app.config["PUBLIC_BASE_URL"]
    if not base:
        return None
    return str(base).rstrip("/") + url_for("citizens.report_form", tempat=unit.code)


def qr_data_uri(url: str) -> str:
    """The URL as an SVG QR code drawn on the server (a regular QR, never a Micro QR).

    Medium error correction survives a creased or smudged poster; without a fixed size
    the SVG has a viewBox, so the print stylesheet sizes it.
    """
    return str(segno.make_qr(url, error="m").svg_data_uri(omitsize=True))


def where_served(service: Service, units: list[Unit]) -> list[str]:
    """Names of the active places giving a service; a kind given everywhere is one line.

    `units` are all active units: "every kecamatan office" reads better than six names.
    """
    served = {unit.code for unit in service.units}
    lines: list[str] = []
    grouped: set[str] = set()
    for unit in units:
        if unit.code not in served or unit.kind in grouped:
            continue
        everywhere = catalog.EVERY_KIND_LABELS.get(unit.kind)
        same_kind = [other for other in units if other.kind == unit.kind]
        if (
            everywhere is not None
            and len(same_kind) > 1
            and all(other.code in served for other in same_kind)
        ):
            grouped.add(unit.kind)
            lines.append(str(everywhere))
        else:
            lines.append(unit.name)
    return lines


def _served_here(unit: Unit) -> list[Service]:
    """The catalogue services this unit gives, in catalogue order."""
    return [service for service in unit.services if service.active and service.listed]


@bp.get("/layanan")
def catalog_page() -> ResponseReturnValue:
    """Every service with its official fee ("GRATIS"), legal basis, time, requirements, places."""

    def page() -> str:
        units = [unit for unit in catalog.active(Unit) if unit.kind != catalog.OTHER_KIND]
        return render_template(
            "public/catalog.html",
            services=catalog.listed_services(),
            units=units,
            kind_label=catalog.unit_kind_label,
            where=lambda service: where_served(service, units),
        )

    # The same page for everyone in a language: rendered once per catalogue version.
    return catalog.cached(("catalog_page", request.path, current_locale()), page)


@bp.get("/layanan/<service_code>")
def catalog_service(service_code: str) -> ResponseReturnValue:
    """One service's page, with report links pre-filled for each place that gives it."""
    service = catalog.find_listed(service_code)
    if service is None:
        abort(404)
    return render_template(
        "public/catalog_service.html",
        service=service,
        places=where_served(service, catalog.poster_units()),
        units=[unit for unit in service.units if unit.active and unit.kind != catalog.OTHER_KIND],
    )


@bp.get("/layanan/poster")
def poster_index() -> ResponseReturnValue:
    """The places a poster can be printed for."""
    return render_template(
        "public/poster_index.html",
        units=catalog.poster_units(),
        kind_label=catalog.unit_kind_label,
        address_missing=not current_app.config["PUBLIC_BASE_URL"],
    )


@bp.get("/layanan/poster/<unit_code>")
def poster(unit_code: str) -> ResponseReturnValue:
    """An A4 poster for one place: what is free there, the law, and a QR code to report."""
    unit = catalog.find_poster_unit(unit_code)
    if unit is None:
        abort(404)
    url = report_url(unit)
    if url is None:
        return render_template("public/poster_unavailable.html", unit=unit), 503
    return render_template(
        "public/poster.html",
        unit=unit,
        services=_served_here(unit),
        url=url,
        short_url=url.split("://", 1)[1],
        qr=qr_data_uri(url),
    )
