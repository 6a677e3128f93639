"""The staff list every staff page shows (assignable members, emails), kept per server.

Tens of rows that change when an admin adds, disables or re-roles a member, read by every
queue page: each server keeps them under the staff list's version token
(services/versions.py). Every flush that adds or removes a member, or changes what the list
shows (email, active, role), replaces the token in its own transaction, whichever code made
the change; a member added on one server is listed there at once and on every other within
a second.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import event, inspect, select
from sqlalchemy.orm import Session

from portal import memo
from portal.extensions import db
from portal.models import HANDLER_ROLES, Staff
from portal.services import versions

VERSION_KEY = "staff_version"
# The columns the list is made of: a change to any of them replaces the token.
_LISTED = ("email", "active", "role")
_CACHE = "portal.staff_directory"
_CACHE_SIZE = 4
_HANDLER_ROLES = frozenset(role.value for role in HANDLER_ROLES)
# Id, email and what decides "assignable": no keys, no password records.
_QUERY = select(Staff.id, Staff.email, Staff.active, Staff.role).order_by(Staff.email)


@dataclass(frozen=True)
class StaffNames:
    """The members reports can be assigned to, and every member's email by id."""

    handlers: tuple[tuple[int, str], ...]  # (id, email) of active handlers, by email
    emails: dict[int, str]


def names() -> StaffNames:
    """The staff list as of its current version (one query per version on this server).

    Shared by every request, which must only read it.
    """
    return memo.app_cache(_CACHE, _CACHE_SIZE).get((versions.current(VERSION_KEY),), _read)


def _read() -> StaffNames:
    rows = db.session.connection().execute(_QUERY).all()
    return StaffNames(
        handlers=tuple(
            (row.id, row.email) for row in rows if row.active and row.role in _HANDLER_ROLES
        ),
        emails={row.id: row.email for row in rows},
    )


def _listed_change(member: Any) -> bool:
    state = inspect(member)
    return any(state.attrs[name].history.has_changes() for name in _LISTED)


def _before_flush(session: Session, _context: Any, _instances: Any) -> None:
    """Replace the token in the flush of any change to the list (one owner for all of them)."""
    changed = any(isinstance(row, Staff) for row in (*session.new, *session.deleted)) or any(
        isinstance(row, Staff) and _listed_change(row) for row in session.dirty
    )
    if changed:
        versions.replace(VERSION_KEY, session)


def install() -> None:
    """Follow every session's staff changes (once per process)."""
    if not event.contains(Session, "before_flush", _before_flush):
        event.listen(Session, "before_flush", _before_flush)
