"""`flask backup` and `flask restore`: a consistent, checked copy of the instance's database."""

from __future__ import annotations

from pathlib import Path
from typing import TextIO

import click
from flask import current_app
from flask.cli import with_appcontext

from portal import instance
from portal.services import backup


@click.command("backup")
@click.option(
    "--output",
    type=click.Path(path_type=Path),
    default=None,
    help="A file, or a folder for a dated file (default: instance/backups/).",
)
@with_appcontext
def backup_command(output: Path | None) -> None:
    """Write a backup while the portal serves: database (no session rows) and manifest.

    Copy the file and its .sha256 off the server. The instance's audit_key is not in
    it: keep a copy of that file apart from the backups; restore needs it.
    """
    if output is None:
        output = Path(current_app.instance_path) / "backups"
        output.mkdir(mode=0o700, exist_ok=True)
    try:
        result = backup.create(output=output)
    except backup.BackupError as error:
        raise click.ClickException(str(error)) from None
    manifest = result.manifest
    click.echo(
        f"Backup written: {result.path} (sha256 {result.sha256}); {manifest['reports']} reports,"
        f" {manifest['audit_entries']} audit entries, key {manifest['fingerprint']}"
    )


@click.command("restore")
@click.argument("archive", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--audit-key",
    "audit_key_file",
    type=click.File("r"),
    default=None,
    help="The old instance's audit_key file, if it is not in this instance folder yet.",
)
@with_appcontext
def restore_command(archive: Path, audit_key_file: TextIO | None) -> None:
    """Restore a backup into this fresh instance; refuses a damaged or mismatched file."""
    # Like setup, restore may start on a new machine: it makes the instance folder and key.
    instance.create(current_app._get_current_object())  # type: ignore[attr-defined]
    key_hex = audit_key_file.read().strip() if audit_key_file is not None else None
    try:
        manifest = backup.restore(archive_path=archive, audit_key_hex=key_hex)
    except backup.RestoreRefused as error:
        raise click.ClickException(f"Restore refused, nothing was changed: {error}") from None
    except ValueError:
        raise click.ClickException("The audit key file does not hold a hex key.") from None
    click.echo(
        f"Restored the backup of {manifest['created_at']}: {manifest['reports']} reports;"
        f" key {manifest['fingerprint']} pinned; the audit log verifies."
    )
