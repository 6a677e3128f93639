"""Printable A4 posters per service point: what is free there, the law, a QR code to report."""

from __future__ import annotations

import re
from html import unescape
from pathlib import Path

import pytest
import segno

from portal.extensions import db
from portal.models import Unit
from portal.services import catalog
from portal.transaction import atomic
from tests.helpers import make_app

POSTERS = "/layanan/poster"
STATIC = Path(__file__).resolve().parent.parent / "static"


PUBLIC = "https://lapor.serangkota.go.id"


# Posters need the portal's public address; a city sets it before printing any.
pytestmark = pytest.mark.app_config({"PUBLIC_BASE_URL": PUBLIC})


def english(client):
    client.get("/bahasa/en?next=/")
    return client


def qr_source(html: str) -> str:
    """The src of the poster's QR image, as the browser reads it."""
    match = re.search(r'<img class="sheet-qr" src="([^"]+)"', html)
    assert match, "no QR image on the poster"
    return unescape(match.group(1))


def test_poster_qr_opens_the_form_with_that_unit_chosen(client):
    response = client.get(f"{POSTERS}/mpp")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    url = f"{PUBLIC}/lapor?tempat=mpp"
    # The QR code is the SVG segno draws for exactly that URL, drawn on the server.
    source = qr_source(html)
    assert source.startswith("data:image/svg+xml")
    assert source == segno.make_qr(url, error="m").svg_data_uri(omitsize=True)
    # People without a QR reader can type the address printed beside it.
    assert f'href="{url}"' in html
    assert ">lapor.serangkota.go.id/lapor?tempat=mpp<" in html
    # And that address opens the report form with the place chosen.
    form = client.get("/lapor?tempat=mpp").get_data(as_text=True)
    assert '<option selected value="mpp">' in form


@pytest.mark.app_config({"PUBLIC_BASE_URL": "https://lapor.serangkota.go.id/"})
def test_poster_uses_the_configured_public_address(client):
    html = client.get(f"{POSTERS}/kec_taktakan").get_data(as_text=True)
    url = "https://lapor.serangkota.go.id/lapor?tempat=kec_taktakan"
    assert qr_source(html) == segno.make_qr(url, error="m").svg_data_uri(omitsize=True)
    assert ">lapor.serangkota.go.id/lapor?tempat=kec_taktakan<" in html


def test_public_address_must_be_http(tmp_path):
    with pytest.raises(ValueError, match="PUBLIC_BASE_URL"):
        make_app(tmp_path, PUBLIC_BASE_URL="javascript:alert(1)")


def test_poster_says_free_names_the_place_its_services_and_the_law(app, client):
    html = english(client).get(f"{POSTERS}/keliling").get_data(as_text=True)
    text = " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())
    assert "Population administration services GRATIS Mobile service car" in text
    with app.app_context():
        unit = db.session.get(Unit, "keliling")
        served = [service.name_en for service in unit.services]
    assert served == [
        "KTP-el (electronic ID card)",
        "Birth certificate",
        "KIA (child identity card)",
    ]
    for name in served:
        assert f"{name} GRATIS" in text
    assert "Death certificate" not in text  # not given by the mobile car
    assert "Pengurusan dan penerbitan Dokumen Kependudukan tidak dipungut biaya." in text
    assert "UU 24/2013 Pasal 79A" in text
    assert "up to 6 years in prison and/or a fine of up to Rp75 million" in text
    assert "Asked to pay? Report it — anonymously." in text


def test_poster_is_a4_print_ready_without_inline_style(client):
    response = client.get(f"{POSTERS}/disdukcapil")
    html = response.get_data(as_text=True)
    assert re.search(r'<link rel="stylesheet" href="/static/css/print.css\?v=[0-9a-f]+">', html)
    assert "style=" not in html and "<style" not in html and "<script" not in html
    assert "style-src 'self'" in response.headers["Content-Security-Policy"]
    assert html.count("<nav") == 1 and '<nav class="lang"' in html  # no site navigation
    css = (STATIC / "css" / "print.css").read_text()
    assert "@page { size: A4 portrait;" in css
    assert "@media print" in css and "header.site, footer.site" in css
    with client.get("/static/css/print.css") as stylesheet:
        assert stylesheet.status_code == 200


def test_poster_index_lists_each_service_point(app, client):
    html = client.get(POSTERS).get_data(as_text=True)
    with app.app_context():
        units = [unit.code for unit in catalog.poster_units()]
    assert len(units) == 16
    for code in units:
        assert f'href="{POSTERS}/{code}"' in html
    assert f'href="{POSTERS}/lainnya"' not in html  # "another place" is not a place
    assert client.get(f"{POSTERS}/lainnya").status_code == 404
    assert client.get(f"{POSTERS}/atlantis").status_code == 404


def test_poster_follows_the_catalogue_at_once(app, client):
    with app.app_context(), atomic():
        unit = db.session.get(Unit, "kel_curug")
        catalog.update(unit, actor="admin@example.test", values={"name_en": "Curug kelurahan"})
        office = db.session.get(Unit, "kec_curug")
        catalog.update(office, actor="admin@example.test", values={"active": False})
    assert "Curug kelurahan" in english(client).get(f"{POSTERS}/kel_curug").get_data(as_text=True)
    assert client.get(f"{POSTERS}/kec_curug").status_code == 404
    assert f'href="{POSTERS}/kec_curug"' not in client.get(POSTERS).get_data(as_text=True)


@pytest.mark.app_config(PUBLIC_BASE_URL=None)
def test_without_a_public_address_posters_are_refused_and_say_why(client):
    # Never the server's own address on paper: no poster until PUBLIC_BASE_URL is set.
    for path in (f"{POSTERS}/mpp", POSTERS):
        response = client.get(path)
        html = response.get_data(as_text=True)
        assert "127.0.0.1" not in html and "localhost" not in html
        assert "PUBLIC_BASE_URL" in html
    assert client.get(f"{POSTERS}/mpp").status_code == 503
    assert 'class="sheet-qr"' not in client.get(f"{POSTERS}/mpp").get_data(as_text=True)
