"""Staff sign-in: password + single-use TOTP, throttling, sessions, enrolment."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from portal import crypto
from portal.extensions import db
from portal.models import AuditEntry, PortalSession, Role, Staff
from portal.models.base import utcnow
from portal.services import reports, staff
from portal.transaction import atomic
from tests.helpers import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    StaffAccount,
    admin_account,
    csrf_token,
    make_staff,
    staff_login,
    submit_report,
    totp_for,
)


def login_with(client, email: str, password: str, code: str, address: str = "10.9.9.9"):
    return client.post(
        "/inspectorate/login",
        data={
            "email": email,
            "password": password,
            "code": code,
            "csrf_token": csrf_token(client, "/inspectorate/login"),
        },
        environ_base={"REMOTE_ADDR": address},
    )


def audit_actions(app) -> list[str]:
    with app.app_context():
        return [entry.action for entry in db.session.scalars(db.select(AuditEntry))]


def test_admin_signs_in_with_password_and_totp(app, client):
    response = staff_login(app, client, admin_account(app))
    assert response.status_code == 303
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("lp_staff=")
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/inspectorate" in cookie
    home = client.get("/inspectorate/")
    assert home.status_code == 200
    assert "admin@example.test" in home.get_data(as_text=True)
    assert "login.ok" in audit_actions(app)


@pytest.mark.parametrize("what", ["password", "code", "email"])
def test_wrong_password_code_or_email_is_refused_alike(app, client, what):
    account = make_staff(app)
    good = {"email": account.email, "password": account.password, "code": totp_for(app, account)}
    bad = dict(good)
    bad[what] = {"password": "not the password", "code": "000000", "email": "nobody@x.example"}[
        what
    ]
    if what == "code" and good["code"] == "000000":
        bad["code"] = "111111"
    response = login_with(client, **bad)
    assert response.status_code == 401
    assert "Email, kata sandi, atau kode salah." in response.get_data(as_text=True)
    assert "lp_staff" not in response.headers.get("Set-Cookie", "")
    assert "login.failed" in audit_actions(app)


def test_a_totp_code_works_only_once(app, client):
    account = make_staff(app)
    code = totp_for(app, account)
    assert login_with(client, account.email, account.password, code).status_code == 303
    replay = login_with(app.test_client(), account.email, account.password, code)
    assert replay.status_code == 401


def test_codes_from_far_away_times_are_refused(app, client):
    account = make_staff(app)
    import time

    stale = crypto.totp_code(account.totp_secret, time.time() - 5 * 60)
    assert login_with(client, account.email, account.password, stale).status_code == 401


@pytest.mark.app_config({"RATELIMIT_STAFF_ACCOUNT_FAILURES": "3 per hour"})
def test_failed_logins_lock_the_account_for_untrusted_devices(app, client):
    account = make_staff(app)
    for attempt in range(3):
        login_with(client, account.email, "wrong password", "123456", f"10.0.0.{attempt}")
    locked = login_with(client, account.email, account.password, totp_for(app, account), "10.1.1.1")
    assert locked.status_code == 429
    assert "login.locked" in audit_actions(app)


@pytest.mark.app_config({"RATELIMIT_STAFF_LOGIN": "3 per hour"})
def test_logins_are_limited_per_address(app, client):
    account = make_staff(app)
    for _ in range(3):
        login_with(client, "nobody@x.example", "x", "1", "10.2.2.2")
    blocked = login_with(
        client, account.email, account.password, totp_for(app, account), "10.2.2.2"
    )
    assert blocked.status_code == 429


def test_idle_and_absolute_expiry(app, staff_client):
    for field, minutes in (("last_seen_at", 31), ("created_at", 12 * 60 + 1)):
        browser = staff_client()
        with app.app_context():
            for row in db.session.scalars(db.select(PortalSession)):
                setattr(row, field, utcnow() - timedelta(minutes=minutes))
            db.session.commit()
        assert browser.get("/inspectorate/").status_code == 303


def test_last_seen_is_written_at_most_once_a_minute_and_idle_expiry_counts_from_it(
    app, staff_client
):
    browser = staff_client()

    def last_seen():
        with app.app_context():
            return db.session.scalars(db.select(PortalSession.last_seen_at)).one()

    def set_last_seen(ago):
        with app.app_context():
            db.session.scalars(db.select(PortalSession)).one().last_seen_at = utcnow() - ago
            db.session.commit()

    # Seen 30 seconds ago: a page view writes nothing.
    set_last_seen(timedelta(seconds=30))
    before = last_seen()
    assert browser.get("/inspectorate/").status_code == 200
    assert last_seen() == before
    # Seen over a minute ago: the view moves it to now.
    set_last_seen(timedelta(seconds=61))
    assert browser.get("/inspectorate/").status_code == 200
    assert utcnow() - last_seen() < timedelta(seconds=10)
    # The idle limit (30 minutes) counts from the last write: never later than that.
    set_last_seen(timedelta(minutes=30, seconds=1))
    assert browser.get("/inspectorate/").status_code == 303


def test_logout_and_logout_everywhere(app, staff_client):
    account = make_staff(app)
    first, second = staff_client(account=account), staff_client(account=account)
    first.post("/inspectorate/logout", data={"csrf_token": csrf_token(first, "/inspectorate/")})
    assert first.get("/inspectorate/").status_code == 303
    assert second.get("/inspectorate/").status_code == 200
    third = staff_client(account=account)
    response = third.post(
        "/inspectorate/logout/everywhere", data={"csrf_token": csrf_token(third, "/inspectorate/")}
    )
    assert response.headers["Clear-Site-Data"]
    assert second.get("/inspectorate/").status_code == 303
    assert third.get("/inspectorate/").status_code == 303


def test_revoked_session_and_disabled_member_lose_access(app, staff_client):
    account = make_staff(app)
    browser = staff_client(account=account)
    with app.app_context(), atomic():
        member = staff.find_by_email(account.email)
        admin = staff.find_by_email(admin_account(app).email)
        staff.disable_member(member, actor=admin)
        assert member.wrapped_private_key is None
    assert browser.get("/inspectorate/").status_code == 303
    assert (
        login_with(
            app.test_client(), account.email, account.password, totp_for(app, account)
        ).status_code
        == 401
    )


def test_the_database_alone_cannot_open_a_report(app, staff_client, client):
    """With every session token unknown, no sealed key in the database opens."""
    code, _ = submit_report(client)
    staff_client()
    staff_client("admin", admin_account(app))
    with app.app_context():
        report = reports.find(code)
        rows = list(db.session.scalars(db.select(PortalSession)))
        assert len(rows) == 2
        for row in rows:
            candidates = [row.token_hash, row.token_hash[:43], "x" * 43]
            for guess in candidates:
                key = crypto.expand_key(guess.encode(), b"", f"session/{row.kind}")
                with pytest.raises(crypto.DecryptionError):
                    crypto.decrypt(
                        key, row.sealed_key, f"session/{row.kind}/{row.token_hash}".encode()
                    )
        # Nor do the staff rows: wrapped keys need a password.
        for member in db.session.scalars(db.select(Staff)):
            with pytest.raises(staff.WrongPassword):
                staff.unlock(member, member.email)
        assert report.key_sealed is not None


def test_first_login_forces_password_change_and_totp_enrolment(app):
    with app.app_context(), atomic():
        admin = staff.find_by_email(admin_account(app).email)
        from portal.services.setup import private_key_from_recovery

        private_key = private_key_from_recovery(app.config["TEST_INSTANCE"].recovery_key)
        one_time = staff.add_member(
            actor=admin,
            email="baru@inspektorat.example",
            role=Role.INVESTIGATOR,
            private_key=private_key,
        )
    browser = app.test_client()
    response = login_with(browser, "baru@inspektorat.example", one_time, "")
    assert response.status_code == 303
    # Every page leads to enrolment until it is done.
    assert browser.get("/inspectorate/").headers["Location"].endswith("/inspectorate/enrol")
    page = browser.get("/inspectorate/enrol").get_data(as_text=True)
    assert 'src="data:image/svg+xml' in page
    secret_text = re.search(r'name="secret" type="hidden" value="([A-Z2-7=]+)"', page).group(1)
    import base64
    import time

    secret = base64.b32decode(secret_text)
    token = csrf_token(browser, "/inspectorate/enrol")
    form = {
        "new_password": "a brand new long password",
        "confirm": "a brand new long password",
        "secret": secret_text,
        "csrf_token": token,
    }
    wrong = browser.post(
        "/inspectorate/enrol",
        data={
            **form,
            "code": "000000" if crypto.totp_code(secret, time.time()) != "000000" else "111111",
        },
    )
    assert wrong.status_code == 400
    done = browser.post(
        "/inspectorate/enrol", data={**form, "code": crypto.totp_code(secret, time.time())}
    )
    assert done.status_code == 303
    assert browser.get("/inspectorate/").status_code == 200
    # The one-time password is gone; the new password and the new authenticator work.
    account = StaffAccount("baru@inspektorat.example", "a brand new long password", secret)
    assert (
        login_with(app.test_client(), account.email, one_time, totp_for(app, account)).status_code
        == 401
    )
    assert staff_login(app, app.test_client(), account).status_code == 303


def test_password_change_rewraps_the_key(app, staff_client):
    account = make_staff(app)
    browser = staff_client(account=account)
    token = csrf_token(browser, "/inspectorate/password")
    bad = browser.post(
        "/inspectorate/password",
        data={
            "current": "nope nope nope",
            "new_password": "x" * 12,
            "confirm": "x" * 12,
            "csrf_token": token,
        },
    )
    assert bad.status_code == 400
    ok = browser.post(
        "/inspectorate/password",
        data={
            "current": account.password,
            "new_password": "another long password",
            "confirm": "another long password",
            "csrf_token": token,
        },
    )
    assert ok.status_code == 200
    with app.app_context():
        member = staff.find_by_email(account.email)
        private_key, _ = staff.unlock(member, "another long password")
        from portal.services.setup import private_key_from_recovery

        assert private_key == private_key_from_recovery(app.config["TEST_INSTANCE"].recovery_key)
        with pytest.raises(staff.WrongPassword):
            staff.unlock(member, account.password)


def test_password_change_ends_the_members_other_sessions(app, staff_client):
    account = make_staff(app)
    stolen, own = staff_client(account=account), staff_client(account=account)
    other = staff_client("investigator")
    ok = own.post(
        "/inspectorate/password",
        data={
            "current": account.password,
            "new_password": "a fresh long password",
            "confirm": "a fresh long password",
            "csrf_token": csrf_token(own, "/inspectorate/password"),
        },
    )
    assert ok.status_code == 200
    assert stolen.get("/inspectorate/").status_code == 303  # signed out: back to sign-in
    assert own.get("/inspectorate/").status_code == 200  # the session that changed it stays
    assert other.get("/inspectorate/").status_code == 200  # nobody else is touched
    with app.app_context():
        [entry] = db.session.scalars(
            db.select(AuditEntry).where(AuditEntry.action == "staff.password_changed")
        ).all()
        assert entry.detail == "other_sessions_ended=1"


def test_first_admin_signs_in_with_the_printed_code_and_only_replaces_the_password(app):
    # Setup prints a one-time password and a TOTP secret: the code is needed at sign-in,
    # and enrolment then asks for a new password only, never for a second authenticator.
    with app.app_context():
        member = staff.find_by_email(ADMIN_EMAIL)
        member.must_change_password = True
        db.session.commit()
    account = admin_account(app)
    browser = app.test_client()
    assert login_with(browser, account.email, account.password, "").status_code == 401
    assert staff_login(app, browser, account).status_code == 303
    page = browser.get("/inspectorate/enrol").get_data(as_text=True)
    assert 'name="code"' not in page and "data:image/svg+xml" not in page
    done = browser.post(
        "/inspectorate/enrol",
        data={
            "current": account.password,
            "new_password": "the admin's own new password",
            "confirm": "the admin's own new password",
            "csrf_token": csrf_token(browser, "/inspectorate/enrol"),
        },
    )
    assert done.status_code == 303
    assert browser.get("/inspectorate/").status_code == 200
    with app.app_context():
        member = staff.find_by_email(ADMIN_EMAIL)
        assert not member.must_change_password and member.totp_enrolled


def test_enrolment_offers_the_same_secret_on_every_reload_of_a_session(app):
    with app.app_context(), atomic():
        admin = staff.find_by_email(admin_account(app).email)
        from portal.services.setup import private_key_from_recovery

        private_key = private_key_from_recovery(app.config["TEST_INSTANCE"].recovery_key)
        one_time = staff.add_member(
            actor=admin,
            email="ulang@inspektorat.example",
            role=Role.INVESTIGATOR,
            private_key=private_key,
        )
    secret = re.compile(r'id="totp-secret">([A-Z2-7= ]+)<')
    first, second = app.test_client(), app.test_client()
    assert login_with(first, "ulang@inspektorat.example", one_time, "").status_code == 303
    shown = secret.search(first.get("/inspectorate/enrol").get_data(as_text=True)).group(1)
    again = secret.search(first.get("/inspectorate/enrol").get_data(as_text=True)).group(1)
    assert shown == again
    # Another sign-in is another session: a new secret, nothing stored for the old one.
    assert login_with(second, "ulang@inspektorat.example", one_time, "").status_code == 303
    other = secret.search(second.get("/inspectorate/enrol").get_data(as_text=True)).group(1)
    assert other != shown


def test_enrolment_accepts_a_code_of_the_window_the_member_signed_in_in(app):
    import time

    with app.app_context(), atomic():
        member = staff.find_by_email(ADMIN_EMAIL)
        private_key, _ = staff.unlock(member, ADMIN_PASSWORD)
        now_step = int(time.time()) // crypto.TOTP_STEP_SECONDS
        member.totp_last_step = now_step  # a code of the old secret was used just now
        db.session.commit()
        fresh = staff.new_totp_secret()
        code = crypto.totp_code(fresh, now_step * crypto.TOTP_STEP_SECONDS)
        assert staff.enrol(
            member,
            private_key=private_key,
            new_password="a fresh long password",
            totp_secret=fresh,
            code=code,
        )
        # ... and that code is then spent.
        assert not staff.accept_totp(member, fresh, code)


_SIGN_OUT = re.compile(
    r'action="/inspectorate/logout" class="inline-button">\s*'
    r'<input type="hidden" name="csrf_token" value="([^"]+)">\s*'
    r"<button type=\"submit\">([^<]+)</button>"
)


def test_the_staff_header_names_its_own_member_role_and_language(app, staff_client):
    """The header is stored per role and language; each member still sees their own."""
    first, second = make_staff(app, "investigator"), make_staff(app, "investigator")
    pages = {}
    for account in (first, second):
        browser = staff_client(account=account)
        pages[account.email] = (browser, browser.get("/inspectorate/").get_data(as_text=True))
    for account, other in ((first, second), (second, first)):
        browser, page = pages[account.email]
        token, button = _SIGN_OUT.search(page).groups()
        assert button == f"Keluar ({account.email})" and other.email not in page
        assert "Antrean laporan" in page and 'href="/inspectorate/audit"' not in page
        browser.get("/bahasa/en?next=/")
        english = browser.get("/inspectorate/").get_data(as_text=True)
        assert _SIGN_OUT.search(english).group(2) == f"Sign out ({account.email})"
        assert "Report queue" in english
    # A role change shows in the header on the member's next page.
    with app.app_context():
        member = db.session.execute(db.select(Staff).filter_by(email=first.email)).scalar_one()
        member.role = Role.AUDITOR
        db.session.commit()
    browser = pages[first.email][0]
    page = browser.get("/inspectorate/").get_data(as_text=True)
    assert 'href="/inspectorate/audit"' in page and "Report queue" not in page
    # The header's token is this browser's own: the sign-out form works.
    token = _SIGN_OUT.search(page).group(1)
    assert browser.post("/inspectorate/logout", data={"csrf_token": token}).status_code == 303
    assert browser.get("/inspectorate/").headers["Location"].endswith("/inspectorate/login")
