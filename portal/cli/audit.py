"""`flask audit verify|head|anchor`: check the keyed chain of the audit log, its head, anchors."""

from __future__ import annotations

import sys
from typing import TextIO

import click
from flask.cli import with_appcontext

from portal.services import audit
from portal.transaction import atomic


@click.group("audit")
def audit_group() -> None:
    """Check the audit log."""


def _parse_head(
    _ctx: click.Context, _param: click.Parameter, value: str | None
) -> audit.Head | None:
    """The --expect-head option as a Head, or a usage error."""
    if value is None:
        return None
    try:
        return audit.Head.parse(value)
    except ValueError as error:
        raise click.BadParameter("give it as ID:HASH, as `flask audit head` prints it") from error


@audit_group.command("verify")
@click.option(
    "--expect-head",
    callback=_parse_head,
    metavar="ID:HASH",
    help="A head noted earlier; fail if it is gone or changed (a cut-off or rewritten log).",
)
@click.option(
    "--anchors",
    "anchors_file",
    type=click.File("r"),
    help="Daily anchors copied from the transparency page, one 'YYYY-MM-DD HASH' per line.",
)
@with_appcontext
def verify_command(expect_head: audit.Head | None, anchors_file: TextIO | None) -> None:
    """Walk the chain; print OK and the head, or the first bad entry and exit 1.

    The audit key, the sealed head and the stored daily anchors catch forged, edited,
    deleted and cut-off entries. Copies kept outside this server (a head from `flask
    audit head`, anchors from the transparency page) also catch a rewrite by someone
    who has the key.
    """
    published: list[audit.PublicAnchor] = []
    if anchors_file is not None:
        for number, line in enumerate(anchors_file, start=1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            try:
                published.append(audit.PublicAnchor.parse(line))
            except ValueError:
                raise click.BadParameter(
                    f"line {number}: give 'YYYY-MM-DD HASH', as the transparency page shows",
                    param_hint="--anchors",
                ) from None
    result = audit.verify_chain(noted_head=expect_head, published=published)
    if result.problem is None:
        head = f"{result.head.id} {result.head.hash}" if result.head else "none (empty log)"
        click.echo(
            f"OK: {result.checked} entries, head {head}; {result.anchors_stored} stored and"
            f" {result.anchors_checked} published anchors hold"
        )
        return
    problem = result.problem
    click.echo(f"FAILED: entry {problem.entry_id}: {problem.kind}: {problem.describe()}")
    click.echo(f"{result.checked} entries before it are intact.")
    sys.exit(1)


@audit_group.command("head")
@with_appcontext
def head_command() -> None:
    """Print the newest entry's id and hash, to note outside the database."""
    head = audit.head()
    if head is None:
        click.echo("the audit log is empty")
        return
    click.echo(f"{head.id}:{head.hash}")


@audit_group.command("anchor")
@with_appcontext
def anchor_command() -> None:
    """Anchor the last finished day's head if nothing did yet (the daily timer runs it)."""
    with atomic():
        added = audit.anchor_completed_days()
    click.echo(f"{added} day anchored" if added else "nothing to anchor")
