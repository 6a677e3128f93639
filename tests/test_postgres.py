"""The same report journey on PostgreSQL, the production database: SQL stays portable."""

import pytest
from sqlalchemy import text

from portal.extensions import db
from portal.services import reports
from portal.services import setup as setup_service
from tests.helpers import ADMIN_EMAIL, ADMIN_PASSWORD, VALID_JSON, make_app, submit_report

MARKER = "PGMARKER-4f1e"


@pytest.fixture
def pg_app(instance_folder, postgres_url):
    app = make_app(instance_folder, SQLALCHEMY_DATABASE_URI=postgres_url)
    with app.app_context():
        setup_service.initialise(admin_email=ADMIN_EMAIL, admin_password=ADMIN_PASSWORD)
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def test_report_journey_on_postgres(pg_app):
    assert pg_app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql+psycopg://")
    client = pg_app.test_client()
    code, receipt = submit_report(client, chronology=f"{MARKER} the broker asked for money.")
    api = client.post("/api/v1/reports", json={**VALID_JSON, "contact": MARKER})
    assert api.status_code == 201
    status = client.get(f"/api/v1/reports/{code.lower()}")
    assert status.status_code == 200
    assert status.get_json()["timeline"][0]["status"] == "received"
    with pg_app.app_context():
        report = reports.find(code)
        opened = reports.open_report(report, reports.key_from_receipt(report, receipt))
        assert opened.content.chronology.startswith(MARKER)
        # No column of any table holds the marker or the receipt in clear.
        for table in db.metadata.sorted_tables:
            rows = db.session.execute(text(f'SELECT CAST(t AS TEXT) FROM "{table.name}" t'))
            dump = " ".join(row[0] for row in rows)
            assert MARKER not in dump
            assert receipt not in dump
            assert MARKER.encode().hex() not in dump
