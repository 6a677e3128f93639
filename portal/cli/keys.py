"""`flask keys rotate`: a new inspectorate key pair, after a departure or on a schedule."""

from __future__ import annotations

import sys

import click
from flask.cli import with_appcontext
from sqlalchemy.exc import NoResultFound

from portal import crypto
from portal.services import keys
from portal.services import setup as setup_service


@click.group("keys")
def keys_group() -> None:
    """The inspectorate key pair."""


@keys_group.command("rotate")
@with_appcontext
def rotate_command() -> None:
    """Rotate the key pair; reads the recovery key from standard input.

    Every live report's data key is re-sealed, every active member gets the new key
    sealed to their own key pair (nobody's password is needed), every staff session
    ends, and the new public key is pinned in the instance folder: copy that file to
    every other app server.
    """
    recovery_key = sys.stdin.readline().strip()
    try:
        private_key = setup_service.private_key_from_recovery(recovery_key)
    except NoResultFound:
        raise click.ClickException("This instance is not initialised; run setup first.") from None
    except crypto.DecryptionError:
        raise click.ClickException("The recovery key is wrong. Nothing was changed.") from None
    try:
        result = keys.rotate(private_key=private_key, actor="shell", recovery_key=recovery_key)
    except keys.WrongPrivateKey:
        raise click.ClickException(
            "The recovery key opens a key that is not the current public key's: the database"
            " key may have been replaced. Nothing was changed; investigate."
        ) from None
    click.echo(
        f"Rotated to key generation {result.generation}: {result.reports} reports re-sealed,"
        f" {result.members} members given the new key, {result.sessions_ended} staff sessions"
        " ended."
    )
    click.echo(f"New public key fingerprint (pinned): {result.fingerprint}")
    if result.members_without_key_pair:
        click.echo(
            f"{result.members_without_key_pair} active members had no key pair yet (not signed"
            " in since the upgrade): reset their passwords so they get the new key."
        )
