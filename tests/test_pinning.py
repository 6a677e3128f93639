"""The inspectorate public key is pinned outside the database and checked before sealing."""

from __future__ import annotations

import logging
import os
import stat

from portal import crypto
from portal.extensions import db
from portal.models import InspectorateKey, Report
from tests.helpers import VALID_JSON, make_app, review_report, submit_report


def swap_public_key(app) -> None:
    """What someone with database write access would do: seal new reports to themselves."""
    _, attacker_public = crypto.generate_keypair()
    with app.app_context():
        db.session.scalars(db.select(InspectorateKey)).one().public_key = attacker_public
        db.session.commit()


def report_count(app) -> int:
    with app.app_context():
        return db.session.scalar(db.select(db.func.count()).select_from(Report))


def test_setup_pins_the_key_in_an_owner_only_file_and_prints_its_fingerprint(instance_folder):
    app = make_app(instance_folder)
    result = app.test_cli_runner().invoke(args=["setup"], input="a long operator password\n")
    assert result.exit_code == 0, result.output
    pin = instance_folder / "inspectorate_public_key"
    assert stat.S_IMODE(os.stat(pin).st_mode) == 0o600
    with app.app_context():
        public_key = db.session.scalars(db.select(InspectorateKey)).one().public_key
    assert bytes.fromhex(pin.read_text().strip()) == public_key
    assert crypto.fingerprint(crypto.PublicKey(public_key)) in result.output


def test_a_replaced_public_key_refuses_new_reports_and_logs_loudly(app, client, caplog):
    submit_report(client)
    swap_public_key(app)
    review = review_report(client)  # the form still works up to sending
    assert review.status_code == 200
    with caplog.at_level(logging.CRITICAL):
        from tests.helpers import _SUBMISSION, VALID_FORM, csrf_token

        submission = _SUBMISSION.search(review.get_data(as_text=True)).group(1)
        sent = client.post(
            "/lapor/kirim",
            data={**VALID_FORM, "csrf_token": csrf_token(client), "submission": submission},
        )
        api = client.post("/api/v1/reports", json=VALID_JSON, headers={"Accept-Language": "en"})
    assert sent.status_code == 503
    assert "Layanan" in sent.get_data(as_text=True) or "tidak tersedia" in sent.get_data(
        as_text=True
    )
    assert api.status_code == 503 and api.get_json()["error"]["code"] == "unavailable"
    assert "cannot accept reports" in api.get_json()["error"]["message"]
    assert report_count(app) == 1  # nothing was sealed to the attacker
    alarms = [record for record in caplog.records if record.levelno == logging.CRITICAL]
    assert alarms and "not the pinned one" in alarms[0].getMessage()


def test_an_instance_from_before_pinning_pins_its_key_at_the_first_report(app, client, caplog):
    pin = app.config["TEST_INSTANCE"].folder / "inspectorate_public_key"
    pin.unlink()
    with caplog.at_level(logging.WARNING):
        submit_report(client)
    assert pin.exists()
    assert any("pinned the inspectorate public key" in r.getMessage() for r in caplog.records)
    swap_public_key(app)
    assert client.post("/api/v1/reports", json=VALID_JSON).status_code == 503
