"""Health checks of an app server: database reachable, schema at head, inspectorate key.

The answer names which check failed and nothing else: no revision, host, count or
error text, since anyone who can reach the server can ask.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import inspect
from sqlalchemy.exc import SQLAlchemyError

from portal import schema
from portal.extensions import db
from portal.models import InspectorateKey

OK = "ok"
FAIL = "fail"
# A check that could not run because the database could not be reached.
UNKNOWN = "unknown"


@dataclass(frozen=True)
class Health:
    """The result of each check, by name."""

    checks: dict[str, str]

    @property
    def healthy(self) -> bool:
        """Whether every check passed."""
        return all(value == OK for value in self.checks.values())


def check() -> Health:
    """Run the checks on a connection of its own, outside the request's session."""
    try:
        with db.engine.connect() as connection:
            at_head = schema.is_at_head(connection)
            # Before setup (or on a half-made database) the table may not exist yet.
            has_key = (
                inspect(connection).has_table(InspectorateKey.__tablename__)
                and connection.execute(db.select(InspectorateKey.id).limit(1)).first() is not None
            )
    except SQLAlchemyError:
        return Health({"database": FAIL, "schema": UNKNOWN, "inspectorate_key": UNKNOWN})
    return Health(
        {
            "database": OK,
            "schema": OK if at_head else FAIL,
            "inspectorate_key": OK if has_key else FAIL,
        }
    )
