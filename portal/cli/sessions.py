"""`flask sessions sweep`: delete expired sessions and double-submit marks, audit operators'
finished days of filings (run from a timer)."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from portal.services import operator_filings, sessions
from portal.transaction import atomic


@click.group("sessions")
def sessions_group() -> None:
    """Server-side sessions."""


@sessions_group.command("sweep")
@with_appcontext
def sweep_command() -> None:
    """Delete every expired session row and used submission mark now; audit finished days.

    Sign-ins sweep too, but a quiet portal might see none for days; run this every few
    minutes (README: a systemd timer) so no expired row says who had what open when.
    It also turns operators' filing counts of days that are over into one audit entry per
    member and day (services/operator_filings.py), so none waits long after midnight.
    """
    with atomic():
        removed = sessions.sweep()
    click.echo(f"Sessions swept: {removed} expired session(s) deleted")
    with atomic():
        audited = operator_filings.audit_finished_days()
    click.echo(f"Operator filings audited: {audited} member-day(s)")
