"""`flask notify digest`: mail staff the overdue reports (run it daily from cron)."""

from __future__ import annotations

import sys

import click
from flask.cli import with_appcontext

from portal.services import notify
from portal.transaction import atomic


@click.group("notify")
def notify_group() -> None:
    """Staff email notifications (off unless NOTIFY_SMTP_HOST is set)."""


@notify_group.command("new")
@with_appcontext
def new_command() -> None:
    """Mail how many reports arrived since the last notice (counts only); exit 1 on failure.

    Run it from a timer (hourly, say): staff learn of new reports in batches, never at
    the second one is filed.
    """
    if not notify.enabled():
        click.echo("notifications are off (NOTIFY_SMTP_HOST is not set); nothing sent")
        return
    with atomic():
        fresh, sent = notify.new_reports_notice()
    if fresh == 0:
        click.echo("no new reports; nothing sent")
        return
    if not sent:
        click.echo(f"{fresh} new reports; sending failed", err=True)
        sys.exit(1)
    click.echo(f"{fresh} new reports; notice sent")


@notify_group.command("digest")
@with_appcontext
def digest_command() -> None:
    """Mail the counts and tracking codes of overdue reports; exit 1 if sending failed."""
    if not notify.enabled():
        click.echo("notifications are off (NOTIFY_SMTP_HOST is not set); nothing sent")
        return
    digest, sent = notify.overdue_digest()
    if digest.total == 0:
        click.echo("no overdue reports; nothing sent")
        return
    summary = f"{digest.total} overdue reports: {notify.codes_text(digest.codes)}"
    if len(digest.codes) < digest.total:
        summary += f" (and {digest.total - len(digest.codes)} more)"
    if not sent:
        click.echo(f"FAILED to send the digest of {summary}")
        sys.exit(1)
    click.echo(f"sent to {', '.join(notify.recipients())}: {summary}")
