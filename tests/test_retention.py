"""Retention: closed reports past the period are crypto-shredded; statistics stay."""

from __future__ import annotations

import io
import re
from datetime import timedelta

from portal.extensions import db
from portal.models import Attachment, AuditEntry, Message, PortalSession, Report, StatusChange
from portal.models.base import today
from portal.services import reports, retention, settings, stats
from portal.transaction import atomic
from tests.helpers import csrf_token, submit_report
from tests.helpers.cases import act, case_url, change_status, english, sign_in_inbox
from tests.helpers.evidence import phone_jpeg

CHRONOLOGY = "RETAINCHRONO31: the clerk asked for Rp 200.000 for a KK."
NOTE = "RETAINNOTE88: the clerk's supervisor knew."
REPLY = "RETAINREPLY07: please tell us which day."


def row(app, code: str) -> Report:
    with app.app_context():
        report = db.session.scalars(db.select(Report).where(Report.tracking_code == code)).one()
        db.session.expunge(report)
        return report


def counts(app, report_id: int) -> tuple[int, int, int, int]:
    """Messages, files, notes (public or internal) and sessions left for a report."""
    with app.app_context():

        def count(model, *where):
            return db.session.scalar(
                db.select(db.func.count())
                .select_from(model)
                .where(model.report_id == report_id, *where)
            )

        return (
            count(Message),
            count(Attachment),
            count(
                StatusChange,
                (StatusChange.internal_note_ct.is_not(None)) | (StatusChange.public_note != ""),
            ),
            count(PortalSession),
        )


def closed_report_with_everything(app, client, staff_client) -> tuple[str, str, object]:
    """A rejected report with evidence, a reply, notes and a live reporter session."""
    code, receipt = submit_report(client, chronology=CHRONOLOGY, contact="0812 RETAIN")
    reporter = sign_in_inbox(app, code, receipt)
    uploaded = reporter.post(
        "/kotak-masuk/bukti",
        data={
            "csrf_token": csrf_token(reporter, "/kotak-masuk"),
            "evidence": [(io.BytesIO(phone_jpeg()), "IMG_1.jpg")],
        },
        content_type="multipart/form-data",
    )
    assert uploaded.status_code in (200, 303)
    investigator = staff_client("investigator")
    english(investigator)
    assert act(investigator, code, "messages", "reply", body=REPLY).status_code == 303
    response = change_status(investigator, code, "rejected", internal=NOTE)
    assert response.status_code == 303, response.get_data(as_text=True)
    return code, receipt, investigator


def test_purge_shreds_closed_reports_past_retention_and_keeps_statistics(app, client, staff_client):
    code, receipt, investigator = closed_report_with_everything(app, client, staff_client)
    open_code, open_receipt = submit_report(client)
    report_id = row(app, code).id
    before = counts(app, report_id)
    assert before[0] >= 1 and before[1] == 1 and before[2] >= 1 and before[3] == 1
    with app.app_context():
        with atomic():
            stats_before = stats.refresh().id
        months = settings.get_retention_months()
        # Not yet due: a run today shreds nothing.
        assert retention.purge().reports == 0
        later = today() + timedelta(days=31 * months + 2)
        dry = retention.purge(dry_run=True, on=later)
        assert dry.reports == 1 and dry.attachments == 1
    assert row(app, code).key_sealed is not None  # a dry run changes nothing
    with app.app_context():
        done = retention.purge(on=later)
    assert (done.reports, done.attachments, done.sessions) == (1, 1, 1)
    assert done.messages == before[0] and done.notes == before[2]

    shredded = row(app, code)
    assert shredded.key_sealed is None and shredded.key_wrapped is None
    assert shredded.content_ct == b"" and shredded.contact_ct is None
    assert shredded.shredded_on == later
    assert counts(app, report_id) == (0, 0, 0, 0)
    # The public facts the statistics use are still there.
    assert (shredded.status, shredded.category_code, shredded.closed_on) == (
        "rejected",
        "pungli",
        today(),
    )
    with app.app_context():
        steps = db.session.scalars(
            db.select(StatusChange.status).where(StatusChange.report_id == report_id)
        ).all()
        assert steps == ["received", "rejected"]
        with atomic():
            snapshot = stats.refresh()
        assert snapshot.id != stats_before
        # The other, open report is untouched and still opens with its receipt.
        other = reports.find(open_code)
        assert other is not None and other.key_sealed is not None
        reports.key_from_receipt(other, open_receipt)

    # Nobody opens it any more: not the receipt, not the inspectorate.
    reporter = app.test_client()
    signed = reporter.post(
        "/kotak-masuk/masuk",
        data={"code": code, "receipt": receipt, "csrf_token": csrf_token(reporter, "/kotak-masuk")},
    )
    assert signed.status_code != 303
    case = investigator.get(case_url(code))
    assert case.status_code == 200
    text = case.get_data(as_text=True)
    assert CHRONOLOGY not in text and REPLY not in text and NOTE not in text
    # The public status page says it was closed and its record deleted.
    public = client.get(f"/status/{code}").get_data(as_text=True)
    assert 'id="record-deleted"' in public
    # Every run is audited with counts, and nothing of the content reaches the log.
    with app.app_context():
        entries = {
            entry.action: entry.detail
            for entry in db.session.scalars(
                db.select(AuditEntry).where(AuditEntry.action.like("retention.%"))
            )
        }
    assert set(entries) == {"retention.dry_run", "retention.purged", "retention.run"}
    assert '"reports": 1' in entries["retention.purged"]
    assert CHRONOLOGY not in " ".join(entries.values())


def test_purge_command_and_admin_page_say_what_happens_and_when(app, client, staff_client, runner):
    closed_report_with_everything(app, client, staff_client)
    admin = staff_client("admin")
    english(admin)
    page = admin.get("/inspectorate/admin/settings").get_data(as_text=True)
    assert "crypto-shredded" in page
    assert "No run has happened" in page  # never run yet: said plainly
    result = runner.invoke(args=["purge", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "Would shred 0 reports" in result.output
    result = runner.invoke(args=["purge"])
    assert result.exit_code == 0 and "Shredded 0 reports" in result.output
    page = admin.get("/inspectorate/admin/settings").get_data(as_text=True)
    assert "No run has happened" not in page
    assert re.search(r"Next run due: \d{4}-\d\d-\d\d \d\d:\d\d", page), page


def test_months_before_clamps_to_the_end_of_shorter_months():
    from datetime import date

    assert retention.months_before(date(2026, 3, 31), 1) == date(2026, 2, 28)
    assert retention.months_before(date(2026, 1, 15), 24) == date(2024, 1, 15)
    assert retention.months_before(date(2024, 12, 31), 10) == date(2024, 2, 29)
