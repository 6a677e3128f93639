"""An XSS and injection corpus through every field, file name and catalogue text: always inert.

Every payload carries MARK. Each view and export that shows the text is parsed as a
browser (or a spreadsheet, or a feed reader) would: MARK may appear as text, never as
a tag, an event handler, a script, a `javascript:` link, or a formula.
"""

from __future__ import annotations

import csv
import io
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import pytest
from flask import Flask

from portal import sanitize
from portal.extensions import db
from portal.models import Category, Service, Status, Unit
from portal.models.reports import Outcome
from portal.services import cases as cases_service
from portal.services import reports as reports_service
from portal.services import setup as setup_service
from portal.services import staff as staff_service
from portal.services.cases import Sanction
from portal.transaction import atomic
from tests.helpers import ADMIN_EMAIL, csrf_token, make_staff, submit_report
from tests.helpers.publication import publish_summary

MARK = "XSSMARK"
PAYLOADS = [
    f"<script>alert('{MARK}')</script>",
    f'"><img src=x onerror="alert(\'{MARK}\')">',
    f"<svg onload=alert('{MARK}')><a xlink:href='javascript:alert(1)'>{MARK}</a></svg>",
    f"<a href=\"javascript:alert('{MARK}')\">{MARK}</a>",
    f"<iframe src=//evil.example/{MARK}></iframe><style>*{{x:expression({MARK})}}</style>",
    f"</textarea></title><b onmouseover=alert('{MARK}')>x",
    f"<!--{MARK}--><p <p onclick='{MARK}'>",
    f'=HYPERLINK("https://evil.example/{MARK}","klik")',
    f"+{MARK}!A1",
    f"@SUM({MARK})",
    f"-{MARK}+1",
    f"{MARK}\r\nSet-Cookie: x=1",
]
ALL = " ".join(PAYLOADS)
LINK_ATTRS = {"href", "src", "action", "formaction", "xlink:href", "data", "srcdoc"}
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}
# Elements whose content a browser runs or loads rather than shows as text.
RAW_TEXT = {"script", "style", "iframe", "object", "noscript", "template", "xmp"}


class InertCheck(HTMLParser):
    """Fails on any markup that MARK (or any page text) could have turned into code."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self.open: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in VOID:
            self.open.append(tag)
        for name, value in attrs:
            value = value or ""
            if name.startswith("on"):
                self.problems.append(f"<{tag} {name}=...>: an event handler")
            if name in LINK_ATTRS and value.strip().lower().startswith(
                ("javascript:", "data:text")
            ):
                self.problems.append(f"<{tag} {name}={value!r}>: a script link")
            if MARK in value and name not in ("value", "title", "alt", "aria-label"):
                self.problems.append(f"<{tag} {name}={value!r}>: payload in an attribute")
            if MARK in name:
                self.problems.append(f"<{tag} {name}>: payload as an attribute name")
        if MARK in tag:
            self.problems.append(f"<{tag}>: payload as a tag")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.open:
            del self.open[len(self.open) - 1 - self.open[::-1].index(tag) :]

    def handle_data(self, data: str) -> None:
        if MARK in data and self.open and self.open[-1] in RAW_TEXT:
            self.problems.append(f"payload inside <{self.open[-1]}>")

    def handle_comment(self, data: str) -> None:
        if MARK in data:
            self.problems.append("payload became an HTML comment")


def assert_inert(html: str, where: str) -> None:
    checker = InertCheck()
    checker.feed(html)
    checker.close()
    assert not checker.problems, f"{where}: {checker.problems}"
    # Our own scripts only, never inline.
    for match in re.finditer(r"<script\b([^>]*)>(.*?)</script>", html, re.S | re.I):
        assert 'src="/static/' in match.group(1) and not match.group(2).strip(), where


def assert_csv_inert(text: str, where: str) -> None:
    for row in csv.reader(io.StringIO(text)):
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), f"{where}: {cell!r}"


def _poison_catalogue(app: Flask) -> None:
    """An admin (or whoever took over one) writes payloads into every catalogue text."""
    with app.app_context():
        for index, row in enumerate(
            [*db.session.scalars(db.select(Service)), *db.session.scalars(db.select(Category))]
        ):
            row.name_id = PAYLOADS[index % len(PAYLOADS)][:120]
            row.name_en = PAYLOADS[(index + 1) % len(PAYLOADS)][:120]
        for row in db.session.scalars(db.select(Service)):
            for column in ("legal_basis", "requirements_id", "requirements_en", "standard_time_id"):
                setattr(row, column, PAYLOADS[2][:120])
            row.penalty_basis = PAYLOADS[5][:200]
        for row in db.session.scalars(db.select(Unit)):
            row.name_id = PAYLOADS[1][:160]
            row.name_en = PAYLOADS[0][:160]
        db.session.commit()


def _publish(app: Flask, code: str) -> str:
    """Resolve with hostile notes and publish a hostile summary (four eyes)."""
    with app.app_context(), atomic():
        actor = staff_service.find_by_email(ADMIN_EMAIL)
        key = setup_service.private_key_from_recovery(app.config["TEST_INSTANCE"].recovery_key)
        report = reports_service.find(code)
        assert report is not None
        for target in (Status.VERIFIED, Status.IN_PROGRESS):
            cases_service.change_status(
                report=report, actor=actor, private_key=key, target=target, public_note=ALL[:1000]
            )
        cases_service.record_outcome(
            report=report,
            actor=actor,
            private_key=key,
            outcome=Outcome.PROVEN,
            sanction=Sanction.WRITTEN_WARNING,
            refund_rupiah=None,
            public_note=PAYLOADS[3],
        )
    author, approver = make_staff(app), make_staff(app)
    return publish_summary(app, code, author, approver, title=PAYLOADS[0][:120], summary=ALL[:2000])


@pytest.fixture
def poisoned(app, staff_client):
    """A report carrying the corpus in every field, file name, message and note."""
    citizen = app.test_client()
    fields = {
        "promised": PAYLOADS[0][:500],
        "person_description": ALL[:2000],
        "chronology": ALL,
        "contact": PAYLOADS[1],
    }
    code, receipt = submit_report(citizen, **fields)
    reporter = app.test_client()
    token = csrf_token(reporter, "/kotak-masuk")
    reporter.post(
        "/kotak-masuk/masuk", data={"code": code, "receipt": receipt, "csrf_token": token}
    )
    token = csrf_token(reporter, "/kotak-masuk")
    reporter.post("/kotak-masuk/pesan", data={"csrf_token": token, "body": ALL})
    evidence = (
        io.BytesIO(b"Bukti: calo di loket 3"),
        "%22><img src=x onerror=alert(" + MARK + ")>.txt",
    )  # as browsers send "
    sent = reporter.post(
        "/kotak-masuk/bukti",
        data={"csrf_token": csrf_token(reporter, "/kotak-masuk"), "evidence": [evidence]},
        content_type="multipart/form-data",
    )
    assert sent.status_code == 303
    _poison_catalogue(app)
    public_id = _publish(app, code)
    return code, reporter, public_id


# Posters print the public address, and are refused until it is set.
@pytest.mark.app_config({"PUBLIC_BASE_URL": "https://lapor.serangkota.go.id"})
def test_every_view_and_export_keeps_the_corpus_inert(app, poisoned, staff_client):
    code, reporter, public_id = poisoned
    admin = app.test_client()
    from tests.helpers import admin_account, staff_login

    assert staff_login(app, admin, admin_account(app)).status_code == 303
    # A failed sign-in with a hostile email puts the corpus in the audit log.
    stranger = app.test_client()
    stranger.post(
        "/inspectorate/login",
        data={
            "email": PAYLOADS[7][:254],
            "password": "x",
            "code": "1",
            "csrf_token": csrf_token(stranger, "/inspectorate/login"),
        },
    )
    anonymous = app.test_client()
    html_views = [
        (reporter, "/kotak-masuk"),
        (admin, f"/inspectorate/reports/{code}"),
        (admin, "/inspectorate/queue"),
        (admin, "/inspectorate/audit"),
        (admin, "/inspectorate/publications"),
        (admin, f"/inspectorate/publications/{code}"),
        (admin, "/inspectorate/admin/catalog"),
        (admin, "/inspectorate/operator"),
        (anonymous, f"/status/{code}"),
        (anonymous, "/publikasi"),
        (anonymous, f"/publikasi/{public_id}"),
        (anonymous, "/layanan"),
        (anonymous, "/layanan/ktp_el"),
        (anonymous, "/layanan/poster"),
        (anonymous, "/layanan/poster/mpp"),
        (anonymous, "/transparansi"),
        (anonymous, "/lapor"),
        (anonymous, "/"),
    ]
    shown = 0
    for browser, url in html_views:
        response = browser.get(url)
        assert response.status_code == 200, url
        page = response.get_data(as_text=True)
        shown += page.count(MARK)
        assert_inert(page, url)
    assert shown > 50  # the corpus did reach the pages, as text
    # The contact details, behind their audited button.
    token = csrf_token(admin, f"/inspectorate/reports/{code}")
    contact = admin.post(
        f"/inspectorate/reports/{code}/contact", data={"contact-csrf_token": token}
    )
    assert contact.status_code == 200
    assert_inert(contact.get_data(as_text=True), "contact")
    # CSV exports: text for a spreadsheet, never formulas.
    for url in ("/inspectorate/audit.csv",):
        assert_csv_inert(admin.get(url).get_data(as_text=True), url)
    assert_csv_inert(anonymous.get("/api/v1/stats.csv").get_data(as_text=True), "stats.csv")
    # The Atom feed: well-formed XML whose HTML content is inert once a reader renders it.
    feed = ET.fromstring(anonymous.get("/publikasi/feed.atom").data)  # noqa: S314 - our own feed
    atom = "{http://www.w3.org/2005/Atom}"
    for entry in feed.iter(f"{atom}entry"):
        content = entry.find(f"{atom}content")
        assert content is not None and content.get("type") == "html"
        assert_inert(content.text or "", "feed content")
        assert "<" not in (entry.findtext(f"{atom}summary") or "")
    # The evidence download: a plain attachment with a tame file name, no header injection.
    page = reporter.get("/kotak-masuk").get_data(as_text=True)
    link = re.search(r'href="(/kotak-masuk/bukti/\d+)"', page)
    assert link
    download = reporter.get(link.group(1))
    disposition = download.headers["Content-Disposition"]
    assert disposition.startswith("attachment")
    assert "<" not in disposition and "\r" not in disposition and "\n" not in disposition
    assert download.headers["Content-Security-Policy"] == "default-src 'none'; sandbox"


# --- the allow-list --------------------------------------------------------------------------


@pytest.mark.parametrize("payload", PAYLOADS)
def test_sanitize_keeps_every_payload_inert(app, payload):
    with app.app_context():
        assert_inert(str(sanitize.formatted(payload)), payload)


def test_sanitize_keeps_paragraphs_lists_and_official_links(app):
    text = (
        "<p>Lihat <a href=\"https://ombudsman.go.id/laporan\" onclick='x'>Ombudsman</a>.</p>"
        "<ul><li><strong>Satu</strong></li><li><em>Dua</em></li></ul>"
        '<p><a href="https://evil.example/">bukan resmi</a>'
        ' <a href="http://kpk.go.id/">tanpa https</a>'
        ' <a href="https://kpk.go.id.evil.example/">mirip</a></p>'
    )
    with app.app_context():
        html = str(sanitize.formatted(text))
    assert '<a href="https://ombudsman.go.id/laporan">Ombudsman</a>' in html
    assert "<ul><li><strong>Satu</strong></li><li><em>Dua</em></li></ul>" in html
    assert "onclick" not in html
    assert html.count("href=") == 1  # the other three lost their link, kept their words
    assert "bukan resmi" in html and "tanpa https" in html and "mirip" in html


def test_plain_text_gets_paragraphs_and_line_breaks(app):
    with app.app_context():
        html = str(sanitize.formatted("Baris satu\nbaris dua\n\nParagraf < dua & tiga"))
    assert html == "<p>Baris satu<br>baris dua</p><p>Paragraf &lt; dua &amp; tiga</p>"


def test_only_sanitize_imports_bleach():
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent / "portal"
    users = sorted(
        str(path.relative_to(root))
        for path in root.rglob("*.py")
        if re.search(r"^\s*(import bleach|from bleach)", path.read_text(), re.M)
    )
    assert users == ["sanitize.py"]


def test_templates_render_no_markup_except_through_the_allow_list():
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent / "templates"
    for path in root.rglob("*.html"):
        text = path.read_text()
        assert "|safe" not in text.replace(" ", ""), path
        assert "autoescape false" not in text, path


@pytest.mark.parametrize("payload", PAYLOADS[:7])
def test_the_checker_would_catch_each_payload_rendered_raw(payload):
    with pytest.raises(AssertionError):
        assert_inert(f"<p>{payload}</p>", "raw")
