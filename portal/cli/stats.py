"""`flask stats publish` (the daily timer), `stats facts` (what it freezes), `stats refresh`."""

from __future__ import annotations

import time

import click
from flask.cli import with_appcontext
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import StatsCell
from portal.services import stats
from portal.transaction import atomic


@click.group("stats")
def stats_group() -> None:
    """The public statistics."""


@stats_group.command("publish")
@with_appcontext
def publish_command() -> None:
    """Publish (freeze) every quarter that has ended; run it daily from a timer.

    Requests never publish: until this runs, the quarter just ended is not shown. Only the
    due quarter's reports are read. A published quarter never changes again.
    """
    published = stats.publish_due()
    click.echo("Published: " + (", ".join(published) if published else "nothing due"))


@stats_group.command("refresh")
@with_appcontext
def refresh_command() -> None:
    """Rebuild the internal working snapshot (published nowhere; nothing depends on it).

    A full rebuild over the reports table, for inspection. Publishing does not need it:
    `stats publish` reads the due quarter's reports itself. Safe while app servers serve.
    """
    started = time.perf_counter()
    with atomic():
        snapshot = stats.refresh()
    cells = db.session.scalar(
        select(func.count()).select_from(StatsCell).where(StatsCell.snapshot_id == snapshot.id)
    )
    first = stats.month_key(snapshot.first_month) if snapshot.first_month else "-"
    click.echo(
        f"Statistics refreshed: snapshot {snapshot.id}, {cells} monthly cells from {first}, "
        f"in {time.perf_counter() - started:.1f} s"
    )


@stats_group.command("facts")
@click.option("--rebuild", is_flag=True, help="Compute every fact afresh from the reports.")
@with_appcontext
def facts_command(rebuild: bool) -> None:
    """Fold the reports changed since the timer last ran into the facts (or rebuild them).

    The facts are what a quarter not yet published is frozen from. Every change through the
    portal reaches them by itself; after writing reports past the ORM (a bulk UPDATE, an
    import), run `--rebuild`. Safe while app servers serve: changes made meanwhile wait.
    """
    from portal.deadlines import local_today
    from portal.services.stats import build, facts

    started = time.perf_counter()
    with atomic():
        connection = db.session.connection()
        days, today = build.inspectorate_deadlines(), local_today()
        if rebuild:
            count = facts.rebuild(connection, days, today)
            done = f"Facts rebuilt: {count} reports"
        else:
            done = f"Facts folded: {facts.fold(connection, days, today)} reports"
    click.echo(f"{done}, in {time.perf_counter() - started:.1f} s")
