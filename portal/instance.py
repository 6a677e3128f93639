"""The instance folder: made only by `flask setup`, checked before anything serves or runs.

A mistyped PORTAL_INSTANCE used to create an empty folder with a new secret key and an
empty database, so the portal served a blank instance and every command failed with a
traceback. Now only `setup` creates anything, and serving or any other command refuses
with one line naming what is missing.
"""

from __future__ import annotations

import os
import secrets
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn

import click
from flask import Flask
from sqlalchemy import inspect, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from portal.config import INSTANCE_KEY_FILE, ConfigError

# Exit code of every refusal to start. gunicorn halts on a worker that exits with 4
# ("App failed to load") instead of restarting it forever; commands use the same code.
EXIT_NOT_READY = 4
# Only the portal's own user may list the folder or read the key and the database.
FOLDER_MODE = 0o700
FILE_MODE = 0o600
# SQLite makes its -wal and -shm files with the database file's mode; tighten any left
# by an older release too.
SQLITE_COMPANIONS = ("", "-wal", "-shm", "-journal")


class NotReady(Exception):
    """The instance cannot serve yet; the message says why and what to run."""


def refuse(message: str) -> NoReturn:
    """Print one line to standard error and exit with EXIT_NOT_READY; no traceback."""
    print(f"lapor-pungli: {message}", file=sys.stderr, flush=True)
    raise SystemExit(EXIT_NOT_READY)


@contextmanager
def refusing_to_start() -> Iterator[None]:
    """Turn a bad setting or an unready instance into one line and an exit code."""
    try:
        yield
    except (ConfigError, NotReady) as error:
        refuse(str(error))


def sqlite_path(app: Flask) -> Path | None:
    """The SQLite database file of this app, or None for another database or :memory:."""
    url = make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return Path(url.database)


def create(app: Flask) -> None:
    """Make the instance folder (0700) and, unless SECRET_KEY is configured, its key (0600).

    Called by `flask setup` before anything touches the database; safe to call again.
    An SQLite file is made empty with mode 0600 first, so the database and the -wal
    and -shm files SQLite makes beside it are never readable by other users.
    """
    folder = Path(app.instance_path)
    folder.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
    folder.chmod(FOLDER_MODE)
    if app.config.get("SECRET_KEY") is None:
        _write_private(folder / INSTANCE_KEY_FILE, secrets.token_hex(32))
        app.config["SECRET_KEY"] = bytes.fromhex((folder / INSTANCE_KEY_FILE).read_text().strip())
    database = sqlite_path(app)
    if database is not None:
        if not database.exists():
            database.parent.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
            _write_private(database, "")
        for suffix in SQLITE_COMPANIONS:
            companion = database.with_name(database.name + suffix)
            if companion.exists():
                companion.chmod(FILE_MODE)
    key = folder / INSTANCE_KEY_FILE
    if key.exists():
        key.chmod(FILE_MODE)


def _write_private(path: Path, text: str) -> None:
    """Create a file readable by its owner only; never overwrite one."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        return
    with os.fdopen(fd, "w") as handle:
        handle.write(text)


def problem(app: Flask) -> str | None:
    """Why this instance cannot serve or run commands, as one line; None when it can.

    Reads only: it never creates the folder, the key or (through SQLite) the database.
    """
    folder = Path(app.instance_path)
    setup = f"PORTAL_INSTANCE={folder} flask --app wsgi setup"
    if not folder.is_dir():
        return (
            f"the instance folder {folder} does not exist: check PORTAL_INSTANCE,"
            f" or make a new instance with `{setup}`"
        )
    if app.config.get("SECRET_KEY") is None:
        return (
            f"{folder} has no {INSTANCE_KEY_FILE} and SECRET_KEY is not set:"
            f" the instance is not initialised (run `{setup}`)"
        )
    database = sqlite_path(app)
    if database is not None and not database.is_file():
        return f"the database {database} does not exist: run `{setup}`"
    if not _has_inspectorate_key(app):
        shown = make_url(app.config["SQLALCHEMY_DATABASE_URI"]).render_as_string(hide_password=True)
        return f"the database {shown} is not initialised: run `{setup}`"
    return None


def _has_inspectorate_key(app: Flask) -> bool:
    """Whether setup has made the inspectorate key pair; reads only."""
    from portal.extensions import db
    from portal.models import InspectorateKey

    with app.app_context():
        try:
            if not inspect(db.engine).has_table(InspectorateKey.__tablename__):
                return False
            return db.session.scalars(select(InspectorateKey.id).limit(1)).first() is not None
        except SQLAlchemyError as error:
            # The driver's own first line (host refused, password wrong, no such database)
            # is what the operator needs; the statement and its parameters are not.
            reason = str(getattr(error, "orig", None) or error).splitlines()[0]
            raise NotReady(f"the database cannot be read: {reason}") from None
        finally:
            db.session.remove()
            # A server forks workers after loading: none may inherit this connection.
            db.engine.dispose()


def require_initialised(app: Flask) -> None:
    """Raise NotReady unless the instance folder, its key and its database are set up."""
    reason = problem(app)
    if reason:
        raise NotReady(reason)


def started_to_serve() -> bool:
    """Whether this process loads the app to serve it (gunicorn, `flask run`), in wsgi.py.

    `flask <command>` imports wsgi.py too, before the command runs: those commands are
    checked by portal.cli instead, and `setup` must load the app to make the instance.
    """
    if os.environ.get("FLASK_RUN_FROM_CLI") != "true":
        return True  # gunicorn, or any WSGI server importing wsgi.py
    context = click.get_current_context(silent=True)
    return context is not None and context.command.name == "run"
