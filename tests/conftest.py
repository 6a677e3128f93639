"""Fixtures: an initialised instance per test (one setup per session, copied), clients.

Helpers (form filling, staff sign-in, gateway keys) live in tests/helpers/; import them
from there. Settings for one test, class or module: `@pytest.mark.app_config(...)`
(or `pytestmark = pytest.mark.app_config(...)`); see `app_config` below.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from portal import schema
from tests.helpers import (
    POSTGRES_ADMIN_URL,
    SETUP_SETTINGS,
    Instance,
    StaffAccount,
    copy_database,
    copy_instance,
    initialise,
    make_app,
    make_staff,
    release,
    staff_login,
    submit_report,
)


@pytest.fixture
def instance_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh instance folder, selected the way operators select one."""
    folder = tmp_path / "instance"
    monkeypatch.setenv("PORTAL_INSTANCE", str(folder))
    return folder


@pytest.fixture
def app_config(request: pytest.FixtureRequest) -> dict[str, Any]:
    """The settings of this test's app: its `app_config` markers, the closest winning.

    `@pytest.mark.app_config(RATELIMIT_REPORT_SUBMIT="2 per hour")` on a test, a class or
    a module (`pytestmark`), or `pytest.param(..., marks=pytest.mark.app_config(...))`;
    a marker takes keyword settings and/or dicts of them. A setting only known at run
    time (the port of a server another fixture started) is given as a callable, called
    with the test's `request`: `NOTIFY_SMTP_PORT=lambda request: request.getfixturevalue(
    "sink").port`.
    """
    settings: dict[str, Any] = {}
    for marker in reversed(list(request.node.iter_markers("app_config"))):
        for given in marker.args:
            settings.update(given)
        settings.update(marker.kwargs)
    return {name: value(request) if callable(value) else value for name, value in settings.items()}


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


@pytest.fixture(scope="session")
def initialised_instance(
    tmp_path_factory: pytest.TempPathFactory, migrated_database: Path
) -> Iterator[Instance]:
    """An instance folder after `flask setup`, made once per session; tests get copies."""
    folder = tmp_path_factory.mktemp("initialised") / "instance"
    with pytest.MonkeyPatch.context() as monkey:
        monkey.setenv("PORTAL_INSTANCE", str(folder))
        copy_database(migrated_database, folder)
        application = make_app(folder)
        made = initialise(application, folder)
        release(application)
    yield made


@pytest.fixture
def app(
    request: pytest.FixtureRequest,
    instance_folder: Path,
    app_config: dict[str, Any],
    migrated_database: Path,
) -> Iterator[Flask]:
    """An initialised portal on its own SQLite database, made by the migrations.

    A copy of the session's initialised instance, unless the test changes a setting
    setup reads (SETUP_SETTINGS): then setup runs for this test alone.
    """
    if SETUP_SETTINGS.isdisjoint(app_config):
        made = copy_instance(request.getfixturevalue("initialised_instance"), instance_folder)
        application = make_app(instance_folder, **app_config)
    else:
        copy_database(migrated_database, instance_folder)
        application = make_app(instance_folder, **app_config)
        made = initialise(application, instance_folder)
    application.config["TEST_INSTANCE"] = made
    yield application
    release(application)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A browser-like client without JavaScript (it keeps its CSRF token per session)."""
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> Any:
    """The CLI runner."""
    return app.test_cli_runner()


@pytest.fixture
def file_report(client: FlaskClient) -> Callable[..., tuple[str, str]]:
    """Factory: file a report through the HTML form with field overrides."""

    def _file(**overrides: str) -> tuple[str, str]:
        return submit_report(client, **overrides)

    return _file


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for one test (a random name), dropped afterwards."""
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


@pytest.fixture
def staff_client(app: Flask) -> Callable[..., FlaskClient]:
    """Factory: a fresh browser signed in as a new member of `role` (or as `account`)."""

    def _client(role: str = "investigator", account: StaffAccount | None = None) -> FlaskClient:
        browser = app.test_client()
        response = staff_login(app, browser, account or make_staff(app, role))
        assert response.status_code == 303, response.get_data(as_text=True)
        return browser

    return _client
