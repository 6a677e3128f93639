"""The public fee catalogue (/layanan) and its admin editing: fees, law, pre-filled links, audit."""

from __future__ import annotations

import json
import re
from html import unescape
from typing import Any

import pytest

from portal.extensions import db
from portal.models import AuditEntry, Category, Service, Unit
from portal.services import catalog
from portal.transaction import atomic
from tests.helpers import csrf_token

CATALOGUE = "/layanan"
ADMIN = "/inspectorate/admin/catalog"
ADMIN_ROUTES = [
    ("GET", ADMIN),
    ("GET", f"{ADMIN}/services/new"),
    ("POST", f"{ADMIN}/services/new"),
    ("GET", f"{ADMIN}/services/ktp_el"),
    ("POST", f"{ADMIN}/services/ktp_el"),
    ("GET", f"{ADMIN}/categories/new"),
    ("POST", f"{ADMIN}/categories/new"),
    ("GET", f"{ADMIN}/categories/pungli"),
    ("POST", f"{ADMIN}/categories/pungli"),
    ("GET", f"{ADMIN}/units/new"),
    ("POST", f"{ADMIN}/units/new"),
    ("GET", f"{ADMIN}/units/mpp"),
    ("POST", f"{ADMIN}/units/mpp"),
]


def english(client) -> Any:
    """The client, switched to English."""
    client.get("/bahasa/en?next=/")
    return client


def section(page: str, code: str) -> str:
    """The catalogue entry of one service."""
    match = re.search(rf'<section class="service" id="{code}".*?</section>', page, re.DOTALL)
    assert match, f"no catalogue entry for {code}"
    return match.group(0)


def text(html: str) -> str:
    """Visible text, tags dropped and spaces collapsed."""
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def listed(app) -> list[tuple[str, str, int, str]]:
    """(code, English name, fee, legal basis) of the services the catalogue must show."""
    with app.app_context():
        rows = db.session.scalars(
            db.select(Service).where(Service.active.is_(True), Service.listed.is_(True))
        )
        return [(s.code, s.name_en, s.fee_rupiah, s.legal_basis) for s in rows]


def audit_entries(app, action: str) -> list[AuditEntry]:
    with app.app_context():
        query = db.select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
        entries = list(db.session.scalars(query))
        db.session.expunge_all()
        return entries


def service_form(app, code: str, **changes: Any) -> dict[str, Any]:
    """What the edit form posts for a service: its current values with `changes`."""
    with app.app_context():
        row = db.session.get(Service, code)
        data = {name: getattr(row, name) for name in catalog.EDITABLE[Service]}
        data["units"] = [unit.code for unit in row.units]
    data.update(changes)
    return as_form(data)


def as_form(data: dict[str, Any]) -> dict[str, Any]:
    """Form encoding: a ticked checkbox sends "y", an unticked one nothing."""
    encoded: dict[str, Any] = {}
    for name, value in data.items():
        if value is True:
            encoded[name] = "y"
        elif value is not False:
            encoded[name] = value if isinstance(value, list) else str(value)
    return encoded


def post_edit(browser, url: str, data: dict[str, Any]) -> Any:
    return browser.post(url, data={**data, "csrf_token": csrf_token(browser, url)})


# --- the public catalogue ------------------------------------------------------------------


def test_every_service_shows_its_fee_legal_basis_and_a_report_link(app, client):
    page = english(client).get(CATALOGUE)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    services = listed(app)
    assert len(services) == 8  # every seeded service but the form's "Other service"
    for code, name, fee, basis in services:
        entry = section(html, code)
        assert name in text(entry)
        assert fee == 0 and '<strong class="gratis" lang="id">GRATIS</strong>' in entry
        assert basis == "UU 24/2013 Pasal 79A" and basis in text(entry)
        assert "UU 24/2013 Pasal 95B" in text(entry)
        assert f'href="/lapor?layanan={code}"' in entry
        assert "Report a charge for this service" in text(entry)
    assert 'id="lainnya"' not in html  # "Other service" has no fee or time to publish


def test_catalogue_states_the_law_time_requirements_and_places(client):
    html = english(client).get(CATALOGUE).get_data(as_text=True)
    page = text(html)
    assert "Pengurusan dan penerbitan Dokumen Kependudukan tidak dipungut biaya." in page
    assert "UU 24/2013 Pasal 79A" in page
    assert "up to 6 years in prison and/or a fine of up to Rp75 million" in page
    assert "Pasal 95B" in page
    entry = text(section(html, "ktp_el"))
    assert "Standard time 1 hour" in entry
    assert "Family card (KK)" in entry
    assert "Aged 17 or over, or married or previously married" in entry
    assert "Kota Serang Public Service Mall" in entry
    assert "Every sub-district office (kecamatan)" in entry


def test_catalogue_is_indonesian_by_default_and_has_no_inline_style(client):
    html = client.get(CATALOGUE).get_data(as_text=True)
    entry = text(section(html, "ktp_el"))
    assert "KTP-el (KTP elektronik)" in entry
    assert "Sudah berusia 17 tahun atau sudah/pernah kawin" in entry
    assert "1 jam" in entry
    for page in (html, client.get(f"{CATALOGUE}/ktp_el").get_data(as_text=True)):
        assert "style=" not in page and "<style" not in page and "<script" not in page
    for code in ("lainnya", "nope", "poster-x"):  # unlisted or unknown
        assert client.get(f"{CATALOGUE}/{code}").status_code == 404


def test_report_links_open_the_form_pre_filled(client):
    html = client.get(CATALOGUE).get_data(as_text=True)
    link = re.search(r'href="(/lapor\?layanan=akta_kelahiran)"', html)
    assert link
    form = client.get(link.group(1))
    assert form.status_code == 200
    assert '<option selected value="akta_kelahiran">' in form.get_data(as_text=True)
    # A service's own page also links per place: service and place both chosen.
    page = english(client).get(f"{CATALOGUE}/kia")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "GRATIS" in html and "UU 24/2013 Pasal 79A" in html
    link = re.search(r'href="(/lapor\?layanan=kia&amp;tempat=keliling)"', html)
    assert link
    form_html = client.get(unescape(link.group(1))).get_data(as_text=True)
    assert '<option selected value="kia">' in form_html
    assert '<option selected value="keliling">' in form_html


# --- admin editing ---------------------------------------------------------------------------


def test_fee_edit_is_audited_and_live_at_once_everywhere(app, client, staff_client):
    admin = staff_client("admin")
    url = f"{ADMIN}/services/kia"
    response = post_edit(
        admin,
        url,
        service_form(app, "kia", fee_rupiah="Rp 25.000", standard_time_en="2 working days"),
    )
    assert response.status_code == 303
    assert response.headers["Location"].startswith(f"{ADMIN}?done=saved")
    # Audited with the changed fields, old -> new, and who did it.
    [entry] = audit_entries(app, "catalog.service_updated")
    assert entry.target == "kia"
    assert entry.actor.startswith("admin-")
    assert json.loads(entry.detail) == {
        "fee_rupiah": {"old": 0, "new": 25000},
        "standard_time_en": {"old": "3 days", "new": "2 working days"},
    }
    # Live at once: the catalogue, the API.
    entry_html = section(english(client).get(CATALOGUE).get_data(as_text=True), "kia")
    assert "Rp25.000" in text(entry_html)
    assert "GRATIS" not in entry_html
    assert "2 working days" in text(entry_html)
    api = {row["code"]: row for row in client.get("/api/v1/catalog").get_json()["services"]}
    assert api["kia"]["fee_rupiah"] == 25000
    assert api["ktp_el"]["fee_rupiah"] == 0


def test_rename_and_deactivation_reach_the_form_and_the_api(app, client, staff_client):
    admin = staff_client("admin")
    url = f"{ADMIN}/services/akta_kematian"
    renamed = post_edit(admin, url, service_form(app, "akta_kematian", name_id="Akta Kematian!"))
    assert renamed.status_code == 303
    assert "Akta Kematian!" in client.get("/lapor").get_data(as_text=True)
    assert "Akta Kematian!" in text(client.get(CATALOGUE).get_data(as_text=True))

    gone = post_edit(admin, url, service_form(app, "akta_kematian", active=False))
    assert gone.status_code == 303
    assert 'value="akta_kematian"' not in client.get("/lapor").get_data(as_text=True)
    assert 'id="akta_kematian"' not in client.get(CATALOGUE).get_data(as_text=True)
    assert client.get(f"{CATALOGUE}/akta_kematian").status_code == 404
    codes = [row["code"] for row in client.get("/api/v1/catalog").get_json()["services"]]
    assert "akta_kematian" not in codes
    details = [json.loads(e.detail) for e in audit_entries(app, "catalog.service_updated")]
    assert details == [
        {"name_id": {"old": "Akta Kematian", "new": "Akta Kematian!"}},
        {"active": {"old": True, "new": False}},
    ]


def test_places_of_a_service_are_edited_and_audited(app, client, staff_client):
    admin = staff_client("admin")
    response = post_edit(
        admin,
        f"{ADMIN}/services/pengakuan_anak",
        service_form(app, "pengakuan_anak", units=["disdukcapil", "mpp"]),
    )
    assert response.status_code == 303
    [entry] = audit_entries(app, "catalog.service_updated")
    assert json.loads(entry.detail) == {
        "units": {"old": ["disdukcapil"], "new": ["disdukcapil", "mpp"]}
    }
    entry_html = section(english(client).get(CATALOGUE).get_data(as_text=True), "pengakuan_anak")
    assert "Kota Serang Public Service Mall" in text(entry_html)


def test_saving_without_changes_writes_nothing(app, staff_client):
    admin = staff_client("admin")
    response = post_edit(admin, f"{ADMIN}/services/kk", service_form(app, "kk"))
    assert response.status_code == 303
    assert "done=unchanged" in response.headers["Location"]
    assert audit_entries(app, "catalog.service_updated") == []


INVALID_EDITS = [
    ({"fee_rupiah": "-5000"}, "fee_rupiah", "The fee cannot be negative."),
    ({"fee_rupiah": "lima ribu"}, "fee_rupiah", "Enter the fee in whole Rupiah"),
    ({"fee_rupiah": "999999999999"}, "fee_rupiah", "Rupiah: check the amount."),
    ({"name_en": "x" * 121}, "name_en", "At most 120 characters."),
    ({"name_id": "   "}, "name_id", "This field is required."),
    ({"legal_basis": ""}, "legal_basis", "This field is required."),
    ({"requirements_id": "x" * 4001}, "requirements_id", "At most 4000 characters."),
    ({"units": ["atlantis"]}, "units", "not a valid choice"),
    ({"position": "first"}, "position", "Not a valid integer value."),
]


def test_invalid_service_edits_are_refused_clearly_and_change_nothing(app, staff_client):
    admin = staff_client("admin")
    english(admin)
    for changes, field, message in INVALID_EDITS:
        data = service_form(app, "ktp_el", **{"standard_time_en": "changed too", **changes})
        response = post_edit(admin, f"{ADMIN}/services/ktp_el", data)
        assert response.status_code == 400, changes
        html = response.get_data(as_text=True)
        errors = re.search(rf'<ul class="errors" id="{field}-errors">(.*?)</ul>', html, re.DOTALL)
        assert errors and message in unescape(errors.group(1)), changes
        assert "Please correct the marked fields." in html
    with app.app_context():
        row = db.session.get(Service, "ktp_el")
        assert (row.name_en, row.fee_rupiah) == ("KTP-el (electronic ID card)", 0)
        assert row.standard_time_en == "1 hour"
    assert audit_entries(app, "catalog.service_updated") == []


# Everywhere includes the posters, which need the portal's public address.
@pytest.mark.app_config({"PUBLIC_BASE_URL": "https://lapor.serangkota.go.id"})
def test_admin_adds_a_service_that_appears_everywhere(app, client, staff_client):
    admin = staff_client("admin")
    data = as_form(
        {
            "code": "legalisir",
            "name_id": "Legalisir dokumen",
            "name_en": "Certified copies",
            "fee_rupiah": "0",
            "legal_basis": "UU 24/2013 Pasal 79A",
            "penalty_basis": "UU 24/2013 Pasal 95B",
            "standard_time_id": "15 menit",
            "standard_time_en": "15 minutes",
            "requirements_id": "Dokumen asli\r\n\r\n  Fotokopi  ",
            "requirements_en": "The original\nA photocopy",
            "units": ["mpp"],
            "position": "20",
            "active": True,
            "listed": True,
        }
    )
    response = post_edit(admin, f"{ADMIN}/services/new", data)
    assert response.status_code == 303, response.get_data(as_text=True)
    [entry] = audit_entries(app, "catalog.service_created")
    detail = json.loads(entry.detail)
    assert entry.target == "legalisir"
    assert detail["fee_rupiah"] == {"old": None, "new": 0}
    assert detail["requirements_id"] == {"old": None, "new": "Dokumen asli\nFotokopi"}
    assert detail["units"] == {"old": None, "new": ["mpp"]}
    entry_html = section(english(client).get(CATALOGUE).get_data(as_text=True), "legalisir")
    assert "GRATIS" in entry_html and "15 minutes" in text(entry_html)
    assert '<option selected value="legalisir">' in client.get("/lapor?layanan=legalisir").get_data(
        as_text=True
    )
    codes = [row["code"] for row in client.get("/api/v1/catalog").get_json()["services"]]
    assert "legalisir" in codes
    poster = english(client).get("/layanan/poster/mpp").get_data(as_text=True)
    assert "Certified copies" in poster


def test_new_service_code_must_be_free_and_well_formed(app, staff_client):
    admin = staff_client("admin")
    english(admin)
    for code, message in [
        ("ktp_el", "This code is already used."),
        ("poster", "This code is reserved."),
        ("new", "This code is reserved."),
        ("KTP EL", "Use 2 to 40 lowercase letters, digits or underscores."),
    ]:
        data = as_form(
            {"code": code, "name_id": "A", "name_en": "B", "fee_rupiah": "0"}
            | {"legal_basis": "X", "position": "0", "active": True}
        )
        response = post_edit(admin, f"{ADMIN}/services/new", data)
        assert response.status_code == 400, code
        assert message in response.get_data(as_text=True), code
    assert audit_entries(app, "catalog.service_created") == []


def test_admin_edits_a_unit_and_adds_one(app, client, staff_client):
    admin = staff_client("admin")
    url = f"{ADMIN}/units/mpp"
    with app.app_context():
        unit = db.session.get(Unit, "mpp")
        data = {name: getattr(unit, name) for name in catalog.EDITABLE[Unit]}
    data.update(address="Jl. Contoh No. 1, Serang", hours_en="Mon-Fri 8:00-15:00")
    assert post_edit(admin, url, as_form(data)).status_code == 303
    [entry] = audit_entries(app, "catalog.unit_updated")
    assert json.loads(entry.detail) == {
        "address": {"old": "", "new": "Jl. Contoh No. 1, Serang"},
        "hours_en": {"old": "", "new": "Mon-Fri 8:00-15:00"},
    }
    page = text(english(client).get(CATALOGUE).get_data(as_text=True))
    assert "Jl. Contoh No. 1, Serang" in page and "Mon-Fri 8:00-15:00" in page

    new = {"code": "kel_unyur", "name_id": "Kantor Kelurahan Unyur", "name_en": "Unyur office"}
    new |= {"kind": "kelurahan", "position": "30", "active": True}
    assert post_edit(admin, f"{ADMIN}/units/new", as_form(new)).status_code == 303
    assert [e.target for e in audit_entries(app, "catalog.unit_created")] == ["kel_unyur"]
    assert '<option selected value="kel_unyur">' in client.get("/lapor?tempat=kel_unyur").get_data(
        as_text=True
    )

    bad = {**new, "code": "kel_other", "kind": "castle"}
    assert post_edit(admin, f"{ADMIN}/units/new", as_form(bad)).status_code == 400


def test_admin_edits_and_adds_categories(app, client, staff_client):
    admin = staff_client("admin")
    data = as_form({"name_id": "Pungutan liar", "name_en": "Illegal fee", "position": "0"})
    # `active` unticked: the category leaves the form.
    assert post_edit(admin, f"{ADMIN}/categories/pungli", data).status_code == 303
    [entry] = audit_entries(app, "catalog.category_updated")
    assert json.loads(entry.detail) == {
        "active": {"old": True, "new": False},
        "name_en": {"old": "Illegal levy", "new": "Illegal fee"},
    }
    assert 'value="pungli"' not in client.get("/lapor").get_data(as_text=True)
    new = as_form({"code": "intimidasi", "name_id": "Intimidasi", "name_en": "Intimidation"})
    new |= {"position": "11", "active": "y"}
    assert post_edit(admin, f"{ADMIN}/categories/new", new).status_code == 303
    categories = client.get("/api/v1/catalog").get_json()["categories"]
    assert {"code": "intimidasi", "name_id": "Intimidasi", "name_en": "Intimidation"} in categories


def test_admin_pages_render_and_unknown_rows_are_404(app, staff_client):
    admin = staff_client("admin")
    english(admin)
    overview = admin.get(ADMIN)
    assert overview.status_code == 200
    html = overview.get_data(as_text=True)
    assert f'href="{ADMIN}/services/ktp_el"' in html and f'href="{ADMIN}/units/mpp"' in html
    for url in ("/services/ktp_el", "/services/new", "/units/mpp", "/categories/calo"):
        assert admin.get(ADMIN + url).status_code == 200
    assert 'value="25000"' not in admin.get(f"{ADMIN}/services/ktp_el").get_data(as_text=True)
    for url in ("/services/nope", "/units/nope", "/categories/nope"):
        assert admin.get(ADMIN + url).status_code == 404
    assert f'href="{ADMIN}"' in admin.get("/inspectorate/").get_data(as_text=True)


def test_other_roles_get_403_on_every_catalogue_admin_route(app, staff_client):
    for role in ("investigator", "auditor"):
        browser = staff_client(role)
        assert f'href="{ADMIN}"' not in browser.get("/inspectorate/").get_data(as_text=True)
        token = csrf_token(browser, "/lapor")
        for method, url in ADMIN_ROUTES:
            data = {"csrf_token": token, "name_en": "hijacked", "fee_rupiah": "9"}
            response = browser.open(url, method=method, data=data if method == "POST" else None)
            assert response.status_code == 403, (role, method, url)
    assert audit_entries(app, "catalog.service_updated") == []


def test_anonymous_visitors_are_sent_to_sign_in(client):
    for method, url in ADMIN_ROUTES:
        response = client.open(url, method=method)
        if method == "POST":  # CSRF is checked first: no token, no entry
            assert response.status_code in (303, 400), (method, url)
        else:
            assert response.status_code == 303
            assert response.headers["Location"].endswith("/inspectorate/login")


# --- the service functions -----------------------------------------------------------------


def test_service_refuses_bad_values_without_writing(app):
    with app.app_context():
        row = db.session.get(Service, "kk")
        with pytest.raises(catalog.InvalidEntry) as refused:
            catalog.update(
                row, actor="admin@x", values={"fee_rupiah": -1, "name_en": "", "code": "zz"}
            )
        assert set(refused.value.errors) == {"fee_rupiah", "name_en", "code"}
        with pytest.raises(catalog.InvalidEntry):
            catalog.update(row, actor="admin@x", values={"fee_rupiah": True})
        with pytest.raises(catalog.DuplicateCode):
            catalog.create(Category, actor="admin@x", code="calo", values={"name_id": "a"})
        db.session.rollback()
        assert db.session.get(Service, "kk").fee_rupiah == 0
        assert db.session.scalars(db.select(AuditEntry.action)).all() == ["instance.setup"]


def test_seed_never_overwrites_an_admin_edit(app):
    with app.app_context(), atomic():
        row = db.session.get(Service, "ktp_el")
        catalog.update(row, actor="admin@x", values={"standard_time_id": "50 menit"})
        catalog.seed_catalog()
        db.session.commit()
        assert db.session.get(Service, "ktp_el").standard_time_id == "50 menit"
        assert db.session.get(Category, "pungli") is not None
