"""Key derivation inside the app: this process's slots, never while holding a connection.

Argon2id takes a fraction of a second on purpose. A request that derived while holding a
database connection kept it checked out for that long, so a burst of submissions emptied
the pool and the requests behind it failed. Call sites therefore read what they need
(salt, parameters, wrapped key), call `release_connection()`, derive, then continue in a
new transaction. The slots' guard makes a mistake loud in tests (`ConnectionHeld`) and
visible in the log in production.
"""

from __future__ import annotations

import threading
from typing import Any

from flask import current_app, has_request_context, request
from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction

from portal import crypto
from portal.extensions import db

_EXTENSION = "portal.kdf_slots"
_CREATE = threading.Lock()
# Set in a session's info while its transaction holds writes not yet committed.
_WROTE = "portal.kdf_wrote"


class ConnectionHeld(RuntimeError):
    """A key derivation was about to run while the request holds a database transaction."""


def slots() -> crypto.DerivationSlots:
    """The derivation slots of this app (one app per process), made on first use."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    found: crypto.DerivationSlots | None = app.extensions.get(_EXTENSION)
    if found is None:
        with _CREATE:  # two first requests at once must not make two pools
            found = app.extensions.get(_EXTENSION)
            if found is None:
                found = crypto.DerivationSlots(
                    app.config["KDF_SLOTS"],
                    app.config["KDF_SLOT_WAIT_SECONDS"],
                    before=_no_transaction_held,
                )
                app.extensions[_EXTENSION] = found
    return found


def release_connection() -> None:
    """End the current read-only transaction so its connection returns to the pool.

    Loaded objects stay in the session, expired: reading them afterwards loads fresh
    values in a new transaction. Unsaved changes would be lost, so they are refused.
    """
    session = db.session()
    if session.new or session.dirty or session.deleted or session.info.get(_WROTE):
        raise RuntimeError("a key derivation would discard unsaved changes")
    # Not a transaction owner's rollback: nothing was written (checked above), so this only
    # hands the connection back. Inside an atomic() block the block goes on in a new
    # transaction, which is why derivations come before a block's first write.
    session.rollback()


# Flushed rows and UPDATE/DELETE statements are not in session.new/dirty/deleted; these
# listeners remember them until the transaction ends, so release_connection() sees them.
@event.listens_for(Session, "after_flush")
def _flushed(session: Session, _context: Any) -> None:
    session.info[_WROTE] = True


@event.listens_for(Session, "do_orm_execute")
def _executed(state: ORMExecuteState) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        state.session.info[_WROTE] = True


@event.listens_for(Session, "after_transaction_end")
def _ended(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:
        session.info.pop(_WROTE, None)


def _no_transaction_held() -> None:
    """Refuse (tests) or log (production) a derivation inside a request's transaction.

    Outside requests (the CLI: setup, recover) nobody waits for the pool.
    """
    if not has_request_context() or not db.session().in_transaction():
        return
    message = f"key derivation while holding a database transaction at {request.endpoint}"
    if current_app.config["KDF_FORBID_HELD_CONNECTION"] or current_app.testing:
        raise ConnectionHeld(message)
    current_app.logger.warning(message)
