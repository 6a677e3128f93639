"""`flask stats refresh`: rebuild the public statistics snapshot (run it from cron)."""

from __future__ import annotations

import time

import click
from flask.cli import with_appcontext
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import StatsCell
from portal.services import stats


@click.group("stats")
def stats_group() -> None:
    """The public statistics."""


@stats_group.command("publish")
@with_appcontext
def publish_command() -> None:
    """Publish (freeze) every quarter that has ended; run it daily from a timer.

    The first request after a quarter ends would publish it too; this way none has to.
    A published quarter never changes again.
    """
    published = stats.publish_due()
    click.echo("Published: " + (", ".join(published) if published else "nothing due"))


@stats_group.command("refresh")
@with_appcontext
def refresh_command() -> None:
    """Rebuild the internal working snapshot (nothing published changes until a quarter ends).

    Pages and the API rebuild a snapshot older than STATS_MAX_AGE_SECONDS themselves,
    but a rebuild over a large table takes a while: run this every few minutes from cron
    so no request has to. Safe while app servers serve, and on several servers at once.
    """
    started = time.perf_counter()
    snapshot = stats.refresh()
    cells = db.session.scalar(
        select(func.count()).select_from(StatsCell).where(StatsCell.snapshot_id == snapshot.id)
    )
    first = stats.month_key(snapshot.first_month) if snapshot.first_month else "-"
    click.echo(
        f"Statistics refreshed: snapshot {snapshot.id}, {cells} monthly cells from {first}, "
        f"in {time.perf_counter() - started:.1f} s"
    )
