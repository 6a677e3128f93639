"""Operator commands, run as `flask --app wsgi <command>`; one module per command group."""

from __future__ import annotations

from flask import Flask


def register(app: Flask) -> None:
    """Attach every command to the app's CLI."""
    from portal.cli.setup import setup_command

    app.cli.add_command(setup_command)
