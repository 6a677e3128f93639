"""Backups that restore: consistent while serving, no sessions, checked, and every report opens."""

from __future__ import annotations

import io
import os
import secrets
import shutil
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from portal.extensions import db
from portal.models import AuditEntry, PortalSession, Report
from portal.services import audit, reports, staff
from portal.services import setup as setup_service
from portal.transaction import atomic
from tests.helpers import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    POSTGRES_ADMIN_URL,
    csrf_token,
    make_app,
    submit_report,
)
from tests.helpers.backup import take_backup
from tests.helpers.cases import sign_in_inbox
from tests.helpers.evidence import phone_jpeg

CHRONOLOGIES = ("BACKUPCHRONO-A: calo di loket 2.", "BACKUPCHRONO-B: petugas minta Rp 50.000.")


_RECEIPTS: dict[str, str] = {}


@pytest.fixture
def filed(app, client) -> list[str]:
    codes = []
    for chronology in CHRONOLOGIES:
        code, receipt = submit_report(client, chronology=chronology, contact="0812 BACKUP")
        codes.append(code)
        _RECEIPTS[code] = receipt
    reporter = sign_in_inbox(app, codes[0], _RECEIPTS[codes[0]])
    uploaded = reporter.post(
        "/kotak-masuk/bukti",
        data={
            "csrf_token": csrf_token(reporter, "/kotak-masuk"),
            "evidence": [(io.BytesIO(phone_jpeg()), "IMG_2.jpg")],
        },
        content_type="multipart/form-data",
    )
    assert uploaded.status_code in (200, 303)
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(PortalSession)) >= 1
    return codes


def fresh_app(tmp_path: Path, name: str, audit_key_from: Path | None, **config):
    folder = tmp_path / name
    folder.mkdir()
    if audit_key_from is not None:
        shutil.copy(audit_key_from / "audit_key", folder / "audit_key")
    # Another server: its own instance folder (the app reads PORTAL_INSTANCE when made).
    previous = os.environ.get("PORTAL_INSTANCE")
    os.environ["PORTAL_INSTANCE"] = str(folder)
    try:
        application = make_app(folder, **config)
    finally:
        if previous is None:
            os.environ.pop("PORTAL_INSTANCE", None)
        else:
            os.environ["PORTAL_INSTANCE"] = previous
    assert Path(application.instance_path) == folder
    return application, folder


def opens_everything(app, codes: list[str], recovery_key: str) -> None:
    """Every report opens with the admin's same password and with the recovery key."""
    with app.app_context():
        member = staff.find_by_email(ADMIN_EMAIL)
        by_password, _ = staff.unlock(member, ADMIN_PASSWORD)
        by_recovery = setup_service.private_key_from_recovery(recovery_key)
        for private_key in (by_password, by_recovery):
            texts = []
            for report in db.session.scalars(db.select(Report).order_by(Report.id)):
                key = reports.key_from_private_key(report, private_key)
                opened = reports.open_report(report, key)
                texts.append(opened.content.chronology)
                assert opened.contact == "0812 BACKUP"
            assert texts == list(CHRONOLOGIES)
        assert [r.tracking_code for r in db.session.scalars(db.select(Report))] == codes
        assert db.session.scalar(db.select(db.func.count()).select_from(PortalSession)) == 0
        assert audit.verify_chain().ok


def test_a_backup_taken_while_serving_restores_and_opens_every_report(app, filed, tmp_path):
    source_folder = app.config["TEST_INSTANCE"].folder
    stop = threading.Event()
    written: list[int] = []

    def keep_serving() -> None:  # another app server appending while the backup runs
        with app.app_context():
            while not stop.is_set() and len(written) < 2000:
                with atomic():
                    written.append(audit.record(actor="load", action="report.viewed").id)

    worker = threading.Thread(target=keep_serving)
    worker.start()
    try:
        archive = take_backup(app, tmp_path / "backups")
    finally:
        stop.set()
        worker.join(timeout=30)
    assert written, "nothing was written during the backup"
    assert archive.with_name(archive.name + ".sha256").exists()
    with tarfile.open(archive) as tar:
        assert sorted(tar.getnames()) == ["database.sqlite3", "manifest.json"]
        database = tar.extractfile("database.sqlite3").read()
    for chronology in CHRONOLOGIES:
        assert chronology.encode() not in database  # still encrypted inside
    target, _ = fresh_app(tmp_path, "restored", audit_key_from=source_folder)
    result = target.test_cli_runner().invoke(args=["restore", str(archive)])
    assert result.exit_code == 0, result.output
    opens_everything(target, filed, app.config["TEST_INSTANCE"].recovery_key)
    with target.app_context():
        restored = db.session.scalars(
            db.select(AuditEntry).where(AuditEntry.action == "instance.restored")
        ).all()
        assert len(restored) == 1
    pinned = (Path(target.instance_path) / "inspectorate_public_key").read_text().strip()
    assert pinned == (source_folder / "inspectorate_public_key").read_text().strip()


def test_restore_refuses_damaged_foreign_or_mismatched_files(app, filed, tmp_path):
    source_folder = app.config["TEST_INSTANCE"].folder
    archive = take_backup(app, tmp_path / "backups")

    def refused(target_app, path: Path, *extra: str) -> str:
        result = target_app.test_cli_runner().invoke(args=["restore", str(path), *extra])
        assert result.exit_code != 0, result.output
        if target_app is not app:  # a refused restore leaves the fresh instance empty
            assert not _has_tables(target_app) or _report_count(target_app) == 0
        return result.output

    target, _ = fresh_app(tmp_path, "target", audit_key_from=source_folder)
    # One flipped byte: the checksum beside it says so.
    damaged = tmp_path / "damaged.tar"
    data = bytearray(archive.read_bytes())
    data[len(data) // 2] ^= 0xFF
    damaged.write_bytes(bytes(data))
    shutil.copy(archive.with_name(archive.name + ".sha256"), tmp_path / "damaged.tar.sha256")
    (tmp_path / "damaged.tar.sha256").write_text(
        archive.with_name(archive.name + ".sha256").read_text().replace(archive.name, "damaged.tar")
    )
    assert "damaged" in refused(target, damaged)
    # Without the checksum file: the manifest's checksum of the database catches it.
    (tmp_path / "damaged.tar.sha256").unlink()
    assert "damaged" in refused(target, damaged) or "not a Lapor Pungli" in refused(target, damaged)
    # A database swapped inside the archive (manifest kept): refused.
    swapped = tmp_path / "swapped.tar"
    with tarfile.open(archive) as tar, tarfile.open(swapped, "w") as out:
        manifest = tar.extractfile("manifest.json").read()
        info = tarfile.TarInfo("manifest.json")
        info.size = len(manifest)
        out.addfile(info, io.BytesIO(manifest))
        other = b"SQLite format 3\x00" + secrets.token_bytes(4096)
        info = tarfile.TarInfo("database.sqlite3")
        info.size = len(other)
        out.addfile(info, io.BytesIO(other))
    assert "checksum" in refused(target, swapped)
    # Not a backup at all.
    junk = tmp_path / "junk.tar"
    junk.write_bytes(b"not a tar file at all")
    assert "damaged" in refused(target, junk)
    # Without the old audit key the chain cannot be verified: refused; a wrong one too.
    keyless, keyless_folder = fresh_app(tmp_path, "keyless", audit_key_from=None)
    assert "audit_key" in refused(keyless, archive)
    wrong = tmp_path / "wrong_key"
    wrong.write_text(secrets.token_hex(32))
    assert "does not verify" in refused(keyless, archive, "--audit-key", str(wrong))
    assert not (keyless_folder / "audit_key").exists()
    # Into an instance that already has data: refused, and its data untouched.
    assert "already holds data" in refused(app, archive)
    with app.app_context():
        assert setup_service.report_count() == 2


def _report_count(app) -> int:
    with app.app_context():
        return setup_service.report_count()


def _has_tables(app) -> bool:
    from sqlalchemy import inspect

    with app.app_context():
        return "report" in inspect(db.engine).get_table_names()


@pytest.fixture
def two_postgres_urls() -> Iterator[tuple[str, str]]:
    import psycopg

    names = [f"lapor_test_{secrets.token_hex(6)}" for _ in range(2)]
    admin = psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True)
    with admin:
        for name in names:
            admin.execute(f'CREATE DATABASE "{name}"')
        try:
            base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0]
            yield f"{base}/{names[0]}", f"{base}/{names[1]}"
        finally:
            for name in names:
                admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def test_postgres_backup_through_pg_dump_restores_and_opens_every_report(
    tmp_path, two_postgres_urls
):
    source_url, target_url = two_postgres_urls
    source, source_folder = fresh_app(
        tmp_path, "source", audit_key_from=None, SQLALCHEMY_DATABASE_URI=source_url
    )
    with source.app_context():
        setup = setup_service.initialise(admin_email=ADMIN_EMAIL, admin_password=ADMIN_PASSWORD)
    client = source.test_client()
    codes, receipts = [], []
    for text in CHRONOLOGIES:
        code, receipt = submit_report(client, chronology=text, contact="0812 BACKUP")
        codes.append(code)
        receipts.append(receipt)
    sign_in_inbox(source, codes[0], receipts[0])  # a session row the dump must leave out
    archive = take_backup(source, tmp_path / "backups")
    with tarfile.open(archive) as tar:
        assert "database.pgdump" in tar.getnames()
    # A PostgreSQL dump is refused by an SQLite instance ...
    sqlite_target, _ = fresh_app(tmp_path, "sqlite", audit_key_from=source_folder)
    result = sqlite_target.test_cli_runner().invoke(args=["restore", str(archive)])
    assert result.exit_code != 0 and "postgresql backup" in result.output
    # ... and restores into a fresh PostgreSQL one.
    target, _ = fresh_app(
        tmp_path, "pg-target", audit_key_from=source_folder, SQLALCHEMY_DATABASE_URI=target_url
    )
    result = target.test_cli_runner().invoke(args=["restore", str(archive)])
    assert result.exit_code == 0, result.output
    opens_everything(target, codes, setup.recovery_key)
    for application in (source, target):
        with application.app_context():
            db.session.remove()
            db.engine.dispose()


def test_setup_force_refuses_to_wipe_reports_without_a_backup(app, filed, runner, tmp_path):
    password = "a long operator password\n"
    refused = runner.invoke(args=["setup", "--force"], input=password)
    assert refused.exit_code != 0 and "2 reports" in refused.output
    with app.app_context():
        assert setup_service.report_count() == 2
    # A backup of another instance does not count.
    other, _ = fresh_app(tmp_path, "other", audit_key_from=None)
    with other.app_context():
        setup_service.initialise(admin_email=ADMIN_EMAIL, admin_password=ADMIN_PASSWORD)
    foreign = take_backup(other, tmp_path / "foreign")
    result = runner.invoke(args=["setup", "--force", "--backup", str(foreign)], input=password)
    assert result.exit_code != 0 and "not a current backup" in result.output
    # A backup of this instance does.
    own = take_backup(app, tmp_path / "own")
    result = runner.invoke(args=["setup", "--force", "--backup", str(own)], input=password)
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert setup_service.report_count() == 0
