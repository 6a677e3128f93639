"""Fixtures: a fresh initialised instance per test, clients, and report helpers."""

from __future__ import annotations

import base64
import os
import re
import secrets
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from portal import create_app, instance, schema
from portal.services import setup as setup_service

# Cheap Argon2id for tests only; production costs stay in portal/config.py.
TEST_KDF = {"memory_kib": 8, "iterations": 1, "lanes": 1}
ADMIN_EMAIL = "admin@example.test"
ADMIN_PASSWORD = "correct horse battery staple"

# A complete, valid report as the HTML form sends it.
VALID_FORM = {
    "category": "pungli",
    "service": "ktp_el",
    "unit": "mpp",
    "incident_date": "2026-10-14",
    "who_asked": "broker",
    "amount_demanded": "150rb",
    "paid": "yes",
    "promised": "KTP-el jadi hari ini",
    "person_description": "Laki-laki berkemeja batik di dekat loket 3",
    "chronology": "Saya datang jam sembilan pagi, calo menawarkan KTP-el cepat dengan bayaran.",
    "contact": "",
}

# The same report as the JSON API takes it.
VALID_JSON: dict[str, Any] = {
    **{key: value for key, value in VALID_FORM.items() if key not in ("amount_demanded", "paid")},
    "amount_demanded": 150000,
    "paid": True,
}

_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
_SUBMISSION = re.compile(r'name="submission" value="([^"]*)"')
_CODE = re.compile(r'id="tracking-code">([^<]+)<')
_RECEIPT = re.compile(r'id="receipt">([^<]+)<')


@dataclass
class Instance:
    """What `flask setup` printed once for the test instance."""

    folder: Path
    recovery_key: str
    totp_secret: str


def make_app(folder: Path, **overrides: Any) -> Flask:
    """An app on SQLite in `folder` with cheap KDFs; its folder and key made as setup does."""
    config = {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder / 'portal.db'}",
        "RECEIPT_KDF": TEST_KDF,
        "PASSWORD_KDF": TEST_KDF,
        "RATELIMIT_STORAGE_URI": "memory://",
        **overrides,
    }
    application = create_app(config)
    instance.create(application)
    return application


@pytest.fixture
def instance_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh instance folder, selected the way operators select one."""
    folder = tmp_path / "instance"
    monkeypatch.setenv("PORTAL_INSTANCE", str(folder))
    return folder


@pytest.fixture
def app_config() -> dict[str, Any]:
    """Per-test config overrides; override this fixture to change settings."""
    return {}


@pytest.fixture(scope="session")
def migrated_database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite database made by the migrations once per session; each test gets a copy."""
    from sqlalchemy import create_engine

    path = tmp_path_factory.mktemp("migrated") / "portal.db"
    engine = create_engine(f"sqlite:///{path}")
    try:
        schema.upgrade(engine)
    finally:
        engine.dispose()
    return path


def copy_database(template: Path, folder: Path) -> None:
    """Put a copy of the migrated database where the instance in `folder` expects it."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    shutil.copyfile(template, folder / "portal.db")
    (folder / "portal.db").chmod(0o600)


@pytest.fixture
def app(
    instance_folder: Path, app_config: dict[str, Any], migrated_database: Path
) -> Iterator[Flask]:
    """An initialised portal on a fresh SQLite database, made by the migrations."""
    copy_database(migrated_database, instance_folder)
    application = make_app(instance_folder, **app_config)
    with application.app_context():
        result = setup_service.initialise(admin_email=ADMIN_EMAIL, admin_password=ADMIN_PASSWORD)
    application.config["TEST_INSTANCE"] = Instance(
        instance_folder, result.recovery_key, result.totp_secret
    )
    yield application
    with application.app_context():
        from portal.extensions import db

        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A browser-like client without JavaScript."""
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> Any:
    """The CLI runner."""
    return app.test_cli_runner()


def csrf_token(client: FlaskClient, url: str = "/lapor") -> str:
    """The CSRF token a page hands out, as a browser would read it from the form."""
    page = client.get(url)
    match = _CSRF.search(page.get_data(as_text=True))
    assert match, f"no CSRF token on {url}"
    return match.group(1)


def review_report(client: FlaskClient, **overrides: str) -> Any:
    """POST the form to the review step; returns the response."""
    data = {**VALID_FORM, **overrides, "csrf_token": csrf_token(client), "action": "review"}
    return client.post("/lapor", data=data)


def submit_report(client: FlaskClient, **overrides: str) -> tuple[str, str]:
    """File a report through form -> review -> send; returns (tracking code, receipt)."""
    review = review_report(client, **overrides)
    assert review.status_code == 200, review.get_data(as_text=True)
    submission = _SUBMISSION.search(review.get_data(as_text=True))
    assert submission
    data = {
        **VALID_FORM,
        **overrides,
        "csrf_token": csrf_token(client),
        "submission": submission.group(1),
    }
    sent = client.post("/lapor/kirim", data=data)
    assert sent.status_code == 201, sent.get_data(as_text=True)
    text = sent.get_data(as_text=True)
    code, receipt = _CODE.search(text), _RECEIPT.search(text)
    assert code and receipt
    return code.group(1), receipt.group(1)


@pytest.fixture
def file_report(client: FlaskClient) -> Any:
    """Factory: file a report through the HTML form with field overrides."""

    def _file(**overrides: str) -> tuple[str, str]:
        return submit_report(client, **overrides)

    return _file


# PostgreSQL is the production database; CI and this machine run one on 127.0.0.1.
POSTGRES_ADMIN_URL = os.environ.get(
    "TEST_POSTGRES_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for one test, dropped afterwards."""
    import psycopg

    name = f"lapor_test_{secrets.token_hex(6)}"
    try:
        admin = psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True)
    except psycopg.OperationalError as error:
        pytest.fail(f"PostgreSQL is needed at {POSTGRES_ADMIN_URL}: {error}")
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
        finally:
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


@dataclass
class StaffAccount:
    """A staff member the test can sign in as."""

    email: str
    password: str
    totp_secret: bytes


def admin_account(app: Flask) -> StaffAccount:
    """The first admin made by setup (enrolled, TOTP printed once)."""
    secret = base64.b32decode(app.config["TEST_INSTANCE"].totp_secret)
    return StaffAccount(ADMIN_EMAIL, ADMIN_PASSWORD, secret)


def make_staff(app: Flask, role: str = "investigator", email: str | None = None) -> StaffAccount:
    """An enrolled staff member of `role`, holding a wrapped copy of the private key."""
    from portal.extensions import db
    from portal.models import Role
    from portal.services import staff

    email = email or f"{role}-{secrets.token_hex(3)}@inspektorat.example"
    password = f"password of {email}"
    with app.app_context():
        private_key = setup_service.private_key_from_recovery(
            app.config["TEST_INSTANCE"].recovery_key
        )
        secret = staff.create_staff(
            email=email,
            role=Role(role),
            password=password,
            private_key=private_key,
            must_change_password=False,
            totp_enrolled=True,
        )
        db.session.commit()
    return StaffAccount(email, password, base64.b32decode(secret))


def totp_for(app: Flask, account: StaffAccount) -> str:
    """A TOTP code the server has not seen yet for this member (codes work once)."""
    from portal import crypto
    from portal.extensions import db
    from portal.models import Staff

    with app.app_context():
        member = db.session.scalars(db.select(Staff).where(Staff.email == account.email)).one()
        last = member.totp_last_step
    now = time.time()
    current = int(now) // crypto.TOTP_STEP_SECONDS
    step = max(last + 1, current - 1)
    assert step <= current + 1, "this member signed in more than 3 times in 30 s"
    return crypto.totp_code(account.totp_secret, step * crypto.TOTP_STEP_SECONDS)


def staff_login(app: Flask, client: FlaskClient, account: StaffAccount) -> Any:
    """Sign in on the staff side; returns the response (303 on success)."""
    token = csrf_token(client, "/inspectorate/login")
    return client.post(
        "/inspectorate/login",
        data={
            "email": account.email,
            "password": account.password,
            "code": totp_for(app, account),
            "csrf_token": token,
        },
    )


@pytest.fixture
def staff_client(app: Flask) -> Any:
    """Factory: a fresh browser signed in as a new member of `role` (or as `account`)."""

    def _client(role: str = "investigator", account: StaffAccount | None = None) -> FlaskClient:
        browser = app.test_client()
        response = staff_login(app, browser, account or make_staff(app, role))
        assert response.status_code == 303, response.get_data(as_text=True)
        return browser

    return _client


def gateway_key(app: Flask, channel: str = "api", reports_per_hour: int = 1000) -> str:
    """A trusted gateway's API key (as an admin makes one); the secret, shown once."""
    from portal.extensions import db
    from portal.models import Channel, Staff
    from portal.services import api_keys
    from portal.transaction import atomic

    with app.app_context(), atomic():
        admin = db.session.scalars(db.select(Staff).where(Staff.email == ADMIN_EMAIL)).one()
        made = api_keys.create(
            actor=admin,
            name=f"gateway {secrets.token_hex(3)}",
            channel=Channel(channel),
            reports_per_hour=reports_per_hour,
        )
        return made.secret
