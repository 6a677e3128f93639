"""`GET /healthz`: what a load balancer sees when the server can serve, and when it cannot."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from sqlalchemy import text

from portal.extensions import db
from tests.helpers import copy_database, make_app
from tests.helpers.ports import _free_port
from tests.helpers.servers import ROOT

CHECKS = {"database", "schema", "inspectorate_key"}


def _assert_plain(response) -> None:
    """No cookie, no caching, JSON with nothing but the named checks."""
    assert "Set-Cookie" not in response.headers
    assert response.headers["Cache-Control"] == "no-store"
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"status", "checks"}
    assert set(body["checks"]) == CHECKS


def test_healthy_instance_answers_200(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    _assert_plain(response)
    assert response.get_json() == {
        "status": "ok",
        "checks": {"database": "ok", "schema": "ok", "inspectorate_key": "ok"},
    }
    assert client.head("/healthz").status_code == 200


def test_healthz_says_nothing_private(app, client, file_report):
    code, receipt = file_report()
    text_body = client.get("/healthz").get_data(as_text=True)
    for secret in (code, receipt, app.config["SQLALCHEMY_DATABASE_URI"], "0001_baseline"):
        assert secret not in text_body


@pytest.mark.app_config({"RATELIMIT_DEFAULT": "3 per minute"})
def test_healthz_is_exempt_from_the_default_rate_limit(client):
    for _ in range(10):
        assert client.get("/healthz").status_code == 200
    # The same limit does hold for pages.
    assert [client.get("/").status_code for _ in range(4)][-1] == 429


def test_schema_not_at_head_answers_503(app, client):
    # Another server has migrated the database to a newer release: this one must drain.
    with app.app_context():
        db.session.execute(text("UPDATE alembic_version SET version_num = '9999_newer'"))
        db.session.commit()
    response = client.get("/healthz")
    assert response.status_code == 503
    _assert_plain(response)
    assert response.get_json() == {
        "status": "fail",
        "checks": {"database": "ok", "schema": "fail", "inspectorate_key": "ok"},
    }


def test_missing_inspectorate_key_answers_503(instance_folder, migrated_database):
    copy_database(migrated_database, instance_folder)  # migrated, never set up
    app = make_app(instance_folder)
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["checks"] == {
        "database": "ok",
        "schema": "ok",
        "inspectorate_key": "fail",
    }
    with app.app_context():
        db.engine.dispose()


def test_unreachable_database_answers_503(instance_folder):
    port = _free_port()  # nothing listens there
    app = make_app(
        instance_folder,
        SQLALCHEMY_DATABASE_URI=f"postgresql+psycopg://portal@127.0.0.1:{port}/portal"
        "?connect_timeout=3",
    )
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    _assert_plain(response)
    assert response.get_json()["checks"] == {
        "database": "fail",
        "schema": "unknown",
        "inspectorate_key": "unknown",
    }
    assert str(port) not in response.get_data(as_text=True)


def test_real_server_at_head_starts_and_is_healthy(tmp_path: Path):
    folder = tmp_path / "instance"
    env = {**os.environ, "PORTAL_INSTANCE": str(folder)}
    env.pop("DATABASE_URL", None)
    bin_dir = Path(sys.executable).parent
    # As `make run` does: setup (which migrates), then gunicorn.
    setup = subprocess.run(  # noqa: S603
        [str(bin_dir / "flask"), "--app", "wsgi", "setup", "--if-needed", "--generate-password"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert setup.returncode == 0, setup.stderr
    port = _free_port()
    log = (tmp_path / "server.log").open("w")
    server = subprocess.Popen(  # noqa: S603
        [
            str(bin_dir / "gunicorn"),
            "-c",
            "gunicorn.conf.py",
            "--workers",
            "1",
            "--bind",
            f"127.0.0.1:{port}",
            "wsgi:app",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, (tmp_path / "server.log").read_text()
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as r:
                    status, headers, body = r.status, r.headers, json.loads(r.read())
                break
            # TimeoutError too: the master accepts the connection while the worker still
            # boots (several seconds on a loaded machine); retry within the deadline.
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                assert time.monotonic() < deadline, "the server did not answer within 60 s"
                time.sleep(0.2)
        assert status == 200
        assert body["status"] == "ok"
        assert headers.get("Set-Cookie") is None
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)
        log.close()
