"""Admin pages: members, roles, password resets, sessions, deadline and retention settings."""

from __future__ import annotations

import json
import re
from datetime import date

import pytest

from portal import deadlines
from portal.extensions import db
from portal.models import AuditEntry, PortalSession, Role, Setting, Staff
from portal.services import reports, settings, staff
from portal.services.catalog import VERSION_KEY as CATALOG_VERSION
from portal.services.staff.directory import VERSION_KEY as STAFF_VERSION
from portal.transaction import atomic
from tests.helpers import (
    ADMIN_EMAIL,
    admin_account,
    csrf_token,
    make_staff,
    staff_login,
    submit_report,
)
from tests.helpers.admin import (
    _ONE_TIME,
    STAFF_PAGE,
    add_member,
    enrol,
    in_english,
    member_row,
    post,
)

# Tokens the seed and staff changes write: not settings an admin changed.
VERSION_KEYS = (CATALOG_VERSION, STAFF_VERSION)

SETTINGS_PAGE = "/inspectorate/admin/settings"


def audit_entries(app, action: str) -> list[AuditEntry]:
    with app.app_context():
        entries = db.session.scalars(db.select(AuditEntry).where(AuditEntry.action == action))
        return list(entries)


@pytest.fixture
def admin(app, staff_client):
    """A browser signed in as a second admin (the setup admin stays free for other uses)."""
    return staff_client("admin")


def admin_routes(app) -> list[tuple[str, str]]:
    """(method, url) of every admin route, with id 1 for its parameters."""
    routes = []
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("inspectorate.admin_"):
            continue
        url = re.sub(r"<id:[a-z_]+>", "1", rule.rule)
        routes.extend((method, url) for method in sorted(rule.methods & {"GET", "POST"}))
    return routes


# --- Access ----------------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_sign_in(app, client):
    routes = admin_routes(app)
    assert len(routes) >= 8
    for method, url in routes:
        if method == "GET":
            response = client.get(url)
            assert response.status_code == 303
            assert response.headers["Location"].endswith("/inspectorate/login")


def test_other_roles_get_403_on_every_admin_route(app, staff_client):
    for role in ("investigator", "auditor"):
        browser = staff_client(role)
        token = csrf_token(browser, "/inspectorate/")
        for method, url in admin_routes(app):
            response = browser.open(url, method=method, data={"csrf_token": token})
            assert response.status_code == 403, (role, method, url)
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(Staff.id))) == 3
        # No setting changed (version tokens are written by setup and by adding members).
        settings = db.select(db.func.count(Setting.key)).where(Setting.key.not_in(VERSION_KEYS))
        assert db.session.scalar(settings) == 0
        assert db.session.scalars(db.select(Staff.active)).all() == [True] * 3


def test_admin_sees_members_and_sessions_without_token_hashes(app, admin, staff_client):
    account = make_staff(app, "auditor")
    staff_client(account=account)
    in_english(admin)
    page = admin.get(STAFF_PAGE)
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert account.email in text and ADMIN_EMAIL in text
    assert "Live sessions" in text and "(this session)" in text
    home = admin.get("/inspectorate/").get_data(as_text=True)
    assert STAFF_PAGE in home and SETTINGS_PAGE in home
    with app.app_context():
        rows = list(db.session.scalars(db.select(PortalSession)))
        assert len(rows) == 2
        for row in rows:
            assert f'id="session-{row.id}"' in text
            assert row.token_hash not in text


# --- Members ---------------------------------------------------------------------------


def test_a_new_member_signs_in_enrols_and_opens_reports(app, admin, client):
    code, _ = submit_report(client)
    one_time = add_member(admin, "Baru@Inspektorat.example")
    created = audit_entries(app, "staff.created")
    assert [(entry.target, entry.detail) for entry in created] == [
        ("baru@inspektorat.example", "investigator")
    ]
    assert one_time not in json.dumps([entry.detail for entry in created])
    # Shown once: the staff page does not show it again.
    assert one_time not in admin.get(STAFF_PAGE).get_data(as_text=True)
    account = enrol(app, "baru@inspektorat.example", one_time)
    browser = app.test_client()
    assert staff_login(app, browser, account).status_code == 303
    assert browser.get("/inspectorate/").status_code == 200
    with app.app_context():
        member = staff.find_by_email(account.email)
        assert member.role == "investigator" and member.totp_enrolled
        private_key, _ = staff.unlock(member, account.password)
        report = reports.find(code)
        opened = reports.open_report(report, reports.key_from_private_key(report, private_key))
        assert opened.content.chronology.startswith("Saya datang")


def test_duplicate_or_malformed_email_is_refused(app, admin):
    in_english(admin)
    before = len(audit_entries(app, "staff.created"))
    duplicate = post(admin, f"{STAFF_PAGE}/new", {"email": ADMIN_EMAIL.upper(), "role": "auditor"})
    assert duplicate.status_code == 400
    assert "A staff member with this email already exists." in duplicate.get_data(as_text=True)
    for data in (
        {"email": "not an address", "role": "auditor"},
        {"email": "someone@example.test", "role": "superuser"},
    ):
        assert post(admin, f"{STAFF_PAGE}/new", data).status_code == 400
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(Staff.id))) == 2
    assert len(audit_entries(app, "staff.created")) == before


def test_disabling_ends_sessions_and_deletes_the_wrapped_key(app, admin, staff_client):
    account = make_staff(app, "investigator")
    first, second = staff_client(account=account), staff_client(account=account)
    member = member_row(app, account.email)
    response = post(admin, f"{STAFF_PAGE}/{member.id}/disable")
    assert response.status_code == 303
    for browser in (first, second):
        assert browser.get("/inspectorate/").status_code == 303
    disabled = member_row(app, account.email)
    assert not disabled.active and disabled.wrapped_private_key is None
    with app.app_context():
        assert not db.session.scalars(
            db.select(PortalSession).where(PortalSession.staff_id == member.id)
        ).all()
    assert [entry.target for entry in audit_entries(app, "staff.disabled")] == [account.email]
    assert staff_login(app, app.test_client(), account).status_code == 401
    # Disabling again changes nothing and records nothing.
    assert post(admin, f"{STAFF_PAGE}/{member.id}/disable").status_code == 303
    assert len(audit_entries(app, "staff.disabled")) == 1
    # A reset enables the member again, with a one-time password and a fresh key.
    response = post(admin, f"{STAFF_PAGE}/{member.id}/reset")
    assert response.status_code == 200
    one_time = _ONE_TIME.search(response.get_data(as_text=True)).group(1)
    assert member_row(app, account.email).active
    assert [entry.detail for entry in audit_entries(app, "staff.password_reset")] == ["reactivated"]
    enrol(app, account.email, one_time)


def test_an_admin_cannot_disable_demote_or_reset_themselves(app, staff_client):
    browser = staff_client("admin", admin_account(app))
    in_english(browser)
    me = member_row(app, ADMIN_EMAIL)
    for action, data, message in (
        ("disable", {}, "You cannot disable your own account."),
        ("role", {"role": "auditor"}, "You cannot change your own role."),
        ("reset", {}, "use the Password page"),
    ):
        response = post(browser, f"{STAFF_PAGE}/{me.id}/{action}", data)
        assert response.status_code == 400
        assert message in response.get_data(as_text=True)
    after = member_row(app, ADMIN_EMAIL)
    assert after.active and after.role == "admin" and after.sealed_inspectorate_key
    assert browser.get(STAFF_PAGE).status_code == 200


def test_the_last_active_admin_stays_admin(app):
    helper = make_staff(app, "investigator")
    with app.app_context():
        admin = staff.find_by_email(ADMIN_EMAIL)
        actor = staff.find_by_email(helper.email)
        with pytest.raises(staff.LastAdmin):
            staff.change_role(admin, actor=actor, role=Role.AUDITOR)
        with pytest.raises(staff.LastAdmin):
            staff.disable_member(admin, actor=actor)
        db.session.rollback()
        admin = staff.find_by_email(ADMIN_EMAIL)
        assert admin.active and admin.role == "admin"


def test_role_change_is_audited_and_applies_to_live_sessions(app, admin, staff_client):
    account = make_staff(app, "investigator")
    browser = staff_client(account=account)
    assert browser.get(STAFF_PAGE).status_code == 403
    member = member_row(app, account.email)
    response = post(admin, f"{STAFF_PAGE}/{member.id}/role", {"role": "admin"})
    assert response.status_code == 303
    assert browser.get(STAFF_PAGE).status_code == 200
    [entry] = audit_entries(app, "staff.role_changed")
    assert entry.target == account.email
    assert json.loads(entry.detail) == {"old": "investigator", "new": "admin"}
    assert post(admin, f"{STAFF_PAGE}/{member.id}/role", {"role": "boss"}).status_code == 400
    assert post(admin, f"{STAFF_PAGE}/9999/role", {"role": "auditor"}).status_code == 404
    assert member_row(app, account.email).role == "admin"


def test_password_reset_gives_a_one_time_password_and_a_working_key(app, admin, staff_client):
    account = make_staff(app, "investigator")
    browser = staff_client(account=account)
    member = member_row(app, account.email)
    response = post(admin, f"{STAFF_PAGE}/{member.id}/reset")
    assert response.status_code == 200
    one_time = _ONE_TIME.search(response.get_data(as_text=True)).group(1)
    assert browser.get("/inspectorate/").status_code == 303
    reset = member_row(app, account.email)
    assert reset.must_change_password and not reset.totp_enrolled
    [entry] = audit_entries(app, "staff.password_reset")
    assert entry.target == account.email and one_time not in entry.detail
    assert staff_login(app, app.test_client(), account).status_code == 401
    renewed = enrol(app, account.email, one_time)
    with app.app_context():
        private_key, _ = staff.unlock(staff.find_by_email(account.email), renewed.password)
        from portal.services.setup import private_key_from_recovery

        assert private_key == private_key_from_recovery(app.config["TEST_INSTANCE"].recovery_key)


def test_one_session_can_be_ended(app, admin, staff_client):
    account = make_staff(app, "investigator")
    first, second = staff_client(account=account), staff_client(account=account)
    member = member_row(app, account.email)
    with app.app_context():
        ids = sorted(
            row.id
            for row in db.session.scalars(
                db.select(PortalSession).where(PortalSession.staff_id == member.id)
            )
        )
    response = post(admin, f"/inspectorate/admin/sessions/{ids[0]}/revoke")
    assert response.status_code == 303
    assert first.get("/inspectorate/").status_code == 303
    assert second.get("/inspectorate/").status_code == 200
    [entry] = audit_entries(app, "session.revoked")
    assert (entry.target, entry.detail) == (account.email, str(ids[0]))
    assert post(admin, f"/inspectorate/admin/sessions/{ids[0]}/revoke").status_code == 404


# --- Settings --------------------------------------------------------------------------

NEW_SETTINGS = {
    "received": "5",
    "needs_info": "7",
    "verified": "4",
    "in_progress": "20",
    "retention_months": "36",
}


def test_settings_show_the_defaults_and_refuse_values_out_of_range(app, admin):
    form = admin.get(SETTINGS_PAGE).get_data(as_text=True)
    for name, value in (("received", 3), ("in_progress", 14), ("retention_months", 24)):
        assert re.search(rf'name="{name}"[^>]*value="{value}"', form), name
    in_english(admin)
    for override in (
        {"received": "0"},
        {"verified": "61"},
        {"needs_info": "abc"},
        {"in_progress": ""},
        {"retention_months": "121"},
    ):
        response = post(admin, SETTINGS_PAGE, {**NEW_SETTINGS, **override}, page=SETTINGS_PAGE)
        assert response.status_code == 400, override
        assert "Please correct the marked fields." in response.get_data(as_text=True)
    with app.app_context():
        # No setting written (version tokens are written by setup and by adding members).
        stored = db.select(db.func.count(Setting.key)).where(Setting.key.not_in(VERSION_KEYS))
        assert db.session.scalar(stored) == 0
        assert settings.get_deadlines()["received"] == 3
    assert not audit_entries(app, "settings.deadlines")


def test_changed_deadlines_apply_to_reports_filed_afterwards(app, admin, client):
    response = post(admin, SETTINGS_PAGE, NEW_SETTINGS, page=SETTINGS_PAGE)
    assert response.status_code == 303
    with app.app_context():
        assert settings.get_deadlines() == {
            "received": 5,
            "needs_info": 7,
            "verified": 4,
            "in_progress": 20,
        }
        assert settings.get_retention_months() == 36
        # Friday 2 October 2026 + 5 working days = Friday 9 October (weekend skipped).
        assert deadlines.due_date("received", date(2026, 10, 2)) == date(2026, 10, 9)
    [changed] = audit_entries(app, "settings.deadlines")
    detail = json.loads(changed.detail)
    assert detail["old"]["received"] == 3 and detail["new"]["received"] == 5
    [retention] = audit_entries(app, "settings.retention_months")
    assert json.loads(retention.detail) == {"old": 24, "new": 36}
    code, _ = submit_report(client)
    with app.app_context():
        report = reports.find(code)
        assert report.due_on == deadlines.add_working_days(report.status_since, 5)
    # Saving the same values again records nothing.
    post(admin, SETTINGS_PAGE, NEW_SETTINGS, page=SETTINGS_PAGE)
    assert len(audit_entries(app, "settings.deadlines")) == 1
    page = admin.get(SETTINGS_PAGE).get_data(as_text=True)
    assert re.search(r'name="in_progress"[^>]*value="20"', page)


@pytest.mark.app_config({"DEADLINE_WORKING_DAYS": {"received": 2, "verified": 5}})
def test_deadlines_fall_back_to_config(app):
    with app.app_context(), atomic():
        assert deadlines.due_date("received", date(2026, 10, 2)) == date(2026, 10, 6)
        assert deadlines.due_date("in_progress", date(2026, 10, 2)) is None
        assert deadlines.due_date("resolved", date(2026, 10, 2)) is None
        settings.update(
            deadlines={"received": 1, "needs_info": 2, "verified": 3, "in_progress": 4},
            actor="test",
        )
        assert deadlines.due_date("received", date(2026, 10, 2)) == date(2026, 10, 5)
        assert deadlines.due_date("in_progress", date(2026, 10, 2)) == date(2026, 10, 8)
        with pytest.raises(settings.InvalidSetting):
            settings.update(deadlines={"received": 1}, actor="test")
        with pytest.raises(settings.InvalidSetting):
            settings.update(retention_months=True, actor="test")
