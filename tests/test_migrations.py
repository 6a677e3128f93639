"""Schema migrations on SQLite and PostgreSQL: head equals the models, upgrades keep data,
old instances are adopted or refused, and a server will not start on a database behind head.
"""

from __future__ import annotations

import base64
import datetime
import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Column, MetaData, String, create_engine, inspect, text
from sqlalchemy.engine import Engine

from portal import schema
from portal.extensions import db
from portal.models import Attachment, Message, PortalSession, Report, StatusChange
from portal.services import evidence_store, inbox, reports, staff
from portal.services import setup as setup_service
from tests.helpers import TEST_KDF, make_app, submit_report
from tests.helpers.ports import _free_port

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = Path(__file__).with_name("fixtures") / "baseline_instance.json"
SERVER_TIMEOUT = 60  # seconds a refused server may take to exit, on a busy machine

# A later revision as a developer would write one: on SQLite, batch mode rebuilds the
# report table (copy, drop the old one, rename), the step that would cascade-delete
# every message and attachment if foreign keys stayed on.
LATER_REVISION = '''"""Widen report.referral_reference (test only)."""

import sqlalchemy as sa
from alembic import op

revision = "0002_test_widen"
down_revision = "0001_baseline"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("report") as batch:
        batch.alter_column(
            "referral_reference", existing_type=sa.String(80), type_=sa.String(120)
        )


def downgrade():
    with op.batch_alter_table("report") as batch:
        batch.alter_column(
            "referral_reference", existing_type=sa.String(120), type_=sa.String(80)
        )
'''


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database of each engine the portal runs on."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'portal.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """An engine on that database, disposed afterwards."""
    made = create_engine(database_url)
    yield made
    made.dispose()


@pytest.fixture
def later_migrations(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """This code's migrations plus one later revision, as the next release would ship."""
    directory = tmp_path / "migrations"
    shutil.copytree(
        schema.MIGRATIONS_DIRECTORY, directory, ignore=shutil.ignore_patterns("__pycache__")
    )
    # The next release's revision follows whatever this code's head is.
    later = LATER_REVISION.replace(
        'down_revision = "0001_baseline"', f'down_revision = "{schema.head_revision()}"'
    )
    (directory / "versions" / "0002_test_widen.py").write_text(later)
    monkeypatch.setattr(schema, "MIGRATIONS_DIRECTORY", directory)
    return directory


def differences(engine: Engine, metadata: MetaData) -> list[Any]:
    """What autogenerate would write to make the database match `metadata`."""
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts=schema.CONTEXT_OPTIONS)
        return list(compare_metadata(context, metadata))


def state(engine: Engine) -> schema.SchemaState:
    """The database's schema state."""
    with engine.connect() as connection:
        return schema.status(connection).state


def _decode(value: Any) -> Any:
    """A column value from the fixture's JSON."""
    if isinstance(value, dict):
        (kind, text_value), *_ = value.items()
        if kind == "bytes":
            return base64.b64decode(text_value)
        if kind == "datetime":
            return datetime.datetime.fromisoformat(text_value)
        return datetime.date.fromisoformat(text_value)
    return value


def load_baseline_instance(engine: Engine, *, stamp: bool = True) -> dict[str, Any]:
    """Fill the database with the instance the baseline release left (no revision if not stamp).

    With `stamp`, the tables are made by the baseline revision; without, by `create_all`
    of the baseline models, as the code before migrations did.
    """
    document: dict[str, Any] = json.loads(FIXTURE.read_text())
    metadata = schema.baseline_metadata()
    if stamp:
        schema.upgrade(engine, schema.BASELINE_REVISION)
    else:
        metadata.create_all(engine)
    with engine.begin() as connection:
        for table in metadata.sorted_tables:
            rows = [
                {key: _decode(value) for key, value in row.items()}
                for row in document["tables"][table.name]
            ]
            if rows:
                connection.execute(table.insert(), rows)
        if connection.dialect.name == "postgresql":
            # Rows came with their ids: new rows must continue after them.
            for table in metadata.sorted_tables:
                if "id" in table.c:
                    connection.execute(
                        text(
                            f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                            f'max(id)) FROM "{table.name}" HAVING max(id) IS NOT NULL'
                        )
                    )
    return document


def assert_instance_opens(app: Any, document: dict[str, Any]) -> None:
    """Every report opens with its receipt, evidence and messages decrypt, staff sign in."""
    with app.app_context():
        bodies = []
        for filed in document["reports"]:
            report = reports.find(filed["tracking_code"])
            assert report is not None, filed["tracking_code"]
            key = reports.key_from_receipt(report, filed["receipt"])
            assert reports.open_report(report, key).content.chronology
            for info in evidence_store.evidence_list(report, key):
                opened = evidence_store.open_evidence(report, key, info.id)
                assert opened is not None
                assert opened.data.startswith(b"\xff\xd8")  # still the re-encoded JPEG
            bodies += [message.body for message in inbox.conversation(report, key)]
        assert document["staff_message"] in bodies
        assert db.session.scalar(db.select(db.func.count(Attachment.id))) == 1
        assert db.session.scalar(db.select(db.func.count(Message.id))) == 1
        assert db.session.scalar(db.select(db.func.count(StatusChange.id))) == 3
        assert db.session.scalar(db.select(db.func.count(PortalSession.id))) == 1
        for account in (document["admin"], document["investigator"]):
            member = staff.find_by_email(account["email"])
            private_key, _totp = staff.unlock(member, account["password"])
            assert private_key == setup_service.private_key_from_recovery(document["recovery_key"])
    # The portal itself still works on it: a new report is filed and signs in.
    client = app.test_client()
    code, receipt = submit_report(client)
    with app.app_context():
        report = reports.find(code)
        assert reports.open_report(report, reports.key_from_receipt(report, receipt))


def portal_app(folder: Path, url: str) -> Any:
    """The portal on `url` with cheap KDFs (the fixture was made with TEST_KDF)."""
    assert TEST_KDF
    return make_app(folder, SQLALCHEMY_DATABASE_URI=url)


def dispose(app: Any) -> None:
    """Close the app's connections (PostgreSQL drops the database after the test)."""
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


# -- head equals the models -------------------------------------------------------------


def test_upgrade_of_an_empty_database_gives_exactly_the_models(engine):
    assert state(engine) is schema.SchemaState.EMPTY
    schema.upgrade(engine)
    assert state(engine) is schema.SchemaState.AT_HEAD
    # A model changed without a migration fails here: autogenerate would find it.
    assert differences(engine, db.metadata) == []


def test_the_comparison_sees_a_model_change_without_migration(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'portal.db'}")
    try:
        schema.upgrade(engine)
        changed = MetaData(naming_convention=db.metadata.naming_convention)
        for table in db.metadata.sorted_tables:
            table.to_metadata(changed)
        changed.tables["report"].append_column(Column("district", String(40)))
        found = differences(engine, changed)
        assert [(d[0], d[2], d[3].name) for d in found] == [("add_column", "report", "district")]
    finally:
        engine.dispose()


def test_downgrade_to_base_and_up_again(engine):
    schema.upgrade(engine)
    schema.downgrade(engine, "base")
    with engine.connect() as connection:
        assert set(inspect(connection).get_table_names()) == {schema.VERSION_TABLE}
        assert schema.status(connection).state is schema.SchemaState.EMPTY
    schema.upgrade(engine)
    assert differences(engine, db.metadata) == []


def test_a_failed_migration_leaves_nothing_half_done(engine, later_migrations):
    # The later revision fails halfway: nothing it did before failing stays.
    path = later_migrations / "versions" / "0002_test_widen.py"
    path.write_text(
        path.read_text().replace(
            '            "referral_reference", existing_type=sa.String(80), type_=sa.String(120)\n'
            "        )\n",
            '            "referral_reference", existing_type=sa.String(80), type_=sa.String(120)\n'
            "        )\n"
            '    op.create_table("scratch", sa.Column("id", sa.Integer, primary_key=True))\n'
            '    op.execute("SELECT no_such_column FROM scratch")\n',
        )
    )
    schema.upgrade(engine, schema.BASELINE_REVISION)
    with pytest.raises(Exception, match="no_such_column"):
        schema.upgrade(engine)
    with engine.connect() as connection:
        assert schema.current_revision(connection) == schema.BASELINE_REVISION
        assert "scratch" not in inspect(connection).get_table_names()
    assert differences(engine, schema.baseline_metadata()) == []


def test_servers_migrating_at_the_same_moment_migrate_once(database_url):
    # Several app servers run `setup --if-needed` together after a deploy.
    engines = [create_engine(database_url) for _ in range(4)]
    barrier = threading.Barrier(len(engines))
    found: list[schema.SchemaState] = []
    failures: list[BaseException] = []

    def migrate(engine: Engine) -> None:
        try:
            barrier.wait(timeout=30)
            found.append(schema.bring_to_head(engine).state)
        except BaseException as error:  # reported below, in the test's own thread
            failures.append(error)

    threads = [threading.Thread(target=migrate, args=(engine,)) for engine in engines]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert not any(thread.is_alive() for thread in threads)
        assert failures == []
        # One found the database empty and migrated it; the others waited and found it done.
        assert sorted(found) == sorted(
            [schema.SchemaState.EMPTY] + [schema.SchemaState.AT_HEAD] * (len(engines) - 1)
        )
        assert differences(engines[0], db.metadata) == []
    finally:
        for engine in engines:
            engine.dispose()


# -- instances made by the baseline release ---------------------------------------------


def test_baseline_instance_with_data_upgrades_and_every_report_opens(
    engine, database_url, instance_folder
):
    document = load_baseline_instance(engine)
    app = portal_app(instance_folder, database_url)
    try:
        result = app.test_cli_runner().invoke(args=["setup", "--if-needed"])
        assert result.exit_code == 0, result.output
        assert state(engine) is schema.SchemaState.AT_HEAD
        assert_instance_opens(app, document)
    finally:
        dispose(app)


def test_a_later_revision_keeps_every_report_message_and_file(
    engine, database_url, instance_folder, later_migrations, capsys
):
    document = load_baseline_instance(engine)
    app = portal_app(instance_folder, database_url)
    try:
        # Behind head: the server refuses, naming the command that fixes it ...
        assert state(engine) is schema.SchemaState.BEHIND
        with pytest.raises(SystemExit) as refused:
            schema.refuse_to_serve_unless_at_head(app)
        assert refused.value.code == schema.REFUSE_EXIT_CODE
        (line,) = [x for x in capsys.readouterr().err.splitlines() if "will not serve" in x]
        assert "0001_baseline" in line and "0002_test_widen" in line
        assert "flask --app wsgi db upgrade" in line
        # ... which works on a database behind head, and keeps everything.
        result = app.test_cli_runner().invoke(args=["db", "upgrade"])
        assert result.exit_code == 0, result.output
        with engine.connect() as connection:
            assert schema.current_revision(connection) == "0002_test_widen"
            widened = {c["name"]: c["type"] for c in inspect(connection).get_columns("report")}
            assert widened["referral_reference"].length == 120
        schema.refuse_to_serve_unless_at_head(app)  # at head now: returns
        assert_instance_opens(app, document)
        schema.downgrade(engine, schema.BASELINE_REVISION)
        assert differences(engine, schema.baseline_metadata()) == []
    finally:
        dispose(app)


# -- instances made before migrations existed -------------------------------------------


def test_pre_migration_instance_is_detected_stamped_and_upgraded(
    engine, database_url, instance_folder, caplog
):
    # The code before migrations ran `db.create_all()` with the baseline models.
    document = load_baseline_instance(engine, stamp=False)
    with engine.connect() as connection:
        assert schema.VERSION_TABLE not in inspect(connection).get_table_names()
        assert schema.status(connection).state is schema.SchemaState.PRE_MIGRATION
        assert schema.baseline_differences(connection) == []
    app = portal_app(instance_folder, database_url)
    try:
        with pytest.raises(SystemExit):
            schema.refuse_to_serve_unless_at_head(app)
        # Plain Alembic commands would fail on the tables, or stamp without checking them.
        for command in (["db", "upgrade"], ["db", "stamp", "head"]):
            caplog.clear()
            refused = app.test_cli_runner().invoke(args=command)
            assert refused.exit_code == 1
            # Flask-Migrate logs the error (to standard error, in a terminal).
            assert "run `flask --app wsgi setup --if-needed`" in caplog.text
        with engine.connect() as connection:
            assert schema.VERSION_TABLE not in inspect(connection).get_table_names()
        result = app.test_cli_runner().invoke(args=["setup", "--if-needed"])
        assert result.exit_code == 0, result.output
        assert "stamped at 0001_baseline" in result.output
        with engine.connect() as connection:
            assert schema.status(connection).state is schema.SchemaState.AT_HEAD
        assert_instance_opens(app, document)
    finally:
        dispose(app)


def test_pre_migration_instance_unlike_the_baseline_is_refused(
    engine, database_url, instance_folder
):
    # An instance of an even older release: a column it lacked, a table it did not have,
    # a column it had that the baseline dropped.
    baseline = schema.baseline_metadata()
    baseline.create_all(engine)
    due_indexes = [i.name for i in baseline.tables["report"].indexes if "due_on" in i.columns]
    with engine.begin() as connection:
        for name in due_indexes:
            connection.execute(text(f"DROP INDEX {name}"))
        connection.execute(text("ALTER TABLE report DROP COLUMN due_on"))
        connection.execute(text("DROP TABLE stats_refresh"))
        connection.execute(text("ALTER TABLE staff ADD COLUMN nickname VARCHAR(20)"))
        connection.execute(text("CREATE TABLE city_gis (id INTEGER PRIMARY KEY)"))
    app = portal_app(instance_folder, database_url)
    try:
        result = app.test_cli_runner().invoke(args=["setup", "--if-needed"])
        assert result.exit_code == 1
        message = result.output
        assert "column report.due_on is missing" in message
        assert "table stats_refresh is missing" in message
        assert "column staff.nickname is not in the baseline" in message
        assert "city_gis" not in message  # another application's table is not ours to judge
        assert "Traceback" not in message
        # Nothing was stamped or changed.
        with engine.connect() as connection:
            assert schema.VERSION_TABLE not in inspect(connection).get_table_names()
            assert "due_on" not in {c["name"] for c in inspect(connection).get_columns("report")}
    finally:
        dispose(app)


def test_setup_force_starts_over_on_any_old_instance_and_spares_other_tables(
    engine, database_url, instance_folder
):
    load_baseline_instance(engine, stamp=False)
    with engine.begin() as connection:
        connection.execute(text("ALTER TABLE staff ADD COLUMN nickname VARCHAR(20)"))
        connection.execute(text("CREATE TABLE city_gis (id INTEGER PRIMARY KEY)"))
    app = portal_app(instance_folder, database_url)
    try:
        result = app.test_cli_runner().invoke(
            args=["setup", "--force", "--discard-reports", "--generate-password", "--json"]
        )
        assert result.exit_code == 0, result.output
        with engine.connect() as connection:
            assert schema.status(connection).state is schema.SchemaState.AT_HEAD
            assert "city_gis" in inspect(connection).get_table_names()
        left = differences(engine, db.metadata)
        assert [(d[0], d[1].name) for d in left] == [("remove_table", "city_gis")]
        with app.app_context():
            assert db.session.scalar(db.select(db.func.count(Report.id))) == 0
    finally:
        dispose(app)


def test_a_database_from_a_newer_release_is_refused(engine, database_url, instance_folder):
    schema.upgrade(engine)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '9999_newer'"))
    app = portal_app(instance_folder, database_url)
    try:
        result = app.test_cli_runner().invoke(args=["setup", "--if-needed"])
        assert result.exit_code == 1
        assert "9999_newer" in result.output and "newer release" in result.output
    finally:
        dispose(app)


def test_setup_on_a_new_instance_records_the_head_revision(engine, database_url, instance_folder):
    app = portal_app(instance_folder, database_url)
    try:
        result = app.test_cli_runner().invoke(args=["setup", "--if-needed", "--generate-password"])
        assert result.exit_code == 0, result.output
        with engine.connect() as connection:
            assert schema.status(connection).state is schema.SchemaState.AT_HEAD
        assert differences(engine, db.metadata) == []
        with app.app_context():
            assert setup_service.is_initialised()
            assert db.session.scalar(db.select(db.func.count(Report.id))) == 0
    finally:
        dispose(app)


def test_is_initialised_creates_nothing(tmp_path, instance_folder):
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    app = portal_app(instance_folder, url)
    try:
        with app.app_context():
            assert not setup_service.is_initialised()
            assert inspect(db.engine).get_table_names() == []
    finally:
        dispose(app)


# -- the real servers --------------------------------------------------------------------


def _start(server: str, folder: Path) -> subprocess.CompletedProcess[str]:
    """Start a server the way `make run` / `make dev` do; it must exit by itself."""
    bin_dir = Path(sys.executable).parent
    port = str(_free_port())
    if server == "gunicorn":
        command = [
            str(bin_dir / "gunicorn"),
            "-c",
            "gunicorn.conf.py",
            "--workers",
            "1",
            "--bind",
            f"127.0.0.1:{port}",
            "wsgi:app",
        ]
    else:
        command = [str(bin_dir / "flask"), "--app", "wsgi", "run", "--port", port]
    env = {**os.environ, "PORTAL_INSTANCE": str(folder)}
    env.pop("DATABASE_URL", None)
    return subprocess.run(  # noqa: S603  (our own servers, fixed arguments)
        command,
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=SERVER_TIMEOUT,
        check=False,
    )


@pytest.mark.parametrize("server", ["gunicorn", "flask run"])
def test_a_server_refuses_a_database_not_at_head(server, app):
    # A set-up instance (folder, key, keys in the database) whose schema a newer release made.
    folder = app.config["TEST_INSTANCE"].folder
    with app.app_context():
        db.session.execute(text("UPDATE alembic_version SET version_num = '9999_newer'"))
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    finished = _start(server, folder)
    assert finished.returncode == schema.REFUSE_EXIT_CODE, finished.stderr
    refusals = [line for line in finished.stderr.splitlines() if "will not serve" in line]
    assert refusals, finished.stderr
    assert "9999_newer" in refusals[0]
    assert "Traceback" not in finished.stderr


def test_gunicorn_refuses_an_instance_never_set_up(tmp_path):
    folder = tmp_path / "instance"
    folder.mkdir(mode=0o700)
    finished = _start("gunicorn", folder)
    assert finished.returncode == schema.REFUSE_EXIT_CODE, finished.stderr
    # portal.instance refuses first (no key, no database), and creates nothing.
    assert "not initialised" in finished.stderr and "flask --app wsgi setup`" in finished.stderr
    assert not (folder / "portal.db").exists()
