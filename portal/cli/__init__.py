"""Operator commands, run as `flask --app wsgi <command>`; one module per command group."""

from __future__ import annotations

from flask import Flask


def register(app: Flask) -> None:
    """Attach every command to the app's CLI."""
    from portal.cli.audit import audit_group
    from portal.cli.backup import backup_command, restore_command
    from portal.cli.keys import keys_group
    from portal.cli.notify import notify_group
    from portal.cli.purge import purge_command
    from portal.cli.recover import recover_command
    from portal.cli.sessions import sessions_group
    from portal.cli.setup import setup_command
    from portal.cli.staff import staff_group
    from portal.cli.stats import stats_group

    for command in (
        setup_command,
        recover_command,
        audit_group,
        notify_group,
        stats_group,
        purge_command,
        staff_group,
        backup_command,
        restore_command,
        keys_group,
        sessions_group,
    ):
        app.cli.add_command(command)
