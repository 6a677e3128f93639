"""`flask staff add`: add a member from the server's shell, outside any web admin's line."""

from __future__ import annotations

import json
import secrets
import sys

import click
from flask.cli import with_appcontext
from sqlalchemy.exc import NoResultFound

from portal import crypto
from portal.models import Role
from portal.services import audit, staff
from portal.services import setup as setup_service
from portal.transaction import atomic


@click.group("staff")
def staff_group() -> None:
    """Staff accounts, from the server."""


@staff_group.command("add")
@click.option("--email", required=True)
@click.option("--role", type=click.Choice([role.value for role in Role]), default=Role.ADMIN.value)
@click.option("--json", "as_json", is_flag=True, help="Print the one-time password as JSON.")
@with_appcontext
def add_command(email: str, role: str, as_json: bool) -> None:
    """Add a member whose one-time password only the operator at this shell sees.

    Reads the recovery key from standard input. No web admin set this account up, so
    it counts as independent of every admin for four eyes (a second admin made here is
    how an instance gets four eyes that one admin cannot get around).
    """
    recovery_key = sys.stdin.readline().strip()
    if staff.find_by_email(email) is not None:
        raise click.ClickException(f"A staff member with the email {email} already exists.")
    try:
        private_key = setup_service.private_key_from_recovery(recovery_key)
    except NoResultFound:
        raise click.ClickException("This instance is not initialised; run setup first.") from None
    except crypto.DecryptionError:
        raise click.ClickException("The recovery key is wrong. Nothing was changed.") from None
    one_time_password = secrets.token_urlsafe(12)
    address = email.strip().lower()
    with atomic():
        staff.create_staff(
            email=email, role=Role(role), password=one_time_password, private_key=private_key
        )
        audit.record(actor="shell", action="staff.created", target=address, detail=role)
    if as_json:
        click.echo(json.dumps({"email": address, "one_time_password": one_time_password}))
        return
    click.echo(f"Added {address} ({role}). One-time password, shown once: {one_time_password}")
    click.echo("Hand it over in person; they choose a password and enrol at first sign-in.")
