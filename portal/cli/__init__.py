"""Operator commands, run as `flask --app wsgi <command>`; one module per command group."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import ScriptInfo

# Commands that may run on an instance that is not set up yet: `setup` and `restore` (a
# backup into a fresh instance; it calls portal.instance.create) make one, and `db ...`
# (Flask-Migrate) migrates a database, which needs no instance folder.
UNGUARDED = frozenset({"setup", "restore", "db"})


def register(app: Flask) -> None:
    """Attach every command to the app's CLI; all but `setup` need a set-up instance."""
    from portal.cli.audit import audit_group
    from portal.cli.backup import backup_command, restore_command
    from portal.cli.counts import counts_group
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
        counts_group,
    ):
        app.cli.add_command(command)
    # Every command, however it was added: a new one is refused on a missing instance too.
    for name, command in app.cli.commands.items():
        if name not in UNGUARDED:
            _guard(command)


def _guard(command: click.Command) -> None:
    """Make a command (each command of a group) refuse an instance that is not set up.

    The leaves are wrapped rather than the group, so `--help` works on any instance.
    """
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            _guard(sub)
        return
    if command.callback is None or getattr(command.callback, "_instance_guarded", False):
        return
    command.callback = _requiring_instance(command.callback)


def _requiring_instance(callback: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a command's callback with the instance check (one line, exit code, no traceback)."""

    @functools.wraps(callback)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        from portal import instance

        with instance.refusing_to_start():
            instance.require_initialised(_app())
        return callback(*args, **kwargs)

    guarded._instance_guarded = True  # type: ignore[attr-defined]
    return guarded


def _app() -> Flask:
    """The app the command runs on: the current one, or the one `flask` loads."""
    if current_app:
        return current_app._get_current_object()  # type: ignore[attr-defined]
    return click.get_current_context().ensure_object(ScriptInfo).load_app()
