"""`flask audit verify|head`: check the hash chain of the audit log, print its head."""

from __future__ import annotations

import sys

import click
from flask.cli import with_appcontext

from portal.services import audit


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
@with_appcontext
def verify_command(expect_head: audit.Head | None) -> None:
    """Walk the chain; print OK and the head, or the first bad entry and exit 1.

    A chain whose newest entries were deleted still checks out: note the head
    printed here somewhere outside the database and pass it back with --expect-head.
    """
    result = audit.verify_chain(noted_head=expect_head)
    if result.problem is None:
        head = f"{result.head.id} {result.head.hash}" if result.head else "none (empty log)"
        click.echo(f"OK: {result.checked} entries, head {head}")
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
