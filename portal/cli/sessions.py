"""`flask sessions sweep`: delete expired sessions and double-submit marks (run from a timer)."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from portal.services import sessions
from portal.transaction import atomic


@click.group("sessions")
def sessions_group() -> None:
    """Server-side sessions."""


@sessions_group.command("sweep")
@with_appcontext
def sweep_command() -> None:
    """Delete every expired session row and used submission mark now.

    Sign-ins sweep too, but a quiet portal might see none for days; run this every few
    minutes (README: a systemd timer) so no expired row says who had what open when.
    """
    with atomic():
        removed = sessions.sweep()
    click.echo(f"Sessions swept: {removed} expired session(s) deleted")
