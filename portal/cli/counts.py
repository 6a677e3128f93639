"""`flask counts check [--repair]`: compare the queue's maintained counts with a recount."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from portal.extensions import db
from portal.services import status_counts
from portal.transaction import atomic

SHOWN = 20  # differing cells printed at most


@click.group("counts")
def counts_group() -> None:
    """The triage queue's maintained counts per status."""


@counts_group.command("check")
@click.option("--repair", is_flag=True, help="Rebuild the counts from the reports.")
@with_appcontext
def check_command(repair: bool) -> None:
    """Count the reports afresh and compare; exit 1 on a difference (0 after --repair).

    The counts follow every change made through the portal; a difference means something
    wrote reports past it (a bulk SQL statement, a partial restore). Takes seconds at a
    million reports; --repair holds writers off meanwhile.
    """
    if repair:
        with atomic():
            cells = status_counts.recount(db.session.connection())
        click.echo(f"Counts rebuilt: {cells} cell(s)")
        return
    with atomic():  # reads only: the block ends the read transaction
        differences = status_counts.differences(db.session.connection())
    if not differences:
        click.echo("Counts match a recount of the reports")
        return
    for (dimension, value, status), (kept, fresh) in sorted(differences.items())[:SHOWN]:
        click.echo(f"{dimension}/{value or '-'}/{status}: stored {kept}, counted {fresh}")
    click.echo(f"{len(differences)} cell(s) differ; run `flask counts check --repair`")
    raise SystemExit(1)
