"""`flask setup`: bring the schema to head, initialise an instance, print its one-time secrets."""

from __future__ import annotations

import json
import secrets
import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from portal import instance, schema
from portal.services import backup
from portal.services import setup as setup_service

MIN_PASSWORD_LENGTH = 12


@click.command("setup")
@click.option("--admin-email", default="admin@localhost", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the one-time secrets as JSON.")
@click.option("--force", is_flag=True, help="Wipe an initialised instance and start over.")
@click.option("--if-needed", is_flag=True, help="Do nothing (exit 0) if already initialised.")
@click.option(
    "--backup",
    "backup_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="With --force: a backup of this instance (checked) taken before wiping its reports.",
)
@click.option(
    "--discard-reports",
    is_flag=True,
    help="With --force: wipe the reports without a backup. They are lost for good.",
)
@click.option(
    "--generate-password",
    is_flag=True,
    help="Make a one-time admin password instead of reading one from standard input.",
)
@with_appcontext
def setup_command(
    admin_email: str,
    as_json: bool,
    force: bool,
    if_needed: bool,
    generate_password: bool,
    backup_path: Path | None,
    discard_reports: bool,
) -> None:
    """Upgrade the schema to head; on a new instance, make the keys and the first admin.

    An instance made before migrations existed is adopted (stamped at the baseline and
    upgraded) if its tables are the baseline's. The admin password is read from standard
    input. The TOTP secret and the recovery key are printed once and never stored in
    clear: keep them offline.
    """
    # The only place that makes the instance folder and its secret key (portal/instance.py),
    # before the migrations make the SQLite file; with --if-needed on a second server it
    # makes the folder for the shared database.
    instance.create(current_app._get_current_object())  # type: ignore[attr-defined]
    if not force:
        _prepare_schema()
    if setup_service.is_initialised() and not force:
        if if_needed:
            return
        raise click.ClickException("This instance is already initialised; use --force to wipe it.")
    if force and setup_service.is_initialised():
        _check_wipe_is_covered(backup_path, discard_reports)
    password = secrets.token_urlsafe(12) if generate_password else sys.stdin.readline().rstrip("\n")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise click.ClickException(f"The password needs at least {MIN_PASSWORD_LENGTH} characters.")
    result = setup_service.initialise(
        admin_email=admin_email,
        admin_password=password,
        force=force,
        one_time_password=generate_password,
    )
    if as_json:
        secrets_out = {
            "admin_email": result.admin_email,
            "totp_secret": result.totp_secret,
            "recovery_key": result.recovery_key,
            "public_key_fingerprint": result.fingerprint,
        }
        if generate_password:
            secrets_out["admin_password"] = password
        click.echo(json.dumps(secrets_out))
        return
    click.echo("Lapor Pungli is initialised. Shown ONCE; write these down and keep them offline:")
    click.echo(f"  admin email:   {result.admin_email}")
    if generate_password:
        click.echo(f"  one-time admin password: {password}  (you must change it at first login)")
    click.echo(f"  TOTP secret:   {result.totp_secret}")
    click.echo("    (add it to an authenticator app now: its code is needed at the first sign-in)")
    click.echo(f"  recovery key:  {result.recovery_key}")
    click.echo("The recovery key opens every report if all staff passwords are lost.")
    click.echo(f"  public key fingerprint: {result.fingerprint}  (pinned in the instance folder)")


def _prepare_schema() -> None:
    """Migrate to head, saying on standard error what was done (stdout may be JSON)."""
    try:
        before = setup_service.prepare_schema()
    except schema.SchemaError as error:
        raise click.ClickException(f"The database cannot be upgraded: {error}.") from error
    if before.state is schema.SchemaState.PRE_MIGRATION:
        click.echo(
            "This database was made before schema migrations and has the baseline schema: "
            f"stamped at {schema.BASELINE_REVISION}.",
            err=True,
        )
    start = before.current or schema.BASELINE_REVISION
    if before.state is not schema.SchemaState.EMPTY and start != before.head:
        click.echo(f"Database schema upgraded from {start} to {before.head}.", err=True)


def _check_wipe_is_covered(backup_path: Path | None, discard_reports: bool) -> None:
    """Refuse to wipe reports unless a matching backup is named or the loss is confirmed."""
    reports = setup_service.report_count()
    if reports == 0 or discard_reports:
        return
    if backup_path is None:
        raise click.ClickException(
            f"This instance holds {reports} reports; --force would destroy them. Take a backup"
            " (flask --app wsgi backup) and pass it with --backup FILE, or pass"
            " --discard-reports to lose them for good."
        )
    try:
        matches = backup.matches_this_instance(backup_path)
    except backup.RestoreRefused as error:
        raise click.ClickException(f"The backup cannot be used: {error}") from None
    if not matches:
        raise click.ClickException(
            "That backup is not a current backup of this instance (another key, or fewer"
            " reports): take a new one with flask --app wsgi backup."
        )
