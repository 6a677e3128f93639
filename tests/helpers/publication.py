"""Published summaries: resolve a case, write, approve and find its summary."""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient

from portal.extensions import db
from portal.models import Outcome, Publication, Status
from portal.services import cases as cases_service
from portal.services import publication
from portal.services import reports as reports_service
from portal.services import setup as setup_service
from portal.services import staff as staff_service
from portal.services.cases import Sanction
from portal.transaction import atomic
from tests.helpers import ADMIN_EMAIL, csrf_token, make_staff, submit_report
from tests.helpers.staff import StaffAccount

TITLE = "Calo KTP-el di MPP dihentikan"


SUMMARY = "Petugas terbukti menerima uang dari calo.\nUang pelapor dikembalikan."


def resolve(
    app: Flask,
    code: str,
    *,
    outcome: Outcome = Outcome.PROVEN,
    sanction: Sanction = Sanction.WRITTEN_WARNING,
    refund: int | None = 155_555,
) -> None:
    """Take a filed report through the lifecycle to resolved, as the admin."""
    with app.app_context(), atomic():
        actor = staff_service.find_by_email(ADMIN_EMAIL)
        key = setup_service.private_key_from_recovery(app.config["TEST_INSTANCE"].recovery_key)
        report = reports_service.find(code)
        for target in (Status.VERIFIED, Status.IN_PROGRESS):
            cases_service.change_status(
                report=report, actor=actor, private_key=key, target=target, public_note="ok"
            )
        cases_service.record_outcome(
            report=report,
            actor=actor,
            private_key=key,
            outcome=outcome,
            sanction=sanction if outcome is Outcome.PROVEN else Sanction.NONE,
            refund_rupiah=refund if outcome is Outcome.PROVEN else None,
            public_note="selesai",
        )


def publish_summary(
    app: Flask,
    code: str,
    author: StaffAccount,
    approver: StaffAccount,
    *,
    title: str = TITLE,
    summary: str = SUMMARY,
) -> str:
    """The summary of resolved report `code`, written by one member, approved by another."""
    with app.app_context(), atomic():
        report = reports_service.find(code)
        case = publication.save_summary(
            report=report,
            actor=staff_service.find_by_email(author.email),
            title=title,
            summary=summary,
        )
        public_id, revision = str(case.public_id), case.revision
    with app.app_context(), atomic():
        publication.approve(
            report=reports_service.find(code),
            actor=staff_service.find_by_email(approver.email),
            revision=revision,
        )
    return public_id


def publish_case(app: Flask, *, title: str = TITLE) -> str:
    """A resolved report with a summary approved by a second member; its public id."""
    code, _ = submit_report(app.test_client())
    resolve(app, code)
    return publish_summary(app, code, make_staff(app), make_staff(app), title=title)


def page_url(code: str, action: str = "") -> str:
    """The staff page of a report's summary, or one of its actions."""
    return f"/inspectorate/publications/{code}" + (f"/{action}" if action else "")


def save(browser: FlaskClient, code: str, title: str = TITLE, summary: str = SUMMARY):
    """Post the summary form as a staff browser."""
    token = csrf_token(browser, page_url(code))
    return browser.post(
        page_url(code), data={"csrf_token": token, "title": title, "summary": summary}
    )


def approve(browser: FlaskClient, code: str, revision: int | None = None):
    """Post the approval form with the revision the page shows (or the one given)."""
    page = browser.get(page_url(code)).get_data(as_text=True)
    shown = re.search(r'name="revision" value="([0-9]+)"', page)
    token = csrf_token(browser, page_url(code))
    value = str(revision) if revision is not None else (shown.group(1) if shown else "1")
    return browser.post(page_url(code, "approve"), data={"csrf_token": token, "revision": value})


def case_row(app: Flask, code: str) -> Publication | None:
    """The summary row of a report (detached copy of its fields)."""
    with app.app_context():
        report = reports_service.find(code)
        case = publication.for_report(report)
        if case is not None:
            db.session.expunge(case)
        return case


def english(client: FlaskClient) -> FlaskClient:
    """Switch a browser to English so page text can be checked."""
    client.get("/bahasa/en?next=/")
    return client
