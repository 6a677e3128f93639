"""Engine settings: SQLite in WAL mode, so one process with many threads serves well."""

from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy import Engine, event

from portal.extensions import db

# Applied to every new SQLite connection, because SQLite forgets them (all but
# journal_mode) when a connection closes. The busy timeout (how long a writer waits for
# another's lock) is set by the driver from config.SQLITE_BUSY_TIMEOUT_SECONDS.
SQLITE_PRAGMAS = (
    # Readers never wait for a writer and a writer never waits for readers: the threads
    # of one gunicorn process (and `flask` commands run beside it) share the file.
    "PRAGMA journal_mode=WAL",
    # Keep references honest as PostgreSQL does; SQLite ignores them unless told.
    "PRAGMA foreign_keys=ON",
    # In WAL mode NORMAL is still crash-safe for the database; a power cut may lose the
    # last transactions, never corrupt the file. FULL would sync on every commit.
    "PRAGMA synchronous=NORMAL",
)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """Set the pragmas on a fresh SQLite connection."""
    cursor = dbapi_connection.cursor()
    try:
        for pragma in SQLITE_PRAGMAS:
            cursor.execute(pragma)
    finally:
        cursor.close()


def configure_engine(engine: Engine) -> None:
    """Install the SQLite settings on `engine`; other databases keep their own."""
    if engine.dialect.name == "sqlite" and not event.contains(engine, "connect", _sqlite_pragmas):
        event.listen(engine, "connect", _sqlite_pragmas)


def init_app(app: Flask) -> None:
    """Configure the engine Flask-SQLAlchemy made for this app (call after db.init_app)."""
    with app.app_context():
        configure_engine(db.engine)
