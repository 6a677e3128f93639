"""Faults: a killed server loses no acknowledged report; a dead or full database acks nothing."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from portal.extensions import db
from portal.identifiers import Receipt, TrackingCode
from portal.models import Report
from portal.services import reports
from portal.services import setup as setup_service
from tests.helpers import ADMIN_EMAIL, ADMIN_PASSWORD, TEST_KDF, VALID_FORM, VALID_JSON, make_app

ROOT = Path(__file__).resolve().parent.parent
UNAVAILABLE = "Layanan sedang tidak tersedia. Silakan coba lagi nanti."


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def post_report(port: int) -> tuple[int, dict[str, Any] | None]:
    """One JSON report; (status, body) — status 0 when the connection failed."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/v1/reports",
        data=json.dumps(VALID_JSON).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, None
    except (OSError, ValueError, http.client.HTTPException):
        # The server died mid-answer: the client holds no acknowledgement.
        return 0, None


def test_sigkill_under_load_loses_no_acknowledged_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "instance"
    folder.mkdir()
    monkeypatch.setenv("PORTAL_INSTANCE", str(folder))  # the app below makes its key here
    (folder / "config.py").write_text(
        f"RECEIPT_KDF = {TEST_KDF!r}\nPASSWORD_KDF = {TEST_KDF!r}\n"
        'RATELIMIT_REPORT_SUBMIT = "100000 per hour"\nRATELIMIT_DEFAULT = "100000 per minute"\n'
    )
    env = {**os.environ, "PORTAL_INSTANCE": str(folder)}
    app = make_app(folder, SQLALCHEMY_DATABASE_URI=f"sqlite:///{folder / 'portal.db'}")
    with app.app_context():
        recovery_key = setup_service.initialise(
            admin_email=ADMIN_EMAIL, admin_password=ADMIN_PASSWORD
        ).recovery_key
        db.engine.dispose()
    port = free_port()
    server = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
        [
            sys.executable,
            "-m",
            "gunicorn",
            "-c",
            str(ROOT / "gunicorn.conf.py"),
            "--bind",
            f"127.0.0.1:{port}",
            # As `make run` serves: one process, threads (several workers need shared
            # rate-limit storage, and gunicorn.conf.py refuses them on memory://).
            "--workers",
            "1",
            "--threads",
            "8",
            "wsgi:app",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    acknowledged: list[tuple[str, str]] = []
    lock = threading.Lock()
    stop = threading.Event()

    def load() -> None:
        while not stop.is_set():
            status, body = post_report(port)
            if status == 201 and body:
                with lock:
                    acknowledged.append((body["tracking_code"], body["receipt"]))

    try:
        deadline = time.monotonic() + 30
        while post_report(port)[0] != 201:  # up and filing
            assert time.monotonic() < deadline, "the server did not start"
            assert server.poll() is None, server.stderr.read() if server.stderr else ""
            time.sleep(0.2)
        workers = [threading.Thread(target=load, daemon=True) for _ in range(6)]
        for worker in workers:
            worker.start()
        time.sleep(3)
        # SIGKILL the whole process group: master and workers die mid-request.
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=10)
    finally:
        stop.set()
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=10)
        if server.stderr:
            server.stderr.close()
    for worker in workers:
        worker.join(timeout=15)
    assert len(acknowledged) >= 5, "the load produced too few reports to prove anything"
    print(f"acknowledged before SIGKILL: {len(acknowledged)}")

    connection = sqlite3.connect(folder / "portal.db")
    try:
        assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        bare = connection.execute(
            "SELECT count(*) FROM report WHERE id NOT IN (SELECT report_id FROM status_change)"
        ).fetchone()
        assert bare == (0,), "a report was left without its history"
    finally:
        connection.close()
    with app.app_context():
        for code, receipt in acknowledged:
            report = reports.find(TrackingCode(code))
            assert report is not None, f"acknowledged {code} was lost"
            key = reports.key_from_receipt(report, Receipt(receipt))
            assert reports.open_report(report, key).content.chronology == VALID_JSON["chronology"]
        # Every stored report opens with the inspectorate key too (none half-written).
        private_key = setup_service.private_key_from_recovery(recovery_key)
        for report in db.session.scalars(db.select(Report)):
            data_key = reports.key_from_private_key(report, private_key)
            reports.open_report(report, data_key)
        db.engine.dispose()


def test_an_unreachable_database_gives_a_translated_503_and_acknowledges_nothing(
    tmp_path: Path, monkeypatch
) -> None:
    folder = tmp_path / "instance"
    monkeypatch.setenv("PORTAL_INSTANCE", str(folder))
    # Nothing listens on port 1: every connection is refused at once.
    app = make_app(
        folder,
        SQLALCHEMY_DATABASE_URI="postgresql://postgres@127.0.0.1:1/lapor",
        WTF_CSRF_ENABLED=False,
    )
    client = app.test_client()
    page = client.post("/lapor/kirim", data=VALID_FORM)
    assert page.status_code == 503
    text = page.get_data(as_text=True)
    assert UNAVAILABLE in text
    assert 'id="receipt"' not in text and 'id="tracking-code"' not in text
    api = client.post("/api/v1/reports", json=VALID_JSON)
    assert api.status_code == 503
    body = api.get_json()
    assert body["error"]["code"] == "service_unavailable"
    assert "receipt" not in body and "tracking_code" not in body
    english = client.post("/api/v1/reports", json=VALID_JSON, headers={"Accept-Language": "en"})
    assert "not available right now" in english.get_json()["error"]["message"]
    assert client.get("/status/SRG-AAAA-BBBB-CC").status_code == 503


def test_a_full_disk_gives_a_503_and_stores_nothing(app, client) -> None:
    """SQLite's 'database or disk is full', made real with a page budget the file has used up."""
    with app.app_context():
        engine = db.engine
        before = db.session.scalar(db.select(db.func.count(Report.id)))
        pages = db.session.execute(db.text("PRAGMA page_count")).scalar_one()
        db.session.remove()
        engine.dispose()

    def full(connection: Any, _record: Any) -> None:
        connection.execute(f"PRAGMA max_page_count = {int(pages)}")

    event.listen(engine, "connect", full)
    try:
        api = client.post(
            "/api/v1/reports", json={**VALID_JSON, "chronology": "x" * 9000 + " calo di loket"}
        )
        assert api.status_code == 503
        assert "receipt" not in api.get_json()
    finally:
        event.remove(engine, "connect", full)
        with app.app_context():
            db.session.remove()
            engine.dispose()
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(Report.id))) == before
        assert db.session.execute(db.text("PRAGMA integrity_check")).scalar_one() == "ok"
