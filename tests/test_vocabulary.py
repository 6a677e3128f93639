"""One source of truth: the same fact reads the same on every page that shows it.

Each test pins a divergence that once existed: the inbox recomputed a due date the
queue read from the report; the queue and the case page named the same channel
differently; some lists of report handlers left out disabled members and some did not;
two Rupiah fields parsed amounts two ways.
"""

from __future__ import annotations

import re
from enum import StrEnum

import pytest
from flask_babel import format_date

from portal import deadlines, labels
from portal.extensions import db
from portal.forms import RupiahField
from portal.models import (
    Channel,
    Outcome,
    OutsideBody,
    Priority,
    PublicationState,
    Role,
    Sanction,
    Staff,
    Status,
    WithdrawalReason,
)
from portal.months import month_from_key, month_key
from portal.rupiah import parse_rupiah
from portal.services import reports
from tests.helpers import VALID_FORM, csrf_token, make_staff

QUEUE = "/inspectorate/queue"
SETTINGS = "/inspectorate/admin/settings"


def case_page(code: str) -> str:
    return f"/inspectorate/reports/{code}"


def sign_in_inbox(client, code: str, receipt: str) -> None:
    token = csrf_token(client, "/kotak-masuk")
    response = client.post(
        "/kotak-masuk/masuk", data={"code": code, "receipt": receipt, "csrf_token": token}
    )
    assert response.status_code == 303


def test_after_a_deadline_change_inbox_and_queue_show_the_stored_due_date(
    app, client, staff_client, file_report
):
    code, receipt = file_report()
    with app.app_context():
        report = reports.find(code)
        stored, received = report.due_on, report.status_since
    assert stored == deadlines.add_working_days(received, 3)

    admin = staff_client("admin")
    form = {"received": "10", "needs_info": "10", "verified": "5", "in_progress": "14"}
    form |= {"retention_months": "24", "csrf_token": csrf_token(admin, SETTINGS)}
    assert admin.post(SETTINGS, data=form).status_code == 303
    # Recomputing from today's settings would now give another day than the stored one.
    assert deadlines.add_working_days(received, 10) != stored

    queue = admin.get(QUEUE).get_data(as_text=True)
    assert f'<time datetime="{stored.isoformat()}">' in queue
    sign_in_inbox(client, code, receipt)
    inbox = client.get("/kotak-masuk").get_data(as_text=True)
    with app.test_request_context():
        shown = format_date(stored)
        recomputed = format_date(deadlines.add_working_days(received, 10))
    assert shown in inbox
    assert recomputed not in inbox


def test_the_queue_and_the_case_page_name_a_channel_alike(app, staff_client, file_report):
    code, _ = file_report()
    investigator = staff_client("investigator")
    queue = investigator.get(QUEUE).get_data(as_text=True)
    case = investigator.get(case_page(code)).get_data(as_text=True)
    assert "<td>Situs web</td>" in queue
    assert "<dd>Situs web</dd>" in case
    assert "Formulir web" not in case


ENUM_TABLES: list[tuple[type[StrEnum], dict]] = [
    (Status, labels.STATUS_LABELS),
    (Channel, labels.CHANNEL_LABELS),
    (Priority, labels.PRIORITY_LABELS),
    (Outcome, labels.OUTCOME_LABELS),
    (Sanction, labels.SANCTION_LABELS),
    (OutsideBody, labels.OUTSIDE_BODY_LABELS),
    (Role, labels.ROLE_LABELS),
    (PublicationState, labels.PUBLICATION_STATE_LABELS),
    (WithdrawalReason, labels.WITHDRAWAL_LABELS),
]


@pytest.mark.parametrize(("enum", "table"), ENUM_TABLES, ids=lambda x: getattr(x, "__name__", ""))
def test_every_enum_value_has_one_label_in_both_languages(app, enum, table):
    assert set(table) == set(enum)
    for language in ("id", "en"):
        with app.test_request_context(headers={"Cookie": f"lang={language}"}):
            app.preprocess_request()
            names = [labels.label(table, member.value) for member in enum]
        assert all(names) and len(set(names)) == len(names), (language, names)


def test_no_module_keeps_its_own_copy_of_an_enum_label_table():
    """A second dict keyed by an enum's members next to portal/labels.py is a second truth."""
    from pathlib import Path

    portal = Path(__file__).resolve().parent.parent / "portal"
    enums = "|".join(enum.__name__ for enum, _ in ENUM_TABLES)
    table = re.compile(rf"^\w+ = \{{\s*\n\s*(?:{enums})\.[A-Z_]+: _l\(", re.MULTILINE)
    found = [
        path.relative_to(portal).as_posix()
        for path in portal.rglob("*.py")
        if path.name != "labels.py" and table.search(path.read_text())
    ]
    assert found == []


def test_handler_lists_offer_active_handlers_only(app, staff_client):
    investigator = staff_client("investigator")
    make_staff(app, "investigator", email="gone@inspektorat.example")
    make_staff(app, "auditor", email="reader@inspektorat.example")
    with app.app_context():
        gone = db.session.scalars(db.select(Staff).where(Staff.email == "gone@inspektorat.example"))
        gone.one().active = False
        db.session.commit()
    queue = investigator.get(QUEUE).get_data(as_text=True)
    assert "gone@inspektorat.example" not in queue
    assert "reader@inspektorat.example" not in queue


@pytest.mark.parametrize(
    ("text", "amount"),
    [("150000", 150_000), ("Rp 150.000", 150_000), ("150rb", 150_000), ("1,5 juta", 1_500_000)],
)
def test_one_rupiah_parser_reads_amounts_as_people_write_them(text, amount):
    assert parse_rupiah(text) == amount


def test_the_catalogue_fee_takes_amounts_as_the_report_form_does(app, staff_client):
    """Staff amounts are one field class, and the reporter's amount goes through the same
    parser (intake reads it on every channel): "25rb" is 25000 in all of them."""
    from portal.inspectorate.catalog_admin import ServiceForm
    from portal.inspectorate.forms import OutcomeForm
    from portal.services import intake

    assert ServiceForm.fee_rupiah.field_class is RupiahField
    assert OutcomeForm.refund.field_class is RupiahField
    with app.test_request_context(method="POST", data={"fee_rupiah": "25rb"}):
        app.preprocess_request()
        assert ServiceForm(meta={"csrf": False}).fee_rupiah.data == 25_000
    assert intake.parse_rupiah is parse_rupiah
    with app.test_request_context():
        answers = {**VALID_FORM, "amount_demanded": "25rb"}
        assert intake.report_input(answers).content.amount_demanded == 25_000


def test_month_keys_round_trip():
    from datetime import date

    assert month_key(date(2026, 3, 31)) == "2026-03"
    assert month_from_key("2026-03") == date(2026, 3, 1)


def test_template_partials_follow_one_convention():
    """A template that is imported or included is a partial named _name.html, and only those."""
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    used = re.compile(r'{%-?\s*(?:from|import|include)\s+"([^"]+)"')
    partials = {
        name
        for path in (root / "templates").rglob("*.html")
        for name in used.findall(path.read_text())
    }
    assert partials and all(Path(name).name.startswith("_") for name in partials), partials
    rendered = re.compile(r'render_template\(\s*"([^"]+)"')
    pages = {
        name
        for path in (root / "portal").rglob("*.py")
        for name in rendered.findall(path.read_text())
    }
    assert pages and not any(Path(name).name.startswith("_") for name in pages), pages
