"""Alembic environment: the portal's models, on the app's database or on a given connection.

`flask --app wsgi db ...` (Flask-Migrate) runs this inside the app context and migrates the
app's database; `portal.schema` passes its own connection in `config.attributes`.
"""

from __future__ import annotations

from typing import Any

from alembic import context
from alembic.util import CommandError
from flask import current_app
from sqlalchemy.engine import Connection

import portal.models  # noqa: F401  (registers every table on db.metadata)
from portal import schema
from portal.extensions import db

config = context.config


def _skip_empty_revision(_context: Any, _revision: Any, directives: list[Any]) -> None:
    """`db migrate` with no model change writes no empty revision file."""
    if getattr(config.cmd_opts, "autogenerate", False) and directives[0].upgrade_ops.is_empty():
        directives[:] = []
        print("No change in the models: no revision written.")


def _run(connection: Connection) -> None:
    """Run the migrations on one connection, inside its transaction."""
    context.configure(
        connection=connection,
        target_metadata=db.metadata,
        process_revision_directives=_skip_empty_revision,
        **schema.CONTEXT_OPTIONS,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_offline() -> None:
    """`db upgrade --sql`: print the SQL for a DBA to review instead of running it."""
    context.configure(
        url=current_app.config["SQLALCHEMY_DATABASE_URI"],
        target_metadata=db.metadata,
        literal_binds=True,
        **schema.CONTEXT_OPTIONS,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    """Migrate the given connection, or the app's database under the migration lock."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    schema.log_progress_to_stderr()
    with schema.migration_connection(db.engine) as own_connection:
        found = schema.status(own_connection)
        if found.state is schema.SchemaState.PRE_MIGRATION:
            # `upgrade` would fail on the existing tables and `stamp` would skip the check
            # that the tables are the baseline's: adoption goes through setup only.
            raise CommandError(found.describe())
        _run(own_connection)


if context.is_offline_mode():
    run_offline()
else:
    run_online()
