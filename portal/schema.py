"""The database schema: its revision, upgrades to head, and instances made before migrations.

Alembic migrations in `migrations/` make the schema; nothing calls `create_all`. A
database is in one of the states of `SchemaState`; the app serves only at head, and
`flask --app wsgi setup` (or `db upgrade`) brings it there.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Column, Index, MetaData, Table, inspect, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

if TYPE_CHECKING:
    from flask import Flask

MIGRATIONS_DIRECTORY = Path(__file__).resolve().parent.parent / "migrations"
# The first revision: the schema `db.create_all()` made at commit b72724e.
BASELINE_REVISION = "0001_baseline"
VERSION_TABLE = "alembic_version"
# Batch mode, so ALTERs work on SQLite (it rebuilds the table); types compared, so a
# changed column length in a model is a difference autogenerate and the tests see.
CONTEXT_OPTIONS: dict[str, Any] = {"render_as_batch": True, "compare_type": True}
# Any fixed number: the PostgreSQL advisory lock that lets one app server at a time
# migrate, so several servers running `setup --if-needed` at once cannot collide.
_POSTGRES_LOCK_KEY = 0x4C50_4D49_4752


class SchemaState(StrEnum):
    """Where a database stands against this code's migrations."""

    EMPTY = "empty"  # no tables: a new instance
    PRE_MIGRATION = "pre_migration"  # tables, no revision recorded: made before migrations
    BEHIND = "behind"  # an older revision of ours: `db upgrade` brings it to head
    AT_HEAD = "at_head"
    UNKNOWN = "unknown"  # a revision this code does not know: newer code migrated it


@dataclass(frozen=True)
class SchemaStatus:
    """A database's state, its revision (None before any) and this code's head."""

    state: SchemaState
    current: str | None
    head: str

    def describe(self) -> str:
        """One line for an operator: what is wrong and the command that fixes it."""
        if self.state is SchemaState.EMPTY:
            return "the database has no tables yet: run `flask --app wsgi setup`"
        if self.state is SchemaState.PRE_MIGRATION:
            return (
                "the database was made before schema migrations existed: back it up, then "
                "run `flask --app wsgi setup --if-needed` to adopt and upgrade it"
            )
        if self.state is SchemaState.BEHIND:
            return (
                f"the database schema is at revision {self.current or 'none'} but this code "
                f"needs {self.head}: back it up, then run `flask --app wsgi db upgrade`"
            )
        if self.state is SchemaState.UNKNOWN:
            return (
                f"the database schema is at revision {self.current}, which this code does not "
                "know: a newer release has migrated it; deploy that release"
            )
        return f"the database schema is at head ({self.head})"


class SchemaError(Exception):
    """The schema cannot be brought to head without an operator deciding how."""


class BaselineMismatch(SchemaError):
    """A pre-migration database whose schema is not the baseline: stamping it would lie."""

    def __init__(self, differences: list[str]) -> None:
        self.differences = differences
        super().__init__(
            "this database was made before schema migrations, by a release older than the "
            f"baseline ({BASELINE_REVISION}), so it cannot be adopted as it is; it differs in: "
            + "; ".join(differences)
        )


class _StderrHandler(logging.Handler):
    """Alembic's progress lines on the current standard error (looked up at each line)."""

    def emit(self, record: logging.LogRecord) -> None:
        """Print the steps taken; not Alembic's notes on its DDL implementation."""
        if record.levelno > logging.INFO or record.getMessage().startswith("Running "):
            click.echo(self.format(record), err=True)


def log_progress_to_stderr() -> None:
    """Show `Running upgrade a -> b` lines to the operator running a command."""
    logger = logging.getLogger("alembic")
    if not any(isinstance(handler, _StderrHandler) for handler in logger.handlers):
        logger.addHandler(_StderrHandler())
    logger.setLevel(logging.INFO)


def _scripts() -> ScriptDirectory:
    """The migration scripts, read once per process."""
    return _script_directory(str(MIGRATIONS_DIRECTORY))


@lru_cache(maxsize=4)
def _script_directory(path: str) -> ScriptDirectory:
    """The scripts in one directory (tests point MIGRATIONS_DIRECTORY at a copy)."""
    return ScriptDirectory(path)


def head_revision() -> str:
    """The newest revision of this code's migrations."""
    heads = _scripts().get_heads()
    if len(heads) != 1:
        raise SchemaError(
            f"the migrations have {len(heads)} heads ({', '.join(heads)}): "
            "merge them with `flask --app wsgi db merge`"
        )
    return heads[0]


def current_revision(connection: Connection) -> str | None:
    """The revision recorded in the database, or None."""
    return MigrationContext.configure(connection).get_current_revision()


def status(connection: Connection) -> SchemaStatus:
    """Where this database stands against the migrations."""
    head = head_revision()
    tables = set(inspect(connection).get_table_names())
    current = current_revision(connection) if VERSION_TABLE in tables else None
    if current is None:
        # No revision recorded (alembic_version absent, or emptied by `downgrade base`).
        # Tables the portal never had (a shared database) do not make it an old instance.
        ours = tables & _baseline_table_names(str(MIGRATIONS_DIRECTORY))
        state = SchemaState.PRE_MIGRATION if ours else SchemaState.EMPTY
        return SchemaStatus(state, None, head)
    if current == head:
        return SchemaStatus(SchemaState.AT_HEAD, current, head)
    if _is_known(current):
        return SchemaStatus(SchemaState.BEHIND, current, head)
    return SchemaStatus(SchemaState.UNKNOWN, current, head)


def _is_known(revision: str) -> bool:
    """Whether the revision is one of this code's migrations."""
    try:
        _scripts().get_revision(revision)
    except CommandError:
        return False
    return True


def is_at_head(connection: Connection) -> bool:
    """Whether the database has exactly the schema this code expects."""
    return status(connection).state is SchemaState.AT_HEAD


def alembic_config(connection: Connection) -> Config:
    """An Alembic config that migrates `connection` (see migrations/env.py)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIRECTORY))
    config.attributes["connection"] = connection
    return config


@contextmanager
def migration_connection(engine: Engine) -> Iterator[Connection]:
    """A connection that holds the database's migration lock, committed at the end.

    On SQLite, foreign keys are off while migrating: batch mode rebuilds a table by
    copying it and dropping the old one, and with foreign keys on, that drop would
    cascade-delete every message and attachment of every report. They are checked once
    the migration is done instead. `BEGIN IMMEDIATE` makes the migration one transaction
    and keeps other writers out. On PostgreSQL an advisory lock lets one server migrate.
    """
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # PRAGMA foreign_keys is ignored inside a transaction, so it comes first.
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        elif connection.dialect.name == "postgresql":
            connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": _POSTGRES_LOCK_KEY}
            )
        try:
            yield connection
            if sqlite:
                broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
                if broken:
                    raise SchemaError(f"the migration broke {len(broken)} foreign key(s)")
            # A migration's own connection (DDL, the advisory lock), never the session's:
            # atomic() owns the session's transactions, not this one.
            connection.commit()
        except BaseException:
            connection.rollback()
            raise
        finally:
            if sqlite:
                connection.exec_driver_sql("PRAGMA foreign_keys=ON")


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply the migrations up to `revision`, in one transaction."""
    with migration_connection(engine) as connection:
        command.upgrade(alembic_config(connection), revision)


def downgrade(engine: Engine, revision: str) -> None:
    """Undo the migrations down to `revision` ("base": no tables left)."""
    with migration_connection(engine) as connection:
        command.downgrade(alembic_config(connection), revision)


def baseline_metadata() -> MetaData:
    """The baseline tables, frozen in the baseline revision itself."""
    module = _scripts().get_revision(BASELINE_REVISION).module
    metadata: MetaData = module.baseline_metadata()
    return metadata


@lru_cache(maxsize=4)
def _baseline_table_names(_directory: str) -> frozenset[str]:
    """The names of the baseline's tables (cached: /healthz asks on every probe)."""
    return frozenset(baseline_metadata().tables)


def baseline_differences(connection: Connection) -> list[str]:
    """How the portal's tables in this database differ from the baseline's, one phrase each.

    Tables the baseline does not have are not differences: they are left alone.
    """
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    differences = compare_metadata(context, baseline_metadata())
    return [_describe(d) for d in differences if not _is_other_table(d)]


def _is_other_table(difference: Any) -> bool:
    """A table in the database that the baseline never had."""
    return isinstance(difference, tuple) and difference[0] == "remove_table"


def bring_to_head(engine: Engine) -> SchemaStatus:
    """Upgrade to head, adopting a pre-migration database equal to the baseline first.

    Returns the status found before. Decided under the migration lock, so two servers
    starting together migrate once. Raises SchemaError where an operator must decide.
    """
    with migration_connection(engine) as connection:
        before = status(connection)
        if before.state is SchemaState.UNKNOWN:
            raise SchemaError(before.describe())
        config = alembic_config(connection)
        if before.state is SchemaState.PRE_MIGRATION:
            differences = baseline_differences(connection)
            if differences:
                raise BaselineMismatch(differences)
            command.stamp(config, BASELINE_REVISION)
        if before.state is not SchemaState.AT_HEAD:
            command.upgrade(config, "head")
    return before


def _describe(difference: Any) -> str:
    """One phrase for an autogenerate difference, read as "the database ... the baseline"."""
    if isinstance(difference, list):  # column changes come as a list of modifications
        return ", ".join(_describe(item) for item in difference)
    kind = difference[0]
    if kind in ("add_table", "remove_table"):
        table: Table = difference[1]
        return f"table {table.name} " + _presence(kind)
    if kind in ("add_column", "remove_column"):
        column: Column[Any] = difference[3]
        return f"column {difference[2]}.{column.name} " + _presence(kind)
    if kind in ("add_index", "remove_index"):
        index: Index = difference[1]
        return f"index {index.name} " + _presence(kind)
    if kind in ("add_constraint", "remove_constraint", "add_fk", "remove_fk"):
        constraint = difference[1]
        return f"constraint {constraint.name} on {constraint.table.name} " + _presence(kind)
    if kind == "modify_type":
        _, _, table_name, column_name, _, found, wanted = difference
        return f"column {table_name}.{column_name} is {found}, not {wanted}"
    if kind == "modify_nullable":
        _, _, table_name, column_name, _, found, _ = difference
        allows = "allows" if found else "does not allow"
        return f"column {table_name}.{column_name} {allows} NULL"
    return str(difference)


def _presence(kind: str) -> str:
    """Autogenerate says "add" for what the baseline has and the database lacks."""
    return "is missing" if kind.startswith("add") else "is not in the baseline"


# gunicorn's own exit code for "App failed to load": its master stops instead of
# respawning workers that would fail the same way, and `flask run` exits with it too.
REFUSE_EXIT_CODE = 4


def refuse_to_serve_unless_at_head(app: Flask) -> None:
    """Exit with one line on standard error unless the app's database is at head."""
    from portal.extensions import db

    with app.app_context():
        try:
            with db.engine.connect() as connection:
                found = status(connection)
        except SQLAlchemyError as error:
            # The driver's first line says why (refused, unknown host, bad password),
            # without the URL and its password.
            reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
            _refuse(f"the database cannot be reached ({reason})")
        finally:
            # A server forks workers after loading: none may inherit this connection.
            db.engine.dispose()
    if found.state is not SchemaState.AT_HEAD:
        _refuse(found.describe())


def _refuse(reason: str) -> NoReturn:
    """Print why the portal will not serve, and exit."""
    click.echo(f"Lapor Pungli will not serve: {reason}.", err=True)
    raise SystemExit(REFUSE_EXIT_CODE)
