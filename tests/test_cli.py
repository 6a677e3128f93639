"""`flask setup`: one-time secrets, refusal on an initialised instance, --force."""

import base64
import json

from portal.extensions import db
from portal.models import InspectorateKey, Report, Staff
from portal.services import staff
from portal.services.setup import private_key_from_recovery
from tests.helpers import make_app, submit_report

PASSWORD = "a long operator password"


def test_setup_prints_secrets_once_as_json(instance_folder):
    app = make_app(instance_folder)
    result = app.test_cli_runner().invoke(
        args=["setup", "--admin-email", "Kepala@Inspektorat.example", "--json"],
        input=PASSWORD + "\n",
    )
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)  # the JSON; log lines go to stderr
    assert set(printed) == {"admin_email", "totp_secret", "recovery_key", "public_key_fingerprint"}
    assert printed["admin_email"] == "kepala@inspektorat.example"
    assert len(base64.b32decode(printed["totp_secret"])) == 20
    with app.app_context():
        member = db.session.scalars(db.select(Staff)).one()
        assert member.role == "admin"
        private_key, totp_secret = staff.unlock(member, PASSWORD)
        assert base64.b32encode(totp_secret).decode() == printed["totp_secret"]
        assert private_key_from_recovery(printed["recovery_key"]) == private_key
        assert db.session.scalars(db.select(InspectorateKey)).one().public_key


def test_setup_refuses_an_initialised_instance(app, client, runner):
    submit_report(client)
    result = runner.invoke(args=["setup"], input=PASSWORD + "\n")
    assert result.exit_code != 0
    assert "--force" in result.output
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(Report.id))) == 1
    # --if-needed is the quiet form used by `make run`.
    assert runner.invoke(args=["setup", "--if-needed"]).exit_code == 0


def test_setup_force_starts_over(app, client, runner):
    submit_report(client)
    result = runner.invoke(
        args=["setup", "--force", "--discard-reports", "--json"], input=PASSWORD + "\n"
    )
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(Report.id))) == 0
        assert db.session.scalar(db.select(db.func.count(InspectorateKey.id))) == 1


def test_setup_refuses_a_short_password(instance_folder):
    app = make_app(instance_folder)
    result = app.test_cli_runner().invoke(args=["setup"], input="short\n")
    assert result.exit_code != 0
    assert "12 characters" in result.output


def test_setup_can_generate_a_one_time_password(instance_folder):
    app = make_app(instance_folder)
    result = app.test_cli_runner().invoke(args=["setup", "--generate-password", "--json"])
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)  # the JSON; log lines go to stderr
    with app.app_context():
        member = db.session.scalars(db.select(Staff)).one()
        assert member.must_change_password
        staff.unlock(member, printed["admin_password"])
