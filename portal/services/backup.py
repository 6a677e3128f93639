"""Backups that restore: a consistent copy while the portal serves, checked on the way back.

A backup is one tar file holding `manifest.json` and the database: an SQLite copy made
with SQLite's online backup API (readers and writers carry on meanwhile), or a
PostgreSQL custom-format dump from `pg_dump` (one snapshot). Session rows are left out:
they only carry keys for browsers that are signed in now. The manifest names the
format, the database's SHA-256, the inspectorate public key and the audit head, and
`restore` refuses a file whose checksum, format or contents do not match it.

What a backup does not hold, on purpose: the instance files (`audit_key`, the secret
key). Copy `instance/audit_key` to the new server yourself (kept apart from the
backups): without it the restored audit log cannot be verified, so restore refuses.
Report content stays encrypted in the backup; the recovery key or a staff password
opens it, as on the live system, and shredded reports stay shredded.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flask import current_app
from sqlalchemy import inspect
from sqlalchemy.engine import make_url

from portal import crypto, instance_files
from portal.extensions import db
from portal.models import AuditEntry, InspectorateKey, Report
from portal.services import audit
from portal.transaction import atomic, in_atomic

FORMAT = "lapor-pungli-backup/1"
MANIFEST = "manifest.json"
SQLITE_MEMBER = "database.sqlite3"
POSTGRES_MEMBER = "database.pgdump"
# Tables whose rows are never backed up (live sign-ins only).
EXCLUDED_TABLES = ("portal_session",)
# pg_dump / pg_restore of a city's database take minutes at most; never hang forever.
PG_TIMEOUT_SECONDS = 3600


class BackupError(Exception):
    """A backup could not be written; nothing was left behind."""


class RestoreRefused(Exception):
    """The backup does not match, is damaged, or the target is not a fresh instance."""


@dataclass(frozen=True)
class BackupResult:
    """Where the backup went and what it holds."""

    path: Path
    sha256: str
    manifest: dict[str, Any]


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _dialect() -> str:
    return str(db.engine.dialect.name)


def _sqlite_path() -> Path:
    database = make_url(current_app.config["SQLALCHEMY_DATABASE_URI"]).database
    if not database:
        raise BackupError("in-memory SQLite databases cannot be backed up")
    return Path(database)


def _libpq_url() -> str:
    """The database URL as pg_dump/pg_restore take it (no SQLAlchemy driver suffix)."""
    url = make_url(current_app.config["SQLALCHEMY_DATABASE_URI"]).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


def _dump_sqlite(target: Path) -> None:
    """Online backup (consistent while others write), then drop session rows and compact."""
    source = sqlite3.connect(_sqlite_path())
    copy = sqlite3.connect(target)
    try:
        source.backup(copy)
        for table in EXCLUDED_TABLES:
            copy.execute(f'DELETE FROM "{table}"')  # noqa: S608 - constant table names
        copy.commit()  # the copy's own sqlite3 connection, not the portal's session
        # VACUUM rewrites the file, so deleted rows leave no bytes in free pages.
        copy.execute("VACUUM")
    finally:
        copy.close()
        source.close()


def _dump_postgres(target: Path) -> None:
    arguments = ["pg_dump", "--format=custom", "--no-owner", "--no-privileges"]
    arguments += [f"--exclude-table-data={table}" for table in EXCLUDED_TABLES]
    arguments += ["--file", str(target), "--dbname", _libpq_url()]
    try:
        subprocess.run(  # noqa: S603 - fixed program, arguments are not a shell
            arguments, check=True, capture_output=True, timeout=PG_TIMEOUT_SECONDS
        )
    except FileNotFoundError as error:
        raise BackupError("pg_dump is not installed (PostgreSQL client tools)") from error
    except subprocess.CalledProcessError as error:
        raise BackupError(f"pg_dump failed: {error.stderr.decode(errors='replace')}") from error


def _facts() -> dict[str, Any]:
    """What the manifest says the database holds, read from the live database."""
    key = db.session.scalars(db.select(InspectorateKey).limit(1)).first()
    head = audit.head()
    return {
        "public_key": key.public_key.hex() if key else None,
        "fingerprint": crypto.fingerprint(crypto.PublicKey(key.public_key)) if key else None,
        "reports": db.session.scalar(db.select(db.func.count()).select_from(Report)),
        "audit_entries": db.session.scalar(db.select(db.func.count()).select_from(AuditEntry)),
        "audit_head": f"{head.id}:{head.hash}" if head else None,
    }


def create(*, output: Path) -> BackupResult:
    """Write a backup to `output` (a .tar file, or a folder to put a dated file in)."""
    if not output.exists() and output.suffix != ".tar":
        output.mkdir(mode=0o700, parents=True)
    if output.is_dir():
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        output = output / f"lapor-pungli-{stamp}.tar"
    if output.exists():
        raise BackupError(f"{output} exists already; backups are never overwritten")
    dialect = _dialect()
    with tempfile.TemporaryDirectory(dir=output.parent) as scratch:
        member = SQLITE_MEMBER if dialect == "sqlite" else POSTGRES_MEMBER
        database = Path(scratch) / member
        # The facts are read before the copy: entries appended meanwhile are in the copy
        # but after this head, which restore accepts (the head must be in the chain).
        facts = _facts()
        # Ends the read-only transaction of the facts: the dump must not wait on it.
        db.session.rollback()
        if dialect == "sqlite":
            _dump_sqlite(database)
        elif dialect == "postgresql":
            _dump_postgres(database)
        else:
            raise BackupError(f"no backup method for {dialect}")
        manifest = {
            "format": FORMAT,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "dialect": dialect,
            "member": member,
            "database_sha256": _sha256_file(database),
            "database_bytes": database.stat().st_size,
            "excluded_tables": list(EXCLUDED_TABLES),
            **facts,
        }
        partial = output.with_name(output.name + ".partial")
        with tarfile.open(partial, "w") as archive:
            data = json.dumps(manifest, indent=2, sort_keys=True).encode()
            info = tarfile.TarInfo(MANIFEST)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
            archive.add(database, arcname=member)
        os.chmod(partial, 0o600)
        os.replace(partial, output)
    checksum = _sha256_file(output)
    output.with_name(output.name + ".sha256").write_text(f"{checksum}  {output.name}\n")
    return BackupResult(output, checksum, manifest)


def read_manifest(archive_path: Path, scratch: Path) -> tuple[dict[str, Any], Path]:
    """Check the archive and extract its database into `scratch`; RestoreRefused if damaged."""
    checksum_file = archive_path.with_name(archive_path.name + ".sha256")
    if checksum_file.exists():
        expected = checksum_file.read_text().split()[0]
        if _sha256_file(archive_path) != expected:
            raise RestoreRefused("the file does not match its .sha256 checksum: it is damaged")
    try:
        with tarfile.open(archive_path, "r") as archive:
            names = archive.getnames()
            if MANIFEST not in names:
                raise RestoreRefused("this is not a Lapor Pungli backup (no manifest)")
            handle = archive.extractfile(MANIFEST)
            manifest = json.loads(handle.read()) if handle else {}
            if manifest.get("format") != FORMAT:
                raise RestoreRefused(f"unknown backup format {manifest.get('format')!r}")
            member = manifest.get("member")
            if member not in (SQLITE_MEMBER, POSTGRES_MEMBER) or member not in names:
                raise RestoreRefused("the backup's database is missing")
            source = archive.extractfile(member)
            if source is None:
                raise RestoreRefused("the backup's database is missing")
            target = scratch / member
            with target.open("wb") as out:
                shutil.copyfileobj(source, out)
    except (tarfile.TarError, EOFError, json.JSONDecodeError, UnicodeDecodeError) as error:
        raise RestoreRefused(f"the file is damaged: {error}") from error
    if _sha256_file(target) != manifest.get("database_sha256"):
        raise RestoreRefused("the database does not match the manifest's checksum: damaged")
    return manifest, target


def matches_this_instance(archive_path: Path) -> bool:
    """Whether the file is an intact backup of this instance (same inspectorate key)."""
    with tempfile.TemporaryDirectory() as scratch:
        manifest, _ = read_manifest(archive_path, Path(scratch))
    facts = _facts()
    return manifest.get("public_key") == facts["public_key"] and (
        int(manifest.get("reports") or 0) == int(facts["reports"] or 0)
    )


def _target_is_fresh() -> bool:
    tables = set(inspect(db.engine).get_table_names())
    if "inspectorate_key" not in tables:
        return True
    return db.session.scalars(db.select(InspectorateKey).limit(1)).first() is None


def restore(*, archive_path: Path, audit_key_hex: str | None = None) -> dict[str, Any]:
    """Restore a backup into this fresh instance; returns the manifest.

    Refuses (RestoreRefused, nothing changed) a damaged or foreign file, a backup of the
    other database kind, an instance that already has data, a database whose key or
    audit log is not the one the manifest names, and an audit key that does not verify
    the restored chain. A job that owns its transactions, like setup.initialise: it swaps
    the database under the session, so no caller's block can span it (RuntimeError).
    """
    if in_atomic():
        raise RuntimeError("backup.restore replaces the database: call it outside atomic()")
    if not _target_is_fresh():
        raise RestoreRefused("this instance already holds data; restore into a fresh one")
    with tempfile.TemporaryDirectory() as scratch_name:
        manifest, database = read_manifest(archive_path, Path(scratch_name))
        dialect = _dialect()
        if manifest.get("dialect") != dialect:
            raise RestoreRefused(
                f"this is a {manifest.get('dialect')} backup; this instance uses {dialect}"
            )
        if dialect == "sqlite":
            _check_sqlite_copy(database, manifest)
        wrote_key = audit_key_hex is not None
        if audit_key_hex is not None:
            instance_files.write_audit_key(audit_key_hex)
        if instance_files.audit_key() is None and manifest.get("audit_head"):
            raise RestoreRefused(
                "copy the old instance's audit_key file into this instance folder first"
                " (or pass --audit-key): without it the audit log cannot be verified"
            )
        db.session.remove()
        db.engine.dispose()
        if dialect == "sqlite":
            _install_sqlite(database)
        else:
            _install_postgres(database)
    try:
        _check_restored(manifest)
    except RestoreRefused:
        _wipe()
        if wrote_key:
            instance_files.remove_audit_key()
        raise
    public_key = bytes.fromhex(manifest["public_key"])
    instance_files.pin_public_key(public_key)
    with atomic():
        audit.record(
            actor="restore",
            action="instance.restored",
            detail=f"backup_created_at={manifest['created_at']} reports={manifest['reports']}",
        )
    return manifest


def _check_sqlite_copy(database: Path, manifest: dict[str, Any]) -> None:
    """The copy opens, passes SQLite's integrity check and holds the manifest's key."""
    try:
        connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
        try:
            ok = connection.execute("PRAGMA integrity_check").fetchone()
            key = connection.execute("SELECT public_key FROM inspectorate_key LIMIT 1").fetchone()
        finally:
            connection.close()
    except sqlite3.DatabaseError as error:
        raise RestoreRefused(f"the database in the backup is damaged: {error}") from error
    if not ok or ok[0] != "ok":
        raise RestoreRefused("the database in the backup fails SQLite's integrity check")
    if key is None or bytes(key[0]).hex() != manifest.get("public_key"):
        raise RestoreRefused("the database's inspectorate key is not the one the manifest names")


def _install_sqlite(database: Path) -> None:
    target = _sqlite_path()
    for suffix in ("-wal", "-shm", "-journal"):
        Path(str(target) + suffix).unlink(missing_ok=True)
    staged = target.with_name(target.name + ".restoring")
    shutil.copyfile(database, staged)
    os.chmod(staged, 0o600)
    os.replace(staged, target)


def _install_postgres(database: Path) -> None:
    # A fresh instance may hold empty tables (an app started once): start from none.
    db.drop_all()
    db.session.commit()  # DDL outside any block: ends what drop_all began before pg_restore
    db.engine.dispose()
    arguments = ["pg_restore", "--no-owner", "--no-privileges", "--exit-on-error"]
    arguments += ["--single-transaction", "--dbname", _libpq_url(), str(database)]
    try:
        subprocess.run(  # noqa: S603 - fixed program, arguments are not a shell
            arguments, check=True, capture_output=True, timeout=PG_TIMEOUT_SECONDS
        )
    except FileNotFoundError as error:
        raise RestoreRefused("pg_restore is not installed (PostgreSQL client tools)") from error
    except subprocess.CalledProcessError as error:
        raise RestoreRefused(
            f"pg_restore refused the dump: {error.stderr.decode(errors='replace')}"
        ) from error


def _check_restored(manifest: dict[str, Any]) -> None:
    """The restored database is the one the manifest describes, and its audit log holds."""
    key = db.session.scalars(db.select(InspectorateKey).limit(1)).first()
    if key is None or key.public_key.hex() != manifest.get("public_key"):
        raise RestoreRefused("the restored database's key is not the one the manifest names")
    reports = db.session.scalar(db.select(db.func.count()).select_from(Report)) or 0
    if reports < int(manifest.get("reports") or 0):
        raise RestoreRefused("the restored database holds fewer reports than the manifest")
    noted = audit.Head.parse(manifest["audit_head"]) if manifest.get("audit_head") else None
    result = audit.verify_chain(noted_head=noted)
    if not result.ok and result.problem is not None:
        raise RestoreRefused(
            "the restored audit log does not verify with this audit key: "
            + result.problem.describe()
        )


def _wipe() -> None:
    """Undo a refused restore: the instance is fresh again."""
    db.session.remove()
    db.drop_all()
    db.session.commit()  # DDL outside any block (restore refuses to run inside one)
