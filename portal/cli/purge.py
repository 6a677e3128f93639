"""`flask purge [--dry-run]`: crypto-shred closed reports past retention (run it daily)."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from portal.services import retention


@click.command("purge")
@click.option("--dry-run", is_flag=True, help="Count what would be destroyed; change nothing.")
@with_appcontext
def purge_command(dry_run: bool) -> None:
    """Destroy keys, content, messages, notes and files of reports closed past retention.

    Irreversible, backups included: the keys are gone, so old copies of the ciphertext
    open for nobody. Each run (and each dry run) is written to the audit log with counts.
    """
    before = retention.cutoff()
    counts = retention.purge(dry_run=dry_run)
    verb = "Would shred" if dry_run else "Shredded"
    click.echo(
        f"{verb} {counts.reports} reports closed before {before.isoformat()}: "
        f"{counts.messages} messages, {counts.attachments} files, {counts.notes} notes, "
        f"{counts.drafts} unpublished summaries, {counts.sessions} sessions."
    )
