"""`flask recover`: give an admin a new password and authenticator with the recovery key."""

from __future__ import annotations

import json
import sys

import click
from flask.cli import with_appcontext
from sqlalchemy.exc import NoResultFound

from portal import crypto
from portal.services import setup as setup_service
from portal.services import staff
from portal.transaction import atomic


@click.command("recover")
@click.option("--email", required=True, help="The admin whose access is restored.")
@click.option("--json", "as_json", is_flag=True, help="Print the new TOTP secret as JSON.")
@with_appcontext
def recover_command(email: str, as_json: bool) -> None:
    """Restore an admin's access with the offline recovery key.

    Reads two lines from standard input: the recovery key, then the new password.
    The admin gets a fresh authenticator secret (printed once); their sessions end.
    """
    recovery_key = sys.stdin.readline().strip()
    new_password = sys.stdin.readline().rstrip("\n")
    member = staff.find_by_email(email)
    if member is None:
        raise click.ClickException(f"No staff member has the email {email.strip().lower()}.")
    if member.role != "admin":
        raise click.ClickException(
            "Only an admin can be recovered this way; an admin resets other members' passwords."
        )
    try:
        staff.check_new_password(new_password)
    except staff.WeakPassword:
        raise click.ClickException(
            f"The new password needs at least {staff.MIN_PASSWORD_LENGTH} characters."
        ) from None
    try:
        private_key = setup_service.private_key_from_recovery(recovery_key)
    except NoResultFound:
        raise click.ClickException("This instance is not initialised; run setup first.") from None
    except crypto.DecryptionError:
        raise click.ClickException("The recovery key is wrong. Nothing was changed.") from None
    with atomic():
        totp_secret = staff.recover_admin(
            member, private_key=private_key, new_password=new_password
        )
    if as_json:
        click.echo(json.dumps({"admin_email": member.email, "totp_secret": totp_secret}))
        return
    click.echo("Access restored. Shown ONCE; add it to an authenticator app now:")
    click.echo(f"  admin email:  {member.email}")
    click.echo(f"  TOTP secret:  {totp_secret}")
    click.echo("Every session of this admin has ended; sign in with the new password and code.")
