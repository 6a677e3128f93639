"""The triage queue: filters, overdue marking, keyset pages, counts, access, no content."""

from __future__ import annotations

import html
import os
import re
import secrets
from datetime import date, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import url_for
from sqlalchemy import insert

from portal import deadlines
from portal.extensions import db
from portal.models import Report, Staff
from portal.services import queue, status_counts
from portal.services import setup as setup_service
from portal.transaction import atomic
from tests.helpers import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    VALID_FORM,
    Instance,
    make_app,
    make_staff,
    staff_login,
    submit_report,
)

QUEUE = "/inspectorate/queue"
_ROW_CODE = re.compile(r'<th scope="row" class="tracking">\s*(?:<a href="[^"]*">)?([^<\s]+)')
_NEXT = re.compile(r'<a href="([^"]+)" rel="next">')
_ROW_CLASS = re.compile(
    r'<tr(?: class="([^"]*)")?>\s*'
    r'<th scope="row" class="tracking">\s*(?:<a href="[^"]*">)?([^<\s]+)'
)

# A report as the queue sees it; tests override single fields.
BASE_REPORT: dict[str, Any] = {
    "status": "received",
    "category_code": "pungli",
    "service_code": "ktp_el",
    "unit_code": "mpp",
    "channel": "web",
    "priority": "normal",
    "assignee_id": None,
    "received_on": date(2026, 6, 10),
    "due_on": None,
}


def insert_reports(app, *specs: dict[str, Any]) -> list[str]:
    """Insert reports straight into the table (queue tests need no real content)."""
    rows = []
    for spec in specs:
        fields = {**BASE_REPORT, **spec}
        rows.append(
            {
                **fields,
                "tracking_code": f"SRG-T{secrets.token_hex(5).upper()}",
                "incident_month": fields["received_on"].replace(day=1),
                "status_since": fields["received_on"],
                # Random bytes stand in for ciphertext: the queue must never read them.
                "content_ct": os.urandom(48),
                "receipt_salt": os.urandom(16),
                "receipt_kdf": "argon2id$m=8,t=1,p=1",
            }
        )
    with app.app_context():
        db.session.execute(insert(Report), rows)
        # A bulk insert bypasses the ORM, so the maintained counts are rebuilt (as the
        # benchmark's loader and a restore do).
        status_counts.recount(db.session.connection())
        db.session.commit()
    return [row["tracking_code"] for row in rows]


def staff_id(app, email: str) -> int:
    with app.app_context():
        return db.session.scalars(db.select(Staff.id).where(Staff.email == email)).one()


def english(browser):
    browser.get("/bahasa/en?next=/")
    return browser


def listed(response) -> list[str]:
    """Tracking codes of the queue page's rows, top to bottom."""
    return _ROW_CODE.findall(response.get_data(as_text=True))


def walk(browser, url: str) -> tuple[list[str], list[str]]:
    """Follow "next page" from `url` to the end; returns (codes in order, next links)."""
    codes: list[str] = []
    links: list[str] = []
    while url:
        response = browser.get(url)
        assert response.status_code == 200, response.get_data(as_text=True)
        codes += listed(response)
        found = _NEXT.search(response.get_data(as_text=True))
        url = html.unescape(found.group(1)) if found else ""
        if url:
            links.append(url)
    return codes, links


@pytest.fixture
def investigator(app, staff_client):
    return english(staff_client("investigator"))


# -- access ------------------------------------------------------------------------------


def test_only_admins_and_investigators_see_the_queue(client, staff_client):
    anonymous = client.get(QUEUE)
    assert anonymous.status_code == 303
    assert anonymous.headers["Location"].endswith("/inspectorate/login")
    auditor = staff_client("auditor")
    assert auditor.get(QUEUE).status_code == 403
    assert f'href="{QUEUE}"' not in auditor.get("/inspectorate/").get_data(as_text=True)
    for role in ("investigator", "admin"):
        browser = staff_client(role)
        assert browser.get(QUEUE).status_code == 200, role
        assert f'href="{QUEUE}"' in browser.get("/inspectorate/").get_data(as_text=True)


# -- what a row shows ----------------------------------------------------------------------


def test_rows_show_public_facts_and_handling_but_no_content(app, client, investigator):
    marker = "QUEUEMARKER-7c1d"
    english(client)
    code, _receipt = submit_report(
        client, chronology=f"{marker} calo meminta uang di loket tiga.", contact=f"{marker}@x.id"
    )
    page = investigator.get(QUEUE)
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert listed(page) == [code]
    assert marker not in text
    for secret in (VALID_FORM["person_description"], VALID_FORM["promised"]):
        assert secret not in text
    for fact in ("Received", "Illegal levy", "KTP-el (electronic ID card)", "Website", "Normal"):
        assert fact in text
    assert "Unassigned" in text
    # A new report carries its verification deadline from the day it was filed (WIB).
    today = deadlines.local_today()
    with app.app_context():
        report = db.session.scalars(db.select(Report).where(Report.tracking_code == code)).one()
        assert report.status_since == today
        assert report.due_on == deadlines.due_date("received", today)
        assert report.due_on is not None and report.due_on > today
    assert report.due_on.isoformat() in text
    assert page.headers["Cache-Control"] == "no-store"
    # The case view is built beside the queue; until it exists the code is plain text.
    if "inspectorate.case" in app.view_functions:
        with app.test_request_context():
            link = url_for("inspectorate.case", code=code)
        assert f'<a href="{link}">{code}</a>' in text
    else:
        assert f">{code}</a>" not in text


def row_of(browser, code: str) -> str:
    """The queue row of `code`, as HTML."""
    found = re.search(
        rf"<tr[^>]*>\s*<th[^>]*>(?:<a [^>]*>)?{code}<.*?</tr>", browser.get(QUEUE).text
    )
    assert found, code
    return found.group(0)


def test_a_row_follows_its_report_the_catalogue_and_the_language_at_once(app, investigator):
    """Rows are kept rendered; any change to what a row shows makes it anew."""
    from portal.models import Category
    from portal.services import catalog

    (code,) = insert_reports(app, {})
    handler = make_staff(app, "investigator")
    english(investigator)
    assert "Normal" in row_of(investigator, code) and "Unassigned" in row_of(investigator, code)
    with app.app_context(), atomic():
        report = db.session.scalars(db.select(Report).where(Report.tracking_code == code)).one()
        report.priority, report.status = "urgent", "verified"
        report.assignee_id = staff_id(app, handler.email)
        report.due_on = deadlines.local_today() - timedelta(days=1)
    row = row_of(investigator, code)
    assert "Urgent" in row and "Verified" in row and handler.email in row
    assert 'class="overdue"' in row
    with app.app_context(), atomic():
        category = db.session.get(Category, "pungli")
        catalog.update(category, actor="admin@example.test", values={"name_en": "Levy, renamed"})
    assert "Levy, renamed" in row_of(investigator, code)
    investigator.get("/bahasa/id?next=/")
    assert "Mendesak" in row_of(investigator, code)


# -- filters -------------------------------------------------------------------------------


# (query, the one report it matches, a report that differs in the same field)
FILTER_CASES = [
    ("status=verified", {"status": "verified"}, {"status": "in_progress"}),
    ("category=calo", {"category_code": "calo"}, {"category_code": "gratifikasi"}),
    ("service=kk", {"service_code": "kk"}, {"service_code": "kia"}),
    ("unit=kec_kasemen", {"unit_code": "kec_kasemen"}, {"unit_code": "disdukcapil"}),
    ("channel=phone", {"channel": "phone"}, {"channel": "whatsapp"}),
    ("priority=urgent", {"priority": "urgent"}, {"priority": "high"}),
    ("received_from=2026-07-01", {"received_on": date(2026, 7, 1)}, {}),
    ("received_to=2026-05-31", {"received_on": date(2026, 5, 31)}, {}),
    (
        "received_from=2026-06-11&received_to=2026-06-11",
        {"received_on": date(2026, 6, 11)},
        {"received_on": date(2026, 6, 12)},
    ),
]


def test_each_filter_narrows_the_queue(app, investigator):
    matches = insert_reports(app, *[matching for _query, matching, _other in FILTER_CASES])
    insert_reports(app, {}, {}, *[other for _query, _matching, other in FILTER_CASES])
    assert len(listed(investigator.get(QUEUE))) == 2 * len(FILTER_CASES) + 2
    for (query, _matching, _other), match in zip(FILTER_CASES, matches, strict=True):
        assert listed(investigator.get(f"{QUEUE}?{query}")) == [match], query
    # Filters combine.
    (both,) = insert_reports(app, {"unit_code": "keliling", "status": "needs_info"})
    insert_reports(app, {"unit_code": "keliling"}, {"status": "needs_info"})
    assert listed(investigator.get(f"{QUEUE}?unit=keliling&status=needs_info")) == [both]


def test_assignee_filters_mine_unassigned_and_a_member(app, staff_client):
    me = make_staff(app, "investigator")
    colleague = make_staff(app, "investigator")
    browser = english(staff_client(account=me))
    mine, theirs, nobody = insert_reports(
        app,
        {"assignee_id": staff_id(app, me.email)},
        {"assignee_id": staff_id(app, colleague.email)},
        {},
    )
    assert listed(browser.get(f"{QUEUE}?assignee=mine")) == [mine]
    assert listed(browser.get(f"{QUEUE}?assignee=unassigned")) == [nobody]
    by_id = browser.get(f"{QUEUE}?assignee={staff_id(app, colleague.email)}")
    assert listed(by_id) == [theirs]
    assert colleague.email in by_id.get_data(as_text=True)


def test_the_assignee_filter_offers_a_new_member_at_once(app, staff_client):
    """The filter form is stored per server: a member added since must still be offered."""
    browser = english(staff_client(account=make_staff(app, "investigator")))
    before = browser.get(QUEUE).get_data(as_text=True)
    newcomer = make_staff(app, "investigator")
    assert newcomer.email not in before
    after = browser.get(QUEUE).get_data(as_text=True)
    assert f'value="{staff_id(app, newcomer.email)}"' in after
    assert newcomer.email in after


def _assignable(page: str) -> str:
    """The assignee filter's options."""
    found = re.search(r'<select id="assignee".*?</select>', page, re.S)
    assert found, page[:500]
    return found.group(0)


def test_a_disabled_or_re_roled_member_leaves_the_assignee_filter_at_once(app, staff_client):
    """The staff list is kept per server; every change to it shows at the next page."""
    from portal.models import Role
    from portal.services import staff

    browser = english(staff_client(account=make_staff(app, "admin")))
    leaving, moving = make_staff(app, "investigator"), make_staff(app, "investigator")
    page = _assignable(browser.get(QUEUE).get_data(as_text=True))
    assert leaving.email in page and moving.email in page
    with app.app_context(), atomic():
        actor = db.session.scalars(db.select(Staff).where(Staff.role == "admin")).first()
        member = db.session.scalars(db.select(Staff).where(Staff.email == leaving.email)).one()
        assert staff.disable_member(member, actor=actor)
    page = _assignable(browser.get(QUEUE).get_data(as_text=True))
    assert leaving.email not in page and moving.email in page
    with app.app_context(), atomic():
        actor = db.session.scalars(db.select(Staff).where(Staff.role == "admin")).first()
        member = db.session.scalars(db.select(Staff).where(Staff.email == moving.email)).one()
        assert staff.change_role(member, actor=actor, role=Role.AUDITOR)
    assert moving.email not in _assignable(browser.get(QUEUE).get_data(as_text=True))


def test_the_staff_list_is_read_once_and_follows_another_servers_change(app, staff_client):
    """No staff query per page; a member added on another server shows within a second."""
    import time

    from portal import create_app
    from tests.test_performance import statements

    browser = english(staff_client(account=make_staff(app, "investigator")))
    browser.get(QUEUE)
    with statements(app) as seen:
        assert browser.get(QUEUE).status_code == 200
    assert not [s for s in seen if "FROM staff" in s and "portal_session" not in s]
    other = create_app(dict(app.config))  # a second app server on the same database
    newcomer = make_staff(other, "investigator")
    time.sleep(app.config["VERSION_CHECK_SECONDS"] + 0.05)
    assert newcomer.email in _assignable(browser.get(QUEUE).get_data(as_text=True))


def test_the_filter_form_reads_exactly_the_view_parameters(app):
    """Read forms are kept under these parameters' values: a field outside them would be
    answered from another query string's entry."""
    from portal.inspectorate.queue import VIEW_PARAMETERS, QueueFilterForm

    with app.test_request_context(QUEUE):
        assert tuple(field.name for field in QueueFilterForm()) == VIEW_PARAMETERS


# -- overdue -------------------------------------------------------------------------------


def test_overdue_rows_are_marked_and_can_be_filtered(app, investigator):
    today = deadlines.local_today()
    late, due_today, undated, later = insert_reports(
        app,
        {"status": "in_progress", "due_on": today - timedelta(days=1)},
        {"due_on": today},
        {"status": "resolved", "due_on": None},
        {"due_on": today + timedelta(days=5)},
    )
    text = investigator.get(QUEUE).get_data(as_text=True)
    marks = {code: css for css, code in _ROW_CLASS.findall(text)}
    assert marks == {late: "overdue", due_today: "", undated: "", later: ""}
    assert text.count('class="overdue-flag"') == 1
    assert listed(investigator.get(f"{QUEUE}?overdue=y")) == [late]
    # Overdue is about the deadline, whatever the sort.
    assert listed(investigator.get(f"{QUEUE}?overdue=y&sort=deadline")) == [late]


# -- sort and keyset pages -----------------------------------------------------------------


def _many(app) -> list[dict[str, Any]]:
    """31 reports with many ties on received_on and due_on, some without a deadline."""
    specs = []
    for index in range(31):
        specs.append(
            {
                "received_on": date(2026, 6, 1) + timedelta(days=index % 4),
                "due_on": None if index % 5 == 0 else date(2026, 6, 20) + timedelta(days=index % 3),
                "status": "received" if index % 2 else "verified",
            }
        )
    codes = insert_reports(app, *specs)
    with app.app_context():
        ids = dict(db.session.execute(db.select(Report.tracking_code, Report.id)).all())
    return [
        {**spec, "code": code, "id": ids[code]} for spec, code in zip(specs, codes, strict=True)
    ]


def _expected(rows: list[dict[str, Any]], sort: str) -> list[str]:
    far = date.max
    keys = {
        "newest": lambda row: (-row["received_on"].toordinal(), -row["id"]),
        "oldest": lambda row: (row["received_on"], row["id"]),
        "deadline": lambda row: (row["due_on"] or far, row["id"]),
    }
    return [row["code"] for row in sorted(rows, key=keys[sort])]


def walk_service(
    sort: queue.Sort, size: int, filters: queue.Filters | None = None, today: date | None = None
) -> list[str]:
    """Every page of the service, first to last; tracking codes in order."""
    seen: list[str] = []
    cursor = None
    while True:
        result = queue.page(
            filters=filters or queue.Filters(), sort=sort, cursor=cursor, size=size, today=today
        )
        assert len(result.rows) <= size
        seen += [row.tracking_code for row in result.rows]
        if (cursor := result.next_cursor) is None:
            return seen


@pytest.mark.app_config({"QUEUE_PAGE_SIZE": 4})
def test_keyset_pages_walk_every_report_once_in_each_order(app, investigator):
    rows = _many(app)
    for sort in ("newest", "oldest", "deadline"):
        start = QUEUE if sort == "newest" else f"{QUEUE}?sort={sort}"
        codes, links = walk(investigator, start)
        assert codes == _expected(rows, sort), sort
        assert len(set(codes)) == len(rows) == 31
        assert len(links) == 7  # 8 pages of 4
        for link in links:
            query = parse_qs(urlsplit(link).query)
            assert set(query) <= {"sort", "cursor"}  # no offset, no page number
            assert query.get("sort", ["newest"]) == [sort]
    # "Next page" keeps the filters.
    codes, links = walk(investigator, f"{QUEUE}?status=verified&sort=deadline")
    assert codes == _expected([row for row in rows if row["status"] == "verified"], "deadline")
    assert links and all("status=verified" in link for link in links)


def test_service_pages_partition_the_queue_for_any_page_size(app):
    rows = _many(app)
    # On 21 June the reports due on the 20th are overdue; those due on 21-22 are not.
    today = date(2026, 6, 21)
    late = [row for row in rows if row["due_on"] is not None and row["due_on"] < today]
    assert 0 < len(late) < len(rows)
    overdue = queue.Filters(overdue=True)
    with app.test_request_context():
        for sort in queue.Sort:
            for size in (1, 2, 5, 30, 31, 40):
                assert walk_service(sort, size) == _expected(rows, sort), (sort, size)
            for size in (1, 3, len(late)):
                assert walk_service(sort, size, overdue, today) == _expected(late, sort), sort
            verified = queue.Filters(status="verified", overdue=True)
            expected = _expected([row for row in late if row["status"] == "verified"], sort)
            assert walk_service(sort, 2, verified, today) == expected, sort


# -- counts --------------------------------------------------------------------------------


def test_counts_per_status_follow_every_filter_but_status(app, investigator):
    insert_reports(
        app,
        *[{"status": "received"}] * 3,
        *[{"status": "verified"}] * 2,
        {"status": "resolved"},
        {"status": "verified", "unit_code": "keliling"},
    )
    with app.test_request_context():
        counts = queue.status_counts(filters=queue.Filters(unit="mpp", status="received"))
    assert counts == {
        "received": 3,
        "needs_info": 0,
        "verified": 2,
        "in_progress": 0,
        "referred": 0,
        "resolved": 1,
        "rejected": 0,
    }
    text = investigator.get(f"{QUEUE}?unit=mpp&status=verified").get_data(as_text=True)
    assert "All statuses (6)" in text
    assert "Received (3)" in text and "Resolved (1)" in text
    assert '<strong aria-current="true">Verified (2)</strong>' in text
    # The count links keep the other filters and swap the status.
    assert "?unit=mpp&amp;status=received" in text


# -- bad input -----------------------------------------------------------------------------


BAD_FILTERS = [
    ("status=bogus", "Not a valid choice."),
    ("category=nope", "Not a valid choice."),
    ("service=%3Cscript%3E", "Not a valid choice."),
    ("unit=nowhere", "Not a valid choice."),
    ("channel=fax", "Not a valid choice."),
    ("priority=later", "Not a valid choice."),
    ("assignee=99999", "Not a valid choice."),
    ("assignee=me", "Not a valid choice."),
    ("sort=random", "Not a valid choice."),
    ("received_from=2026-13-45", "Not a valid date value."),
    ("received_to=yesterday", "Not a valid date value."),
    ("received_from=2026-06-10&received_to=2026-06-01", "The end date is before the start date."),
]

BAD_CURSORS = [
    "garbage!",
    "x" * 500,
    queue.Cursor(queue.Sort.OLDEST, date(2026, 6, 1), 3).encode(),  # made for another sort
    queue.Cursor(queue.Sort.NEWEST, None, 3).encode(),  # no key outside the deadline sort
    "WyJuZXdlc3QiLCAiMjAyNi0wNi0wMSIsIC0xXQ",  # ["newest", "2026-06-01", -1]
    "WyJuZXdlc3QiLCAiMjAyNi0wNi0wMSJd",  # ["newest", "2026-06-01"]
    "WyJuZXdlc3QiLCAiMjAyNi0wNi0wMSIsIHRydWVd",  # ["newest", "2026-06-01", true]
    "eyJhIjogMX0",  # {"a": 1}
]


def test_bad_filters_and_page_links_get_a_clear_message_and_400(app, investigator):
    insert_reports(app, {})
    for query, message in BAD_FILTERS:
        response = investigator.get(f"{QUEUE}?{query}")
        text = response.get_data(as_text=True)
        assert response.status_code == 400, query
        assert "Some filters are not valid. Correct the marked fields." in text, query
        assert message in text, query
        assert 'class="queue"' not in text, query
    for cursor in BAD_CURSORS:
        response = investigator.get(QUEUE, query_string={"cursor": cursor})
        assert response.status_code == 400, cursor
        assert "This page link is not valid. Start again from the first page." in (
            response.get_data(as_text=True)
        ), cursor


# -- PostgreSQL ----------------------------------------------------------------------------


def test_keyset_pages_on_postgres(instance_folder, postgres_url):
    app = make_app(instance_folder, SQLALCHEMY_DATABASE_URI=postgres_url)
    try:
        with app.app_context():
            result = setup_service.initialise(
                admin_email=ADMIN_EMAIL, admin_password=ADMIN_PASSWORD
            )
        app.config["TEST_INSTANCE"] = Instance(
            instance_folder, result.recovery_key, result.totp_secret
        )
        rows = _many(app)
        with app.test_request_context():
            today = date(2026, 6, 21)
            late = [row for row in rows if row["due_on"] is not None and row["due_on"] < today]
            for sort in queue.Sort:
                assert walk_service(sort, 4) == _expected(rows, sort), sort
                overdue = queue.Filters(overdue=True)
                assert walk_service(sort, 3, overdue, today) == _expected(late, sort), sort
            counts = queue.status_counts(
                filters=queue.Filters(overdue=True), today=date(2026, 7, 1)
            )
            assert counts["received"] + counts["verified"] == sum(
                1 for row in rows if row["due_on"] is not None
            )
        # The page itself, overdue filter included, on PostgreSQL.
        browser = english(app.test_client())
        assert staff_login(app, browser, make_staff(app, "investigator")).status_code == 303
        today = deadlines.local_today()
        late = [row for row in rows if row["due_on"] is not None and row["due_on"] < today]
        page = browser.get(f"{QUEUE}?sort=deadline&overdue=y")
        assert listed(page) == _expected(late, "deadline")
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


# -- maintained counts -------------------------------------------------------------------------

UNITS = ("mpp", "disdukcapil", "keliling")
CATEGORIES = ("pungli", "calo")


def _file_reports(app, count: int, rng) -> list[str]:
    """File `count` reports through the service, as the form and the API do."""
    from portal.models import Channel
    from portal.services import reports as reports_service

    codes = []
    with app.test_request_context():
        for _ in range(count):
            report = reports_service.ReportInput(
                category=rng.choice(CATEGORIES),
                service="ktp_el",
                unit=rng.choice(UNITS),
                channel=rng.choice([Channel.WEB, Channel.API, Channel.WALK_IN]),
                content=reports_service.ReportContent(
                    incident_date=date(2026, 5, 1),
                    who_asked="petugas loket",
                    amount_demanded=50_000,
                    paid=False,
                    promised="KTP cepat",
                    person_description="",
                    chronology="Diminta uang tambahan.",
                ),
            )
            receipt = reports_service.new_receipt_key()
            with atomic():
                filed = reports_service.file_report(report, receipt)
            codes.append(filed.tracking_code)
    return codes


def _random_change(app, codes: list[str], members: list[int], rng) -> None:
    """One random staff action on a random report, refused ones included (they roll back)."""
    from portal.models import Outcome, Priority, Status
    from portal.services import cases, staff
    from portal.services.errors import DomainError

    with app.test_request_context():
        actor = staff.find_by_email(ADMIN_EMAIL)
        key = setup_service.private_key_from_recovery(app.config["TEST_INSTANCE"].recovery_key)
        action = rng.randrange(6)
        try:
            with atomic():
                report = cases.find_for_update(rng.choice(codes))
                if action == 0:
                    cases.assign(
                        report=report, actor=actor, assignee_id=rng.choice([None, *members])
                    )
                elif action == 1:
                    cases.set_priority(
                        report=report, actor=actor, priority=rng.choice(list(Priority))
                    )
                elif action == 2:
                    cases.refer(
                        report=report,
                        actor=actor,
                        private_key=key,
                        body=cases.OutsideBody.KPK,
                        reference="R-1",
                        public_note="dirujuk",
                    )
                elif action == 3:
                    cases.record_outcome(
                        report=report,
                        actor=actor,
                        private_key=key,
                        outcome=Outcome.NOT_PROVEN,
                        sanction=cases.Sanction.NONE,
                        refund_rupiah=None,
                        public_note="selesai",
                    )
                else:
                    # Any status, allowed or not: a refused move must leave the counts alone.
                    target = rng.choice([s for s in Status if s not in cases.DETAILED_STATUSES])
                    cases.change_status(
                        report=report, actor=actor, private_key=key, target=target, public_note="ok"
                    )
        except DomainError:
            pass  # the block rolled the refused action back


def _assert_counts_exact(app, members: list[int]) -> None:
    """The stored table equals a recount, and every view it serves shows exact counts."""
    with app.test_request_context():
        assert status_counts.differences(db.session.connection()) == {}
        views = [
            queue.Filters(),
            queue.Filters(overdue=True),
            queue.Filters(unassigned=True),
            *(queue.Filters(unit=unit) for unit in UNITS),
            *(queue.Filters(category=category) for category in CATEGORIES),
            *(queue.Filters(channel=channel) for channel in ("web", "api", "walk_in")),
            *(queue.Filters(priority=priority) for priority in ("low", "urgent")),
            *(queue.Filters(assignee_id=member) for member in members),
        ]
        for filters in views:
            for today in (None, date.today() + timedelta(days=30)):
                stored = queue.stored_counts(filters=filters, today=today)
                assert stored == queue.status_counts(filters=filters, today=today), filters


def test_maintained_counts_equal_a_recount_after_many_random_changes(app):
    import random

    rng = random.Random(14)
    codes = _file_reports(app, 12, rng)
    members = [staff_id(app, make_staff(app).email) for _ in range(2)]
    for step in range(150):
        _random_change(app, codes, members, rng)
        if step % 50 == 49:
            _assert_counts_exact(app, members)
    # More reports filed among the changes are counted too.
    codes += _file_reports(app, 3, rng)
    _assert_counts_exact(app, members)


def test_maintained_counts_stay_exact_under_two_concurrent_writers(instance_folder, postgres_url):
    """Two threads change the same reports at once on PostgreSQL (row locks, real concurrency)."""
    import random
    import threading

    app = make_app(instance_folder, SQLALCHEMY_DATABASE_URI=postgres_url)
    try:
        with app.app_context():
            result = setup_service.initialise(
                admin_email=ADMIN_EMAIL, admin_password=ADMIN_PASSWORD
            )
        app.config["TEST_INSTANCE"] = Instance(
            instance_folder, result.recovery_key, result.totp_secret
        )
        codes = _file_reports(app, 6, random.Random(1))
        members = [staff_id(app, make_staff(app).email)]
        failures: list[BaseException] = []

        def writer(seed: int) -> None:
            rng = random.Random(seed)
            try:
                for _ in range(60):
                    _random_change(app, codes, members, rng)
                    if rng.random() < 0.1:
                        _file_reports(app, 1, rng)
            except BaseException as error:  # reported below
                failures.append(error)
            finally:
                with app.app_context():
                    db.session.remove()

        threads = [threading.Thread(target=writer, args=(seed,)) for seed in (2, 3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert failures == []
        _assert_counts_exact(app, members)
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def test_a_rolled_back_change_leaves_the_counts(app):
    import random

    from portal.transaction import atomic

    codes = _file_reports(app, 2, random.Random(5))
    with app.test_request_context():
        before = queue.stored_counts(filters=queue.Filters())
        report = db.session.scalars(db.select(Report).where(Report.tracking_code == codes[0])).one()
        with pytest.raises(RuntimeError), atomic():
            report.status = "verified"
            report.unit_code = "keliling"
            db.session.flush()
            raise RuntimeError("something failed after the flush")
        assert (
            queue.stored_counts(filters=queue.Filters())
            == before
            == {
                **dict.fromkeys(before, 0),
                "received": 2,
            }
        )
        assert status_counts.differences(db.session.connection()) == {}


def test_rare_filter_combinations_are_counted_on_demand(app, investigator):
    insert_reports(
        app,
        *[{"status": "received", "channel": "sms"}] * 2,
        {"status": "verified", "channel": "sms"},
        {"status": "verified", "channel": "web"},
    )
    # One filter: maintained counts, shown at once.
    text = investigator.get(f"{QUEUE}?channel=sms").get_data(as_text=True)
    assert "All statuses (3)" in text and "Received (2)" in text
    # Two filters: no count unless asked for; then exact, and kept by the status links.
    text = investigator.get(f"{QUEUE}?channel=sms&unit=mpp").get_data(as_text=True)
    assert "All statuses" not in text
    link = re.search(r'href="([^"]*counts=1[^"]*)">Count the matching reports per status', text)
    assert link
    text = investigator.get(html.unescape(link.group(1))).get_data(as_text=True)
    assert "All statuses (3)" in text and "Verified (1)" in text
    assert "status=verified&amp;counts=1" in text or "counts=1&amp;status=verified" in text


def test_counts_check_command_finds_and_repairs_a_drift(app, runner):
    insert_reports(app, {"status": "received"}, {"status": "verified", "unit_code": "keliling"})
    result = runner.invoke(args=["counts", "check"])
    assert result.exit_code == 0, result.output
    assert "match" in result.output
    with app.app_context():
        # A bulk statement past the ORM: the counts no longer match.
        db.session.execute(db.update(Report).values(status="rejected"))
        db.session.commit()
    result = runner.invoke(args=["counts", "check"])
    assert result.exit_code == 1
    assert "all/-/received: stored 1, counted 0" in result.output
    assert "all/-/rejected: stored 0, counted 2" in result.output
    result = runner.invoke(args=["counts", "check", "--repair"])
    assert result.exit_code == 0, result.output
    assert runner.invoke(args=["counts", "check"]).exit_code == 0


def test_the_quick_select_renders_what_wtforms_renders(app):
    from wtforms import Form, SelectField
    from wtforms.fields.choices import SelectChoice
    from wtforms.widgets import Select

    from portal.inspectorate.queue import Options, QuickSelect

    pairs = [("", "Any"), ("a&b", 'Tom "&" <Jerry>'), ("<x>", "x"), ("plain", "")]
    choices = [SelectChoice(value, label) for value, label in pairs]

    class Plain(Form):
        pick = SelectField(choices=choices, widget=Select())

    class Quick(Form):
        pick = SelectField(choices=choices, widget=QuickSelect())

    for chosen in ("", "a&b", "<x>", "plain", "none"):
        data = {"pick": chosen}
        assert str(Quick(data=data).pick()) == str(Plain(data=data).pick()), chosen
        assert str(Quick(data=data).pick(class_="x")) == str(Plain(data=data).pick(class_="x"))
        # Choices made once per catalogue version (the queue's own): the same HTML again.
        ready = Quick(data=data)
        ready.pick.choices = Options(pairs)
        assert str(ready.pick()) == str(Plain(data=data).pick()), chosen
        assert str(ready.pick(class_="x")) == str(Plain(data=data).pick(class_="x"))
