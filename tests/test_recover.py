"""`flask recover`: an admin's access restored with the offline recovery key."""

from __future__ import annotations

import base64
import json

import pytest

from portal.extensions import db
from portal.models import AuditEntry, PortalSession
from portal.services import staff
from portal.services.setup import private_key_from_recovery
from portal.transaction import atomic
from tests.helpers import ADMIN_EMAIL, ADMIN_PASSWORD, StaffAccount, admin_account, make_staff

NEW_PASSWORD = "a fresh and long admin password"


def recover(app, email: str, recovery_key: str, password: str = NEW_PASSWORD, *flags: str):
    return app.test_cli_runner().invoke(
        args=["recover", "--email", email, *flags], input=f"{recovery_key}\n{password}\n"
    )


def audit_actions(app) -> list[str]:
    with app.app_context():
        return [entry.action for entry in db.session.scalars(db.select(AuditEntry))]


def staff_state(app, email: str) -> tuple:
    with app.app_context():
        member = staff.find_by_email(email)
        return (
            member.password_verifier,
            member.sealed_inspectorate_key,
            member.wrapped_totp_secret,
            member.active,
        )


def test_recover_sets_a_new_password_and_authenticator(app, staff_client):
    old_browser = staff_client("admin", admin_account(app))
    recovery_key = app.config["TEST_INSTANCE"].recovery_key
    # The operator may type the key in lower case and with spaces.
    result = recover(app, ADMIN_EMAIL, " " + recovery_key.lower() + " ", NEW_PASSWORD, "--json")
    assert result.exit_code == 0, result.output
    printed = json.loads(result.output)
    assert printed["admin_email"] == ADMIN_EMAIL
    secret = base64.b32decode(printed["totp_secret"])
    assert secret != admin_account(app).totp_secret
    # Every old session ended; the old password and the old authenticator are gone.
    assert old_browser.get("/inspectorate/").status_code == 303
    with app.app_context():
        member = staff.find_by_email(ADMIN_EMAIL)
        assert not db.session.scalars(
            db.select(PortalSession).where(PortalSession.staff_id == member.id)
        ).all()
        with pytest.raises(staff.WrongPassword):
            staff.unlock(member, ADMIN_PASSWORD)
        private_key, _ = staff.unlock(member, NEW_PASSWORD)
        assert private_key == private_key_from_recovery(recovery_key)
        assert member.totp_enrolled and not member.must_change_password and member.active
    assert "staff.recovered" in audit_actions(app)
    browser = staff_client(account=StaffAccount(ADMIN_EMAIL, NEW_PASSWORD, secret))
    assert browser.get("/inspectorate/admin/staff").status_code == 200


def test_a_disabled_admin_is_enabled_again(app):
    second = make_staff(app, "admin")
    with app.app_context(), atomic():
        staff.disable_member(
            staff.find_by_email(second.email), actor=staff.find_by_email(ADMIN_EMAIL)
        )
    result = recover(app, second.email, app.config["TEST_INSTANCE"].recovery_key)
    assert result.exit_code == 0, result.output
    assert staff_state(app, second.email)[3] is True
    # Without --json the secret is printed once as text; the password never is.
    assert "TOTP secret:" in result.output and second.email in result.output
    assert NEW_PASSWORD not in result.output


def test_recover_refuses_and_changes_nothing(app):
    real_key = app.config["TEST_INSTANCE"].recovery_key
    investigator = make_staff(app, "investigator")
    before = {email: staff_state(app, email) for email in (ADMIN_EMAIL, investigator.email)}
    actions = audit_actions(app)
    for email, key, password, message in (
        (ADMIN_EMAIL, "0000-0000-0000-0000-0000-0000-0000-0000", NEW_PASSWORD, "recovery key"),
        (ADMIN_EMAIL, "", NEW_PASSWORD, "recovery key"),
        (ADMIN_EMAIL, real_key, "too short", "12 characters"),
        ("nobody@inspektorat.example", real_key, NEW_PASSWORD, "No staff member"),
        (investigator.email, real_key, NEW_PASSWORD, "Only an admin"),
    ):
        result = recover(app, email, key, password)
        assert result.exit_code != 0, email
        assert message in result.output
    assert {email: staff_state(app, email) for email in before} == before
    assert audit_actions(app) == actions
