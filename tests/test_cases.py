"""The case view and case actions: decrypted report, audited reads, lifecycle, notes."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

from portal import deadlines
from portal.extensions import db
from portal.models import Attachment, AuditEntry, Report, Staff, StatusChange
from portal.models.base import today
from portal.services import cases
from tests.helpers import csrf_token, make_staff, submit_report
from tests.helpers.cases import PUBLIC_NOTE, act, case_url, change_status, english, sign_in_inbox
from tests.helpers.evidence import phone_jpeg

CHRONOLOGY = "CASECHRONO77f1: the broker at counter 3 asked for money for a KTP-el."
CONTACT = "MRKCASECONTACT41 wa 0812 0000"
INTERNAL_NOTE = "INTERNALNOTE9b2c: the supervisor of counter 3 is a suspect."


# --- helpers -------------------------------------------------------------------------------


def load(app, code: str) -> Report:
    """A fresh copy of the report row."""
    with app.app_context():
        report = db.session.scalars(db.select(Report).where(Report.tracking_code == code)).one()
        db.session.expunge(report)
        return report


def history(app, code: str) -> list[tuple[str, str]]:
    with app.app_context():
        report = db.session.scalars(db.select(Report).where(Report.tracking_code == code)).one()
        return [(step.status, step.public_note) for step in report.history]


def audit_entries(app, action: str) -> list[AuditEntry]:
    with app.app_context():
        rows = db.session.scalars(db.select(AuditEntry).where(AuditEntry.action == action))
        entries = list(rows)
        for entry in entries:
            db.session.expunge(entry)
        return entries


def instance_bytes(app) -> bytes:
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    folder: Path = app.config["TEST_INSTANCE"].folder
    return b"".join(path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file())


@pytest.fixture
def filed(client):
    """A web report with contact details: (tracking code, receipt)."""
    return submit_report(client, chronology=CHRONOLOGY, contact=CONTACT)


@pytest.fixture
def investigator(staff_client):
    browser = staff_client("investigator")
    english(browser)
    return browser


def move_to(browser, code: str, *statuses: str) -> None:
    for status in statuses:
        response = change_status(browser, code, status)
        assert response.status_code == 303, response.get_data(as_text=True)


# --- reading -------------------------------------------------------------------------------


def test_case_page_shows_the_decrypted_report_and_audits_the_view(app, filed, investigator):
    code, _ = filed
    page = investigator.get(case_url(code))
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert CHRONOLOGY in text
    assert "Show contact details" in text
    assert CONTACT not in text  # hidden until asked for
    assert page.headers["Cache-Control"].startswith("no-store")
    viewed = audit_entries(app, "report.viewed")
    assert [entry.target for entry in viewed] == [code]
    assert CHRONOLOGY not in viewed[0].detail


def test_a_typed_code_redirects_to_the_canonical_case_and_unknown_is_404(filed, investigator):
    code, _ = filed
    typed = code.lower().replace("-", "")
    response = investigator.get(case_url(typed))
    assert response.status_code == 302
    assert response.headers["Location"].endswith(case_url(code))
    assert investigator.get(case_url("SRG-0000-0000-00")).status_code == 404
    assert investigator.get(case_url("not a code")).status_code == 404


def test_contact_details_only_after_an_explicit_audited_post(app, filed, investigator):
    code, _ = filed
    assert CONTACT not in investigator.get(case_url(code)).get_data(as_text=True)
    assert audit_entries(app, "report.contact_viewed") == []
    # Without the form's CSRF token nothing is shown.
    refused = investigator.post(case_url(code, "contact"), data={})
    assert refused.status_code == 400
    assert CONTACT not in refused.get_data(as_text=True)
    shown = act(investigator, code, "contact", "contact")
    assert shown.status_code == 200
    assert CONTACT in shown.get_data(as_text=True)
    entries = audit_entries(app, "report.contact_viewed")
    assert [entry.target for entry in entries] == [code]
    assert CONTACT not in entries[0].detail
    # The next plain view hides them again.
    assert CONTACT not in investigator.get(case_url(code)).get_data(as_text=True)


def test_evidence_download_is_audited_and_another_reports_file_is_404(
    app, client, filed, investigator
):
    code, receipt = filed
    other_code, other_receipt = submit_report(client)
    for report_code, report_receipt in ((code, receipt), (other_code, other_receipt)):
        reporter = sign_in_inbox(app, report_code, report_receipt)
        uploaded = reporter.post(
            "/kotak-masuk/bukti",
            data={
                "csrf_token": csrf_token(reporter, "/kotak-masuk"),
                "evidence": [(io.BytesIO(phone_jpeg()), "IMG_20260101_me.jpg")],
            },
            content_type="multipart/form-data",
        )
        assert uploaded.status_code in (200, 303)
    with app.app_context():
        ids = {
            row.report_id: row.id
            for row in db.session.scalars(db.select(Attachment).order_by(Attachment.id))
        }
        own_id, other_id = ids[load(app, code).id], ids[load(app, other_code).id]
    page = investigator.get(case_url(code)).get_data(as_text=True)
    assert f"/evidence/{own_id}" in page and f"/evidence/{other_id}" not in page
    download = investigator.get(case_url(code, f"evidence/{own_id}"))
    assert download.status_code == 200
    assert download.data[:2] == b"\xff\xd8"  # a JPEG, decrypted
    assert "attachment" in download.headers["Content-Disposition"]
    assert "IMG_20260101" not in download.headers["Content-Disposition"]
    entries = audit_entries(app, "evidence.downloaded")
    assert [(entry.target, entry.detail) for entry in entries] == [(code, f"attachment={own_id}")]
    assert investigator.get(case_url(code, f"evidence/{other_id}")).status_code == 404
    assert investigator.get(case_url(code, "evidence/999999")).status_code == 404
    assert len(audit_entries(app, "evidence.downloaded")) == 1


# --- status changes ------------------------------------------------------------------------


def test_public_note_reaches_status_page_api_and_inbox_never_the_internal_one(
    app, client, filed, investigator
):
    code, receipt = filed
    response = change_status(investigator, code, "verified", internal=INTERNAL_NOTE)
    assert response.status_code == 303
    assert response.headers["Location"].endswith(case_url(code) + "#status")

    status_page = client.get(f"/status/{code}").get_data(as_text=True)
    assert PUBLIC_NOTE in status_page and INTERNAL_NOTE not in status_page
    api = client.get(f"/api/v1/reports/{code}")
    assert api.status_code == 200
    assert api.get_json()["status"] == "verified"
    assert PUBLIC_NOTE in [step["note"] for step in api.get_json()["timeline"]]
    assert INTERNAL_NOTE not in api.get_data(as_text=True)
    inbox = sign_in_inbox(app, code, receipt).get("/kotak-masuk").get_data(as_text=True)
    assert PUBLIC_NOTE in inbox and INTERNAL_NOTE not in inbox

    # Staff read both, the internal note marked as such.
    staff_page = investigator.get(case_url(code)).get_data(as_text=True)
    assert PUBLIC_NOTE in staff_page and INTERNAL_NOTE in staff_page
    assert "Internal, staff only" in staff_page

    entries = audit_entries(app, "report.status_changed")
    assert [(entry.target, entry.detail) for entry in entries] == [
        (code, "from=received to=verified internal_note=yes")
    ]


def test_internal_note_is_not_in_the_database_bytes(app, filed, investigator):
    code, _ = filed
    assert change_status(investigator, code, "verified", internal=INTERNAL_NOTE).status_code == 303
    with app.app_context():
        step = db.session.scalars(
            db.select(StatusChange).where(StatusChange.status == "verified")
        ).one()
        assert step.internal_note_ct is not None
    at_rest = instance_bytes(app)
    assert PUBLIC_NOTE.encode() in at_rest  # positive control: the database was read
    assert b"INTERNALNOTE" not in at_rest
    assert "INTERNALNOTE".encode("utf-16-le") not in at_rest


def test_status_change_sets_dates_and_deadline(app, filed, investigator):
    code, _ = filed
    move_to(investigator, code, "verified")
    report = load(app, code)
    day = today()
    assert report.status == "verified"
    assert report.status_since == day
    assert report.verified_on == day
    with app.app_context():
        assert report.due_on == deadlines.due_date("verified", day)
    move_to(investigator, code, "rejected")
    report = load(app, code)
    assert report.closed_on == day and report.due_on is None
    move_to(investigator, code, "verified")  # reopened
    report = load(app, code)
    assert report.closed_on is None and report.verified_on == day
    assert [status for status, _ in history(app, code)] == [
        "received",
        "verified",
        "rejected",
        "verified",
    ]


ILLEGAL = [
    # (statuses to reach first, action, form prefix, fields)
    ((), "status", "status", {"status": "in_progress"}),
    ((), "status", "status", {"status": "received"}),
    (("verified", "rejected"), "status", "status", {"status": "needs_info"}),
    ((), "referral", "refer", {"body": "kpk", "reference": "R-1"}),
    (("verified",), "outcome", "outcome", {"outcome": "proven", "sanction": "none"}),
    (("verified", "in_progress"), "duplicate", "duplicate", {"original": "SRG-ZZZZ-ZZZZ-ZZ"}),
]


def test_illegal_transitions_are_refused_and_change_nothing(app, client, investigator):
    original, _ = submit_report(client)
    for setup, action, prefix, fields in ILLEGAL:
        code, _ = submit_report(client)
        move_to(investigator, code, *setup)
        if action == "duplicate":
            fields = {"original": original}
        before, steps = load(app, code), history(app, code)
        audited = len(audit_entries(app, "report.status_changed"))
        response = act(
            investigator,
            code,
            action,
            prefix,
            **fields,
            public_note=PUBLIC_NOTE,
            internal_note=INTERNAL_NOTE,
        )
        assert response.status_code == 409, (setup, action, fields)
        assert "A report cannot go from" in response.get_data(as_text=True)
        after = load(app, code)
        assert (after.status, after.status_since, after.due_on, after.closed_on) == (
            before.status,
            before.status_since,
            before.due_on,
            before.closed_on,
        )
        assert (after.referred_to, after.outcome, after.duplicate_of_id) == (None, None, None)
        assert history(app, code) == steps
        assert len(audit_entries(app, "report.status_changed")) == audited
    for action in ("report.referred", "report.outcome_recorded", "report.duplicate_linked"):
        assert audit_entries(app, action) == []
    with app.app_context():  # no internal note was stored by any refused attempt
        assert (
            db.session.scalar(
                db.select(db.func.count(StatusChange.id)).where(
                    StatusChange.internal_note_ct.is_not(None)
                )
            )
            == 0
        )


def test_resolving_through_the_plain_status_form_is_refused(app, filed, investigator):
    code, _ = filed
    move_to(investigator, code, "verified", "in_progress")
    response = change_status(investigator, code, "resolved")
    assert response.status_code == 400
    assert "outcome form" in response.get_data(as_text=True)
    assert load(app, code).status == "in_progress"


def test_public_note_is_required_and_bounded(app, filed, investigator):
    code, _ = filed
    for note in ("", "   ", "x" * 1001):
        response = change_status(investigator, code, "verified", public=note)
        assert response.status_code == 400
        assert load(app, code).status == "received"
        assert len(history(app, code)) == 1
    assert change_status(investigator, code, "verified", public="x" * 1000).status_code == 303


def test_a_change_made_meanwhile_by_someone_else_is_not_overwritten(
    app, filed, investigator, staff_client
):
    code, _ = filed
    seen = load(app, code).status
    move_to(staff_client("admin"), code, "verified")  # a colleague acts first
    response = act(
        investigator,
        code,
        "status",
        "status",
        status="rejected",
        public_note=PUBLIC_NOTE,
        seen_status=seen,
    )
    assert response.status_code == 409
    assert "Someone changed this report" in response.get_data(as_text=True)
    assert load(app, code).status == "verified"


# --- other actions -------------------------------------------------------------------------


def test_assign_to_a_handler_or_nobody_and_never_to_an_auditor(app, filed, investigator):
    code, _ = filed
    colleague = make_staff(app, "investigator")
    auditor = make_staff(app, "auditor")
    with app.app_context():
        ids = {
            member.email: member.id
            for member in db.session.scalars(db.select(Staff).where(Staff.email.like("%@%")))
        }
    response = act(investigator, code, "assignment", "assign", assignee=str(ids[colleague.email]))
    assert response.status_code == 303
    assert load(app, code).assignee_id == ids[colleague.email]
    assert colleague.email in investigator.get(case_url(code)).get_data(as_text=True)
    refused = act(investigator, code, "assignment", "assign", assignee=str(ids[auditor.email]))
    assert refused.status_code == 400
    assert load(app, code).assignee_id == ids[colleague.email]
    assert act(investigator, code, "assignment", "assign", assignee="").status_code == 303
    assert load(app, code).assignee_id is None
    details = [entry.detail for entry in audit_entries(app, "report.assigned")]
    assert details == [f"assignee={colleague.email}", "assignee=-"]


def test_disabled_member_cannot_be_assigned(app, filed, investigator):
    code, _ = filed
    gone = make_staff(app, "investigator")
    with app.app_context():
        member = db.session.scalars(db.select(Staff).where(Staff.email == gone.email)).one()
        member_id = member.id
        member.active = False
        db.session.commit()
        admin = db.session.scalars(db.select(Staff).where(Staff.role == "admin")).first()
        # The service refuses too, not only the form's list of choices.
        with pytest.raises(cases.NotAssignable):
            cases.assign(report=cases.find_for_update(code), actor=admin, assignee_id=member_id)
    response = act(investigator, code, "assignment", "assign", assignee=str(member_id))
    assert response.status_code == 400
    assert load(app, code).assignee_id is None


def test_set_priority(app, filed, investigator):
    code, _ = filed
    assert act(investigator, code, "priority", "priority", priority="urgent").status_code == 303
    assert load(app, code).priority == "urgent"
    assert act(investigator, code, "priority", "priority", priority="asap").status_code == 400
    assert load(app, code).priority == "urgent"
    details = [entry.detail for entry in audit_entries(app, "report.priority_set")]
    assert details == ["from=normal to=urgent"]


def test_refer_then_resolve_then_reopen(app, client, filed, investigator):
    code, _ = filed
    move_to(investigator, code, "verified", "in_progress")
    referred = act(
        investigator,
        code,
        "referral",
        "refer",
        body="ombudsman_banten",
        reference="  0123/LM/VI/2026 ",
        public_note="Dirujuk ke Ombudsman.",
    )
    assert referred.status_code == 303
    report = load(app, code)
    assert (report.status, report.referred_to, report.referral_reference) == (
        "referred",
        "ombudsman_banten",
        "0123/LM/VI/2026",
    )
    assert report.due_on is None
    assert "Ombudsman RI Perwakilan Banten" in investigator.get(case_url(code)).get_data(
        as_text=True
    )
    assert [e.detail for e in audit_entries(app, "report.referred")] == [
        "from=in_progress to=referred body=ombudsman_banten"
    ]

    resolved = act(
        investigator,
        code,
        "outcome",
        "outcome",
        outcome="proven",
        sanction="written_warning",
        refund="150rb",
        public_note="Terbukti; uang dikembalikan.",
    )
    assert resolved.status_code == 303
    report = load(app, code)
    assert (report.status, report.outcome, report.sanction, report.refund_rupiah) == (
        "resolved",
        "proven",
        "written_warning",
        150000,
    )
    assert report.closed_on == today()
    assert "Terbukti; uang dikembalikan." in client.get(f"/status/{code}").get_data(as_text=True)
    assert audit_entries(app, "report.outcome_recorded")[0].detail == (
        "from=referred to=resolved outcome=proven sanction=written_warning refund=150000"
    )

    move_to(investigator, code, "in_progress")  # reopened
    report = load(app, code)
    assert report.status == "in_progress" and report.closed_on is None
    with app.app_context():
        assert report.due_on == deadlines.due_date("in_progress", today())


def test_outcome_needs_a_public_note_and_not_proven_has_no_sanction(app, filed, investigator):
    code, _ = filed
    move_to(investigator, code, "verified", "in_progress")
    no_note = act(investigator, code, "outcome", "outcome", outcome="proven", sanction="none")
    assert no_note.status_code == 400
    inconsistent = act(
        investigator,
        code,
        "outcome",
        "outcome",
        outcome="not_proven",
        sanction="dismissal",
        public_note=PUBLIC_NOTE,
    )
    assert inconsistent.status_code == 400
    assert "not proven cannot have a sanction" in inconsistent.get_data(as_text=True)
    assert load(app, code).status == "in_progress"
    assert audit_entries(app, "report.outcome_recorded") == []


def test_link_as_duplicate_rejects_without_revealing_the_other_code(
    app, client, filed, investigator
):
    original, _ = filed
    duplicate, dup_receipt = submit_report(client)
    typed = original.lower().replace("-", " ").replace("0", "o")  # forgiving parse
    page = investigator.get(case_url(duplicate)).get_data(as_text=True)
    default_note = re.search(r'id="duplicate-public_note"[^>]*>([^<]+)<', page).group(1).strip()
    response = act(
        investigator, duplicate, "duplicate", "duplicate", original=typed, public_note=default_note
    )
    assert response.status_code == 303, response.get_data(as_text=True)
    report = load(app, duplicate)
    assert report.status == "rejected" and report.closed_on == today()
    assert report.duplicate_of_id == load(app, original).id
    for public in (
        client.get(f"/status/{duplicate}").get_data(as_text=True),
        client.get(f"/api/v1/reports/{duplicate}").get_data(as_text=True),
        sign_in_inbox(app, duplicate, dup_receipt).get("/kotak-masuk").get_data(as_text=True),
    ):
        assert "same matter as another report" in public
        assert original not in public
    # Staff see the link both ways.
    assert original in investigator.get(case_url(duplicate)).get_data(as_text=True)
    assert duplicate in investigator.get(case_url(original)).get_data(as_text=True)
    assert audit_entries(app, "report.duplicate_linked")[0].detail == (
        f"from=received to=rejected original={original}"
    )


def test_duplicate_link_refusals(app, client, filed, investigator):
    original, _ = filed
    third, _ = submit_report(client)
    note = "Ditangani bersama laporan lain."
    linked = act(investigator, third, "duplicate", "duplicate", original=original, public_note=note)
    assert linked.status_code == 303
    duplicate, _ = submit_report(client)
    refusals = [
        (duplicate, note, "cannot be a duplicate of itself"),
        ("SRG-ZZZZ-ZZZZ-ZZ", note, "No report has that tracking code"),
        ("not a code", note, "No report has that tracking code"),
        (original, f"Ditangani di laporan {original.lower()}", "tracking code in the public note"),
        (third, note, f"itself a duplicate of {original}"),
    ]
    for target, public_note, message in refusals:
        response = act(
            investigator,
            duplicate,
            "duplicate",
            "duplicate",
            original=target,
            public_note=public_note,
        )
        assert response.status_code == 400, target
        assert message in response.get_data(as_text=True)
        assert load(app, duplicate).status == "received"
        assert load(app, duplicate).duplicate_of_id is None
    assert len(audit_entries(app, "report.duplicate_linked")) == 1


def test_reply_reaches_the_reporters_inbox_and_is_audited(app, filed, investigator):
    code, receipt = filed
    body = "MSGMARK31: which day did this happen?"
    response = act(investigator, code, "messages", "reply", body=body)
    assert response.status_code == 303
    assert response.headers["Location"].endswith("#messages")
    inbox = sign_in_inbox(app, code, receipt).get("/kotak-masuk").get_data(as_text=True)
    assert body in inbox
    assert body in investigator.get(case_url(code)).get_data(as_text=True)
    entries = audit_entries(app, "message.sent")
    assert [(entry.target, entry.detail) for entry in entries] == [(code, "")]
    assert act(investigator, code, "messages", "reply", body="").status_code == 400
    assert len(audit_entries(app, "message.sent")) == 1
    assert b"MSGMARK31" not in instance_bytes(app)


# --- access --------------------------------------------------------------------------------


def case_routes(app):
    """Every case route (method, rule) from the URL map, so new ones are covered."""
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("inspectorate.case"):
            for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
                yield method, rule.rule


def test_auditor_gets_403_on_every_case_route(app, filed, staff_client):
    code, _ = filed
    auditor = staff_client("auditor")
    routes = list(case_routes(app))
    assert len(routes) >= 9
    for method, rule in routes:
        url = rule.replace("<code>", code).replace("<id:attachment_id>", "1")
        data = {"csrf_token": csrf_token(auditor, "/inspectorate/")}
        response = auditor.open(url, method=method, data=data if method == "POST" else None)
        assert response.status_code == 403, (method, url)
        anonymous = app.test_client().open(url, method=method)
        assert anonymous.status_code in (303, 400), (method, url)
    assert audit_entries(app, "report.viewed") == []
    assert load(app, code).status == "received"


def test_admin_handles_cases_too(filed, staff_client):
    code, _ = filed
    admin = staff_client("admin")
    assert admin.get(case_url(code)).status_code == 200
    assert change_status(admin, code, "needs_info").status_code == 303
