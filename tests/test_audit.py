"""The audit log: entries for sign-ins, a hash chain that `audit verify` checks, browsing, CSV."""

from __future__ import annotations

import csv
import io
import re
import threading
import time
from datetime import datetime

import pytest
from sqlalchemy import delete, update

from portal.extensions import db
from portal.models import AuditEntry
from portal.services import audit
from portal.services import setup as setup_service
from portal.transaction import atomic
from tests.helpers import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    admin_account,
    csrf_token,
    make_app,
    make_staff,
    staff_login,
)
from tests.helpers.audit import FAILED, append, entries, fields, first_problem, verify

ROW = re.compile(r'<tr id="entry-(\d+)">')


def tamper(app, entry_id: int, **values) -> None:
    with app.app_context():
        db.session.execute(update(AuditEntry).where(AuditEntry.id == entry_id).values(**values))
        db.session.commit()


# --- what is recorded ------------------------------------------------------------------


def test_sign_in_failure_and_sign_out_are_recorded(app, client):
    account = make_staff(app, "investigator")
    wrong = client.post(
        "/inspectorate/login",
        data={
            "email": account.email,
            "password": "not the password at all",
            "code": "123456",
            "csrf_token": csrf_token(client, "/inspectorate/login"),
        },
    )
    assert wrong.status_code == 401
    assert staff_login(app, client, account).status_code == 303
    token = csrf_token(client, "/inspectorate/")
    assert client.post("/inspectorate/logout", data={"csrf_token": token}).status_code == 303
    recorded = [(e.actor, e.action) for e in entries(app)]
    assert recorded[-3:] == [
        (account.email, "login.failed"),
        (account.email, "login.ok"),
        (account.email, "logout"),
    ]
    # Nothing secret in any entry: not the password tried, not the right one.
    dump = " ".join(f"{e.actor} {e.target} {e.detail}" for e in entries(app))
    assert "not the password" not in dump and account.password not in dump


# --- the chain -------------------------------------------------------------------------


def test_an_intact_chain_verifies_and_prints_its_head(app):
    append(app, 5)
    result = verify(app)
    assert result.exit_code == 0, result.output
    last = entries(app)[-1]
    assert f"OK: {last.id} entries, head {last.id} {last.entry_hash}" in result.output
    head = app.test_cli_runner().invoke(args=["audit", "head"])
    assert head.exit_code == 0
    assert head.output.strip() == f"{last.id}:{last.entry_hash}"


EDITS = {
    "actor": "someone-else@inspektorat.example",
    "action": "report.exported",
    "target": "SRG-OTHER",
    "detail": "nothing happened",
    "at": datetime(2020, 1, 1, 8, 0),
    "previous_hash": "f" * 64,
    "entry_hash": "e" * 64,
}


def test_editing_any_field_names_the_entry(app):
    ids = append(app, 6)
    victim = ids[2]
    original = fields(entries(app)[victim - 1])
    for field, value in EDITS.items():
        tamper(app, victim, **{field: value})
        assert first_problem(app) == (victim, "altered"), field
        tamper(app, victim, **original)
        assert verify(app).exit_code == 0


def test_an_edited_and_rehashed_entry_breaks_the_next_link(app):
    ids = append(app, 6)
    victim = ids[2]
    with app.app_context():
        entry = db.session.get(AuditEntry, victim)
        entry.detail = "rewritten"
        entry.entry_hash = audit.entry_hash(entry)
        db.session.commit()
    assert first_problem(app) == (victim + 1, "broken_link")


def test_deleting_an_entry_names_it(app):
    ids = append(app, 6)
    for victim in (ids[3], 1):  # one in the middle, then the very first
        with app.app_context():
            db.session.execute(delete(AuditEntry).where(AuditEntry.id == victim))
            db.session.commit()
        assert first_problem(app) == (victim, "missing")


def test_swapping_two_entries_names_the_first(app):
    ids = append(app, 8)
    for distance in (3, 1):
        first, second = ids[2], ids[2] + distance
        rows = {e.id: e for e in entries(app)}
        # entry_hash is unique: park one row's hash while the two trade places.
        tamper(app, first, entry_hash="0" * 63 + "1")
        tamper(app, second, **fields(rows[first]))
        tamper(app, first, **fields(rows[second]))
        assert first_problem(app) == (first, "moved"), distance
        assert f"belongs at id {second}" in verify(app).output
        tamper(app, first, entry_hash="0" * 63 + "1")
        tamper(app, second, **fields(rows[second]))
        tamper(app, first, **fields(rows[first]))
        assert verify(app).exit_code == 0


def test_a_cut_off_tail_shows_alone_and_against_a_noted_head(app):
    append(app, 5)
    noted = app.test_cli_runner().invoke(args=["audit", "head"]).output.strip()
    assert verify(app, "--expect-head", noted).exit_code == 0
    last = entries(app)[-1].id
    with app.app_context():
        db.session.execute(delete(AuditEntry).where(AuditEntry.id >= last - 1))
        db.session.commit()
    # The sealed head still names the deleted entry.
    assert first_problem(app) == (last - 2, "tail_cut")
    result = verify(app, "--expect-head", noted)
    assert result.exit_code == 1
    assert FAILED.search(result.output).groups() == (str(last), "head_changed")
    assert verify(app, "--expect-head", "nonsense").exit_code == 2


def test_concurrent_writers_chain_one_after_the_other(app):
    """A second writer waits for the first instead of taking the same id and failing."""
    _two_writers(app)


def test_concurrent_writers_on_postgres(instance_folder, postgres_url):
    pg_app = make_app(instance_folder, SQLALCHEMY_DATABASE_URI=postgres_url)
    with pg_app.app_context():
        setup_service.initialise(admin_email=ADMIN_EMAIL, admin_password=ADMIN_PASSWORD)
    try:
        _two_writers(pg_app)
    finally:
        with pg_app.app_context():
            db.session.remove()
            db.engine.dispose()


def _two_writers(app) -> None:
    errors: list[BaseException] = []

    def second_writer() -> None:
        try:
            with app.app_context(), atomic():
                audit.record(actor="b@inspektorat.example", action="test.second")
        except BaseException as error:
            errors.append(error)

    with app.app_context(), atomic():
        audit.record(actor="a@inspektorat.example", action="test.first")
        db.session.flush()
        other = threading.Thread(target=second_writer)
        other.start()
        time.sleep(0.3)
        assert other.is_alive(), "the second writer did not wait for the first"
    other.join(timeout=10)
    assert not errors, errors
    actions = [e.action for e in entries(app)]
    assert actions[-2:] == ["test.first", "test.second"]
    with app.app_context():
        assert audit.verify_chain().ok


# --- browsing --------------------------------------------------------------------------


def test_who_may_browse(app, client, staff_client):
    assert client.get("/inspectorate/audit").status_code == 303
    assert client.get("/inspectorate/audit").headers["Location"].endswith("/inspectorate/login")
    assert client.get("/inspectorate/audit.csv").status_code == 303
    investigator = staff_client("investigator")
    assert investigator.get("/inspectorate/audit").status_code == 403
    assert investigator.get("/inspectorate/audit.csv").status_code == 403
    assert staff_client("auditor").get("/inspectorate/audit").status_code == 200
    admin = staff_client(account=admin_account(app))
    page = admin.get("/inspectorate/audit")
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store"
    assert 'href="/inspectorate/audit"' in page.get_data(as_text=True)  # in the navigation


def test_browsing_shows_the_newest_first_and_is_not_itself_audited(app, staff_client):
    auditor = staff_client("auditor")
    append(app, 3)
    before = len(entries(app))
    page = auditor.get("/inspectorate/audit")
    text = page.get_data(as_text=True)
    shown = [int(i) for i in ROW.findall(text)]
    assert shown == sorted(shown, reverse=True) and shown[0] == before
    assert 'data-state="ok"' in text
    assert "SRG-TEST-0002" in text and "step 2" in text
    assert len(entries(app)) == before


def test_the_page_warns_when_the_chain_is_broken(app, staff_client):
    auditor = staff_client("auditor")
    ids = append(app, 4)
    tamper(app, ids[1], detail="quietly changed")
    text = auditor.get("/inspectorate/audit").get_data(as_text=True)
    assert f'data-state="altered" data-entry="{ids[1]}"' in text


def test_filters(app, staff_client):
    auditor = staff_client("auditor")
    append(app, 2, actor="ani@inspektorat.example", action="report.assigned")
    append(app, 3, actor="budi@inspektorat.example", action="report.viewed")
    # 17:30 UTC on 1 March is 00:30 WIB on 2 March; 16:59 UTC is still 1 March in WIB.
    late = append(app, 1, at=datetime(2026, 3, 1, 17, 30), action="report.status_changed")
    early = append(app, 1, at=datetime(2026, 3, 1, 16, 59), action="report.status_changed")
    rows = {e.id: e for e in entries(app)}

    def shown(**query: str) -> list[int]:
        response = auditor.get("/inspectorate/audit", query_string=query)
        assert response.status_code == 200, response.get_data(as_text=True)
        return [int(i) for i in ROW.findall(response.get_data(as_text=True))]

    assert {rows[i].actor for i in shown(actor="ANI@")} == {"ani@inspektorat.example"}
    assert len(shown(actor="ani@")) == 2
    assert {rows[i].action for i in shown(action="report.viewed")} == {"report.viewed"}
    assert shown(target="srg-test-0001") == sorted(
        (i for i, e in rows.items() if e.target == "SRG-TEST-0001"), reverse=True
    )
    assert shown(since="2026-03-02", until="2026-03-02") == late
    assert shown(since="2026-03-01", until="2026-03-01") == early
    assert shown(actor="nobody-like-this") == []
    # The action select offers the actions present, and nothing else.
    text = auditor.get("/inspectorate/audit").get_data(as_text=True)
    assert '<option value="report.assigned">' in text
    assert auditor.get("/inspectorate/audit?action=made.up").status_code == 400
    assert auditor.get("/inspectorate/audit?since=2026-03-02&until=2026-03-01").status_code == 400
    assert auditor.get("/inspectorate/audit?before=abc").status_code == 400


@pytest.mark.app_config({"AUDIT_PAGE_SIZE": 3})
def test_keyset_pages_cover_every_entry_once(app, staff_client):
    auditor = staff_client("auditor")
    append(app, 8)
    everything = [e.id for e in reversed(entries(app))]
    seen: list[int] = []
    url: str | None = "/inspectorate/audit"
    pages = []
    while url:
        text = auditor.get(url).get_data(as_text=True)
        ids = [int(i) for i in ROW.findall(text)]
        assert 0 < len(ids) <= 3
        seen += ids
        pages.append((url, ids))
        older = re.search(r'href="([^"]+)" rel="next"', text)
        url = older.group(1).replace("&amp;", "&") if older else None
    assert seen == everything
    # And back: "newer" from the last page shows the page before it.
    last_text = auditor.get(pages[-1][0]).get_data(as_text=True)
    newer = re.search(r'href="([^"]+)" rel="prev"', last_text).group(1).replace("&amp;", "&")
    assert [int(i) for i in ROW.findall(auditor.get(newer).get_data(as_text=True))] == pages[-2][1]


def test_csv_export_is_audited_and_matches_the_page(app, client, staff_client):
    # A failed login no longer puts what was typed into the log ("unknown account"); text
    # that does reach it (a catalogue name an admin typed, say) must not run in a spreadsheet.
    client.post(
        "/inspectorate/login",
        data={
            "email": "=HYPERLINK(1)",
            "password": "x",
            "code": "1",
            "csrf_token": csrf_token(client, "/inspectorate/login"),
        },
    )
    with app.app_context(), atomic():
        audit.record(actor="=HYPERLINK(1)", action="catalog.changed")
    account = make_staff(app, "auditor")
    auditor = staff_client(account=account)
    append(app, 4, action="report.viewed")
    query = {"action": "report.viewed"}
    page = auditor.get("/inspectorate/audit", query_string=query).get_data(as_text=True)
    response = auditor.get("/inspectorate/audit.csv", query_string=query)
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    table = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [int(row["id"]) for row in table] == [int(i) for i in ROW.findall(page)]
    assert {row["action"] for row in table} == {"report.viewed"}
    exported = entries(app)[-1]
    assert (exported.actor, exported.action) == (account.email, "audit.exported")
    assert "action=report.viewed" in exported.detail
    # Every entry, with its hashes: the export can be checked offline.
    everything = auditor.get("/inspectorate/audit.csv").get_data(as_text=True)
    table = list(csv.DictReader(io.StringIO(everything)))
    assert "'=HYPERLINK(1)" in {row["actor"] for row in table}
    assert "=hyperlink(1)" not in {row["actor"].lower() for row in table}
    assert "unknown account" in {row["actor"] for row in table}
    by_id = {e.id: e for e in entries(app)}
    for row in table:
        assert row["entry_hash"] == by_id[int(row["id"])].entry_hash
        assert row["at_wib"].endswith(" WIB")
    with app.app_context():
        assert audit.verify_chain().ok
