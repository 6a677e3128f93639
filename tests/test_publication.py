"""Publications: four eyes, never public before approval, withdrawal, feed and API."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest
from flask import Flask
from flask.testing import FlaskClient

from portal.extensions import db
from portal.models import AuditEntry, Outcome, Status
from portal.models.base import today as local_today
from portal.services import cases as cases_service
from portal.services import publication
from portal.services import reports as reports_service
from portal.services import setup as setup_service
from portal.services import staff as staff_service
from portal.services.cases import Sanction
from portal.transaction import atomic
from tests.helpers import ADMIN_EMAIL, csrf_token, make_staff, staff_login, submit_report
from tests.helpers.publication import (
    SUMMARY,
    TITLE,
    approve,
    case_row,
    english,
    page_url,
    publish_case,
    resolve,
    save,
)

ATOM = "{http://www.w3.org/2005/Atom}"
RFC3339_MONTH_START = re.compile(r"^[0-9]{4}-[0-9]{2}-01T00:00:00Z$")
ISO_DAY = re.compile(r"\b20[0-9]{2}-[01][0-9]-[0-3][0-9]\b")
PUBLIC_URLS = ("/publikasi", "/publikasi/feed.atom", "/api/v1/publications")


# --- helpers ------------------------------------------------------------------------------


def reopen(app: Flask, code: str) -> None:
    """Move a resolved report back to in_progress."""
    with app.app_context(), atomic():
        actor = staff_service.find_by_email(ADMIN_EMAIL)
        key = setup_service.private_key_from_recovery(app.config["TEST_INSTANCE"].recovery_key)
        cases_service.change_status(
            report=reports_service.find(code),
            actor=actor,
            private_key=key,
            target=Status.IN_PROGRESS,
            public_note="dibuka kembali",
        )


def withdraw(browser: FlaskClient, code: str, reason: str = "inaccurate", note: str = ""):
    """Post the withdrawal form."""
    token = csrf_token(browser, page_url(code))
    return browser.post(
        page_url(code, "withdraw"), data={"csrf_token": token, "reason": reason, "note": note}
    )


def audit_actions(app: Flask, code: str) -> list[tuple[str, str, str]]:
    """(action, actor, detail) of publication audit entries for this report, in order."""
    with app.app_context():
        rows = db.session.scalars(
            db.select(AuditEntry)
            .where(AuditEntry.target == code, AuditEntry.action.like("publication.%"))
            .order_by(AuditEntry.id)
        )
        return [(row.action, row.actor, row.detail) for row in rows]


def feed_entries(client: FlaskClient) -> list[ET.Element]:
    """The entries of the Atom feed, parsed as a newsroom would."""
    response = client.get("/publikasi/feed.atom")
    assert response.status_code == 200
    root = ET.fromstring(response.data)  # noqa: S314 - our own feed
    return root.findall(f"{ATOM}entry")


def api_ids(client: FlaskClient) -> list[str]:
    """The ids the JSON API lists on its first page."""
    response = client.get("/api/v1/publications")
    assert response.status_code == 200
    return [case["id"] for case in response.get_json()["publications"]]


def public_everywhere(client: FlaskClient, public_id: str, title: str = TITLE) -> bool:
    """Whether the case is on the register, its own page, the feed and the API."""
    listed = title in client.get("/publikasi").get_data(as_text=True)
    own_page = client.get(f"/publikasi/{public_id}").status_code == 200
    in_feed = any(
        entry.findtext(f"{ATOM}id") == f"urn:uuid:{public_id}" for entry in feed_entries(client)
    )
    in_api = public_id in api_ids(client)
    states = {listed, own_page, in_feed, in_api}
    assert len(states) == 1, (listed, own_page, in_feed, in_api)
    return listed


@pytest.fixture
def resolved(app: Flask, client: FlaskClient) -> str:
    """The tracking code of a resolved, proven report."""
    code, _ = submit_report(client)
    resolve(app, code)
    return code


@pytest.fixture
def members(app: Flask):
    """Two signed-in handlers (author, approver) and an admin browser."""

    def signed_in(role: str = "investigator") -> FlaskClient:
        browser = app.test_client()
        assert staff_login(app, browser, make_staff(app, role)).status_code == 303
        return browser

    return signed_in


# --- four eyes ----------------------------------------------------------------------------


def test_the_author_cannot_approve_their_own_summary(app, client, resolved, members):
    author = english(members())
    assert save(author, resolved).status_code == 303
    draft = case_row(app, resolved)
    assert draft is not None and draft.state == "awaiting_approval"

    refused = approve(author, resolved, revision=draft.revision)
    assert refused.status_code == 403
    assert "you cannot approve it" in refused.get_data(as_text=True)
    page = author.get(page_url(resolved)).get_data(as_text=True)
    assert "Another staff member must read and approve it" in page
    assert 'action="/inspectorate/publications/' + resolved + '/approve"' not in page

    after = case_row(app, resolved)
    assert after.state == "awaiting_approval" and after.approver_id is None
    assert not public_everywhere(client, draft.public_id)
    assert [action for action, _, _ in audit_actions(app, resolved)] == ["publication.drafted"]


def test_an_unapproved_summary_is_never_public(app, client, resolved, members):
    author = members()
    save(author, resolved)
    draft = case_row(app, resolved)
    assert not public_everywhere(client, draft.public_id)
    assert client.get(f"/publikasi/{draft.public_id}").status_code == 404
    for url in PUBLIC_URLS:
        assert TITLE not in client.get(url).get_data(as_text=True)
    # The service's own view agrees: nothing public.
    with app.app_context():
        assert publication.public_page(page=1, per_page=10).publications == []


def test_approval_by_a_second_member_publishes_on_page_feed_and_api(app, client, resolved, members):
    author, approver = members(), members("admin")
    save(author, resolved)
    draft = case_row(app, resolved)
    assert approve(approver, resolved).status_code == 303

    assert public_everywhere(client, draft.public_id)
    english(client)
    page = client.get(f"/publikasi/{draft.public_id}").get_data(as_text=True)
    for fact in ("Proven", "Written warning", "Rp160.000", "Illegal levy", TITLE):
        assert fact in page, fact
    assert "Uang pelapor dikembalikan." in page
    audited = audit_actions(app, resolved)
    approver_email = audited[-1][1]
    assert [action for action, _, _ in audited] == ["publication.drafted", "publication.approved"]
    assert audited[0][1] != approver_email
    assert all(TITLE not in detail and "Petugas" not in detail for _, _, detail in audited)


def test_public_outputs_never_show_the_tracking_code_or_a_day(app, client, resolved, members):
    save(members(), resolved)
    approve(members(), resolved)
    public_id = case_row(app, resolved).public_id
    with app.app_context():
        report = reports_service.find(resolved)
        days = {report.received_on.isoformat(), report.closed_on.isoformat()}
    outputs = [client.get(url).get_data(as_text=True) for url in PUBLIC_URLS]
    outputs.append(client.get(f"/publikasi/{public_id}").get_data(as_text=True))
    for text in outputs:
        assert resolved not in text
        assert resolved.split("-", 1)[1] not in text
        assert not days & set(ISO_DAY.findall(text)), ISO_DAY.findall(text)
        assert not {day for day in ISO_DAY.findall(text) if not day.endswith("-01")}
    case = client.get("/api/v1/publications").get_json()["publications"][0]
    assert case["refund_rupiah"] == 160_000  # 155,555 rounded to two significant digits
    assert re.fullmatch(r"[0-9]{4}-[0-9]{2}", case["incident_month"])
    assert re.fullmatch(r"[0-9]{4}-[0-9]{2}", case["resolved_month"])
    assert set(case) == {
        "id",
        "url",
        "title",
        "summary",
        "category",
        "service",
        "unit",
        "incident_month",
        "resolved_month",
        "published_month",
        "outcome",
        "sanction",
        "refund_rupiah",
    }


def test_a_stale_approval_is_refused(app, client, resolved, members):
    author, approver = members(), members()
    save(author, resolved)
    seen = case_row(app, resolved).revision
    save(author, resolved, summary=SUMMARY + "\nTambahan.")
    refused = approve(approver, resolved, revision=seen)
    assert refused.status_code == 409
    assert case_row(app, resolved).state == "awaiting_approval"
    assert not public_everywhere(client, case_row(app, resolved).public_id)


# --- withdrawal and editing ---------------------------------------------------------------


def test_withdrawal_removes_the_case_everywhere_and_is_audited(app, client, resolved, members):
    save(members(), resolved)
    approve(members(), resolved)
    public_id = case_row(app, resolved).public_id
    assert public_everywhere(client, public_id)

    remover = members()
    assert withdraw(remover, resolved, reason="because").status_code == 400  # unknown reason
    assert public_everywhere(client, public_id)
    response = withdraw(remover, resolved, reason="identifies_someone", note="Menyebut loket 3")
    assert response.status_code == 303
    assert not public_everywhere(client, public_id)
    assert client.get(f"/publikasi/{public_id}").status_code == 404
    assert case_row(app, resolved).state == "withdrawn"

    action, _, detail = audit_actions(app, resolved)[-1]
    assert action == "publication.unpublished"
    assert "reason=identifies_someone" in detail
    assert "loket" not in detail  # the free-text note stays out of the append-only log

    # Withdrawing twice is refused and changes nothing.
    assert withdraw(remover, resolved).status_code == 409
    assert len(audit_actions(app, resolved)) == 3


def test_editing_an_approved_summary_unpublishes_it_until_reapproved(
    app, client, resolved, members
):
    first, second, third = members(), members(), members()
    save(first, resolved)
    approve(second, resolved)
    public_id = case_row(app, resolved).public_id
    assert public_everywhere(client, public_id)

    # The approver edits: the case leaves the public at once, and they may not approve it.
    assert save(second, resolved, title="Judul baru").status_code == 303
    edited = case_row(app, resolved)
    assert edited.state == "awaiting_approval" and edited.revision == 2
    assert not public_everywhere(client, public_id, title="Judul baru")
    assert approve(second, resolved).status_code == 403

    # The first author may approve the second's edit: two people read this version.
    assert approve(first, resolved).status_code == 303
    assert public_everywhere(client, public_id, title="Judul baru")
    assert TITLE not in client.get("/publikasi").get_data(as_text=True)
    # Same Atom entry id across the edit, so readers update instead of duplicating.
    assert [entry.findtext(f"{ATOM}id") for entry in feed_entries(client)] == [
        f"urn:uuid:{public_id}"
    ]
    actions = [action for action, _, _ in audit_actions(app, resolved)]
    assert actions == [
        "publication.drafted",
        "publication.approved",
        "publication.edited",
        "publication.approved",
    ]
    # Saving the same text again changes nothing and stays public.
    # Browsers send CRLF line ends; the same text sent that way is still the same text.
    crlf = SUMMARY.replace("\n", "\r\n")
    assert save(third, resolved, title=" Judul  baru ", summary=crlf).status_code == 303
    assert case_row(app, resolved).state == "published"
    assert len(audit_actions(app, resolved)) == 4


def test_a_withdrawn_summary_returns_only_through_a_new_approval(app, client, resolved, members):
    author, approver = members(), members()
    save(author, resolved)
    approve(approver, resolved)
    withdraw(approver, resolved)
    public_id = case_row(app, resolved).public_id
    assert approve(approver, resolved).status_code == 409  # not awaiting approval
    assert save(author, resolved).status_code == 303  # same text: back for approval
    assert case_row(app, resolved).state == "awaiting_approval"
    assert not public_everywhere(client, public_id)
    assert approve(approver, resolved).status_code == 303
    assert public_everywhere(client, public_id)


# --- only resolved reports ----------------------------------------------------------------


def test_only_resolved_reports_can_be_published(app, client, members):
    code, _ = submit_report(client)
    handler = english(members())
    page = handler.get(page_url(code))
    assert page.status_code == 200
    assert "Only resolved reports can be published" in page.get_data(as_text=True)
    refused = save(handler, code)
    assert refused.status_code == 409
    assert "Only resolved reports can be published" in refused.get_data(as_text=True)
    assert case_row(app, code) is None
    assert audit_actions(app, code) == []


def test_reopening_or_a_new_outcome_hides_the_case_until_reapproved(app, client, resolved, members):
    author, approver = members(), members()
    save(author, resolved)
    approve(approver, resolved)
    public_id = case_row(app, resolved).public_id

    reopen(app, resolved)
    assert not public_everywhere(client, public_id)
    # Resolved again with another outcome: the approved text no longer matches the facts.
    with app.app_context(), atomic():
        actor = staff_service.find_by_email(ADMIN_EMAIL)
        key = setup_service.private_key_from_recovery(app.config["TEST_INSTANCE"].recovery_key)
        cases_service.record_outcome(
            report=reports_service.find(resolved),
            actor=actor,
            private_key=key,
            outcome=Outcome.NOT_PROVEN,
            sanction=Sanction.NONE,
            refund_rupiah=None,
            public_note="tidak terbukti",
        )
    assert not public_everywhere(client, public_id)
    staff_page = english(author).get(page_url(resolved)).get_data(as_text=True)
    assert "Approved, but not public" in staff_page

    # Saving again records the new facts; a second member's approval publishes them.
    save(author, resolved, summary="Laporan tidak terbukti setelah pemeriksaan.")
    assert approve(approver, resolved).status_code == 303
    assert public_everywhere(client, public_id)
    case = client.get("/api/v1/publications").get_json()["publications"][0]
    assert (case["outcome"], case["sanction"], case["refund_rupiah"]) == ("not_proven", None, None)


def test_approval_is_refused_when_the_facts_changed_since_the_text(app, client, resolved, members):
    author, approver = members(), members()
    save(author, resolved)
    reopen(app, resolved)
    assert approve(approver, resolved).status_code == 409
    resolve_again = {"outcome": Outcome.PROVEN, "sanction": Sanction.DISMISSAL, "refund": None}
    with app.app_context(), atomic():
        actor = staff_service.find_by_email(ADMIN_EMAIL)
        key = setup_service.private_key_from_recovery(app.config["TEST_INSTANCE"].recovery_key)
        cases_service.record_outcome(
            report=reports_service.find(resolved),
            actor=actor,
            private_key=key,
            outcome=resolve_again["outcome"],
            sanction=resolve_again["sanction"],
            refund_rupiah=None,
            public_note="selesai lagi",
        )
    refused = english(approver).post(
        page_url(resolved, "approve"),
        data={"csrf_token": csrf_token(approver, page_url(resolved)), "revision": "1"},
    )
    assert refused.status_code == 409
    assert "changed since this summary was written" in refused.get_data(as_text=True)
    assert case_row(app, resolved).state == "awaiting_approval"


# --- input --------------------------------------------------------------------------------


def test_bad_summaries_are_refused_and_nothing_is_saved(app, client, resolved, members):
    handler = members()
    assert save(handler, resolved, title="x" * 121).status_code == 400
    assert save(handler, resolved, summary="y" * 2001).status_code == 400
    assert save(handler, resolved, title="").status_code == 400
    assert save(handler, resolved, summary="bell\x07").status_code == 400
    assert case_row(app, resolved) is None
    assert handler.get(page_url("SRG-0000-0000-00")).status_code == 404
    assert handler.get(page_url("not a code")).status_code == 404


def test_the_overview_lists_reports_to_write_and_summaries_to_approve_and_warns(
    app, client, resolved, members
):
    author, other = english(members()), members()
    overview = author.get("/inspectorate/publications").get_data(as_text=True)
    assert page_url(resolved) in overview
    # The writing page warns what must never be written.
    page = author.get(page_url(resolved)).get_data(as_text=True)
    assert 'id="redaction-warning"' in page
    for words in ("No names of officers, reporters", "No dates finer than the month"):
        assert words in page
    save(author, resolved)
    mine = author.get("/inspectorate/publications").get_data(as_text=True)
    assert "another member must approve" in mine
    assert (
        "another member must approve" not in english(other).get("/inspectorate/publications").text
    )
    # Typing a code (forgivingly) opens its page.
    typed = author.get("/inspectorate/publications", query_string={"code": resolved.lower()})
    assert typed.status_code == 303 and typed.headers["Location"].endswith(page_url(resolved))
    assert author.get("/inspectorate/publications?code=nope").status_code == 404


# --- access -------------------------------------------------------------------------------


def test_auditors_are_refused_and_visitors_sent_to_sign_in(app, client, resolved, members):
    auditor = members("auditor")
    anonymous = app.test_client()
    gets = ["/inspectorate/publications", page_url(resolved)]
    posts = [page_url(resolved), page_url(resolved, "approve"), page_url(resolved, "withdraw")]
    token = csrf_token(auditor, "/inspectorate/")
    for url in gets:
        assert auditor.get(url).status_code == 403
        sent = anonymous.get(url)
        assert sent.status_code == 303 and sent.headers["Location"].endswith("/inspectorate/login")
    for url in posts:
        data = {"csrf_token": token, "title": "t", "summary": "s", "revision": "1"}
        assert auditor.post(url, data=data).status_code == 403
        sent = anonymous.post(url, data={"title": "t", "summary": "s"})
        assert sent.status_code in (303, 400)  # no CSRF token: refused before anything
    assert case_row(app, resolved) is None
    menu = members().get("/inspectorate/").get_data(as_text=True)
    assert 'href="/inspectorate/publications"' in menu
    assert 'href="/inspectorate/publications"' not in auditor.get("/inspectorate/").text


# --- feed and API -------------------------------------------------------------------------


def test_the_atom_feed_is_valid_atom_1_0(app, client):
    public_id = publish_case(app, title='Calo <b>"cepat"</b> & loket')
    response = client.get("/publikasi/feed.atom")
    assert response.mimetype == "application/atom+xml"
    root = ET.fromstring(response.data)  # noqa: S314 - our own feed
    assert root.tag == f"{ATOM}feed"
    feed_id = root.findtext(f"{ATOM}id")
    assert feed_id and feed_id.startswith("urn:uuid:")
    assert root.findtext(f"{ATOM}title")
    assert RFC3339_MONTH_START.match(root.findtext(f"{ATOM}updated") or "")
    assert root.find(f"{ATOM}author/{ATOM}name") is not None
    links = {link.get("rel"): link.get("href") for link in root.findall(f"{ATOM}link")}
    assert links["self"].endswith("/publikasi/feed.atom") and links["alternate"].endswith(
        "/publikasi"
    )

    (entry,) = root.findall(f"{ATOM}entry")
    assert entry.findtext(f"{ATOM}id") == f"urn:uuid:{public_id}"
    assert entry.findtext(f"{ATOM}title") == 'Calo <b>"cepat"</b> & loket'  # escaped, intact
    updated = entry.findtext(f"{ATOM}updated") or ""
    assert RFC3339_MONTH_START.match(updated)
    assert updated.startswith(local_today().strftime("%Y-%m"))
    assert entry.find(f"{ATOM}link").get("href").endswith(f"/publikasi/{public_id}")
    assert entry.findtext(f"{ATOM}summary") == SUMMARY
    content = entry.find(f"{ATOM}content")
    # The content is the summary's sanitised HTML (portal/sanitize.py), escaped in the XML.
    assert content.get("type") == "html"
    assert "<p>Petugas terbukti menerima uang dari calo.<br>Uang pelapor dikembalikan.</p>" in (
        content.text or ""
    )
    assert entry.find(f"{ATOM}category").get("term") == "pungli"
    # The same feed id every time: readers must not see a new feed.
    again = ET.fromstring(client.get("/publikasi/feed.atom").data)  # noqa: S314
    assert again.findtext(f"{ATOM}id") == feed_id


def test_an_empty_register_is_still_valid_and_unknown_cases_are_404(client):
    root = ET.fromstring(client.get("/publikasi/feed.atom").data)  # noqa: S314
    assert root.findall(f"{ATOM}entry") == []
    assert RFC3339_MONTH_START.match(root.findtext(f"{ATOM}updated") or "")
    assert client.get("/publikasi").status_code == 200
    assert client.get("/api/v1/publications").get_json() == {
        "publications": [],
        "page": 1,
        "next_page": None,
    }
    assert client.get("/publikasi/0b5f7f0e-4d3c-4a8e-9a59-2f1c7c6a9e11").status_code == 404
    assert client.get("/publikasi/1").status_code == 404


@pytest.mark.app_config({"PUBLICATIONS_PAGE_SIZE": 1})
def test_register_and_api_page_newest_approval_first(app, client):
    older = publish_case(app, title="Kasus pertama")
    newer = publish_case(app, title="Kasus kedua")
    first = client.get("/api/v1/publications").get_json()
    assert [case["id"] for case in first["publications"]] == [newer]
    assert first["next_page"] == 2
    second = client.get("/api/v1/publications?page=2").get_json()
    assert [case["id"] for case in second["publications"]] == [older]
    assert second["next_page"] is None
    html = client.get("/publikasi").get_data(as_text=True)
    assert "Kasus kedua" in html and "Kasus pertama" not in html
    assert 'href="/publikasi?halaman=2"' in html
    assert "Kasus pertama" in client.get("/publikasi?halaman=2").get_data(as_text=True)
    assert client.get("/publikasi?halaman=3").status_code == 404
    assert client.get("/publikasi?halaman=zero").status_code == 404
    bad = client.get("/api/v1/publications?page=0")
    assert bad.status_code == 400 and bad.get_json()["error"]["code"] == "invalid_page"
