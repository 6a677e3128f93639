"""Keys that outlive departures: per-member key pairs and inspectorate key rotation."""

from __future__ import annotations

import sqlite3
import tarfile
from pathlib import Path

import pytest

from portal import crypto
from portal.extensions import db
from portal.models import InspectorateKey, Report, Staff
from portal.services import reports, staff
from portal.services import setup as setup_service
from tests.helpers import admin_account, csrf_token, make_staff, staff_login, submit_report
from tests.helpers.admin import STAFF_PAGE, member_row, post
from tests.helpers.backup import take_backup

# Offline, outside the app: the attacker's own derivation, not the portal's slots.
SLOTS = crypto.DerivationSlots(2, 5.0)


def key_from_backup(archive: Path, email: str, password: str, scratch: Path) -> crypto.PrivateKey:
    """What a departed member can do offline: their password against an old backup."""
    with tarfile.open(archive) as tar:
        tar.extract("database.sqlite3", scratch, filter="data")
    connection = sqlite3.connect(scratch / "database.sqlite3")
    row = connection.execute(
        "SELECT password_salt, password_kdf, wrapped_member_key, sealed_inspectorate_key"
        " FROM staff WHERE email = ?",
        (email,),
    ).fetchone()
    connection.close()
    keys = crypto.password_keys(password, row[0], crypto.KdfParams.decode(row[1]), slots=SLOTS)
    member_private = crypto.decrypt(keys.wrapping_key, row[2], f"staff/member-key/{email}".encode())
    return crypto.PrivateKey(
        crypto.unseal(
            crypto.PrivateKey(member_private), row[3], f"staff/inspectorate-key/{email}".encode()
        )
    )


def opens(private_key: crypto.PrivateKey, report: Report) -> bool:
    try:
        reports.key_from_private_key(report, private_key)
    except crypto.DecryptionError:
        return False
    return True


def all_reports(app) -> list[Report]:
    with app.app_context():
        rows = list(db.session.scalars(db.select(Report).order_by(Report.id)))
        db.session.expunge_all()
        return rows


def test_after_disable_and_rotate_the_departed_members_password_opens_nothing_new(
    app, client, tmp_path
):
    departing, staying = make_staff(app), make_staff(app)
    before_code, _ = submit_report(client)
    old_backup = take_backup(app, tmp_path / "old")
    stolen = key_from_backup(old_backup, departing.email, departing.password, tmp_path)
    assert opens(stolen, all_reports(app)[0])  # what the backup held, it still holds

    admin = app.test_client()
    assert staff_login(app, admin, admin_account(app)).status_code == 303
    departed_id = member_row(app, departing.email).id
    disabled = post(admin, f"{STAFF_PAGE}/{departed_id}/disable")
    assert disabled.status_code == 303
    assert 'id="key-rotation"' in admin.get(disabled.headers["Location"]).get_data(as_text=True)
    unticked = post(admin, "/inspectorate/admin/keys/rotate")
    assert unticked.status_code == 400  # a click alone does not sign everyone out
    rotated = post(admin, "/inspectorate/admin/keys/rotate", {"confirm": "y"})
    assert rotated.status_code == 303 and rotated.headers["Location"].endswith("/login")
    assert admin.get("/inspectorate/").status_code == 303  # every staff session ended

    after_code, _ = submit_report(client)
    live = all_reports(app)
    assert [report.tracking_code for report in live] == [before_code, after_code]
    # Nothing live opens with the key from the old backup: not the new report, and not
    # the old one either (its data key was re-sealed to the new key).
    assert not any(opens(stolen, report) for report in live)
    # The live database holds nothing the departed password opens.
    with app.app_context():
        row = staff.find_by_email(departing.email)
        assert row.sealed_inspectorate_key is None and row.wrapped_member_key is None
        assert row.wrapped_private_key is None and row.public_key is None
        with pytest.raises(staff.WrongPassword):
            staff.unlock(row, departing.password)
    # Staying members open everything with their unchanged password, and so does the
    # recovery key.
    with app.app_context():
        new_key, _ = staff.unlock(staff.find_by_email(staying.email), staying.password)
        recovered = setup_service.private_key_from_recovery(
            app.config["TEST_INSTANCE"].recovery_key
        )
        key_row = db.session.scalars(db.select(InspectorateKey)).one()
        assert key_row.generation == 2
        assert crypto.public_key_of(new_key) == key_row.public_key
    assert new_key == recovered and new_key != stolen
    assert all(opens(new_key, report) for report in live)
    # The new public key is pinned, so reports keep being accepted.
    pin = app.config["TEST_INSTANCE"].folder / "inspectorate_public_key"
    assert bytes.fromhex(pin.read_text().strip()) == crypto.public_key_of(new_key)
    browser = app.test_client()
    assert staff_login(app, browser, staying).status_code == 303
    assert browser.get(f"/inspectorate/reports/{after_code}").status_code == 200


def test_onboarding_needs_nobodys_password_and_each_member_has_own_pair(app):
    first, second = make_staff(app), make_staff(app)
    with app.app_context():
        rows = [staff.find_by_email(account.email) for account in (first, second)]
        assert rows[0].public_key != rows[1].public_key
        assert all(row.wrapped_private_key is None for row in rows)
        keys = [
            staff.unlock(row, account.password)[0]
            for row, account in zip(rows, (first, second), strict=True)
        ]
        assert keys[0] == keys[1]


def test_a_pre_key_pair_member_migrates_at_sign_in(app, client):
    account = make_staff(app)
    code, _ = submit_report(client)
    with app.app_context():  # what an account from before per-member key pairs looks like
        member = staff.find_by_email(account.email)
        private_key = setup_service.private_key_from_recovery(
            app.config["TEST_INSTANCE"].recovery_key
        )
        wrapping = crypto.password_keys(
            account.password,
            member.password_salt,
            crypto.KdfParams.decode(member.password_kdf),
            slots=SLOTS,
        ).wrapping_key
        member.wrapped_private_key = crypto.encrypt(
            wrapping, private_key, f"staff/key/{member.email}".encode()
        )
        member.public_key = member.wrapped_member_key = member.sealed_inspectorate_key = None
        db.session.commit()
    browser = app.test_client()
    assert staff_login(app, browser, account).status_code == 303
    with app.app_context():
        member = db.session.scalars(db.select(Staff).where(Staff.email == account.email)).one()
        assert member.wrapped_private_key is None and member.public_key is not None
        assert staff.unlock(member, account.password)[0] == private_key
    assert browser.get(f"/inspectorate/reports/{code}").status_code == 200


def test_a_pre_rotation_instance_rotates_first_from_the_shell(app, client, runner):
    recovery_key = app.config["TEST_INSTANCE"].recovery_key
    with app.app_context():  # recovery as instances set up before rotation had it
        row = db.session.scalars(db.select(InspectorateKey)).one()
        private_key = setup_service.private_key_from_recovery(recovery_key)
        row.recovery_wrapped = crypto.encrypt(
            setup_service.recovery_wrapping_key(recovery_key, row.recovery_salt),
            private_key,
            b"inspectorate/recovery",
        )
        row.recovery_public_key = row.recovery_sealed = None
        db.session.commit()
        assert setup_service.private_key_from_recovery(recovery_key) == private_key
    code, receipt = submit_report(client)
    admin = app.test_client()
    assert staff_login(app, admin, admin_account(app)).status_code == 303
    refused = admin.post(
        "/inspectorate/admin/keys/rotate",
        data={"csrf_token": csrf_token(admin, STAFF_PAGE), "confirm": "y"},
    )
    assert refused.status_code == 409
    assert runner.invoke(args=["keys", "rotate"], input="WRONG-KEY\n").exit_code != 0
    result = runner.invoke(args=["keys", "rotate"], input=recovery_key + "\n")
    assert result.exit_code == 0, result.output
    assert "1 reports re-sealed" in result.output
    with app.app_context():
        new_key = setup_service.private_key_from_recovery(recovery_key)
        assert new_key != private_key
        report = reports.find(code)
        assert opens(new_key, report) and not opens(private_key, report)
        # The reporter's own copy (under the receipt) is untouched.
        reports.key_from_receipt(report, receipt)
    assert submit_report(client)[0]
