"""Version tokens in the settings table: what each server's caches of shared data are keyed on.

Data every page reads and few people change (the catalogue, the staff list) is kept per app
server under a random token that every change replaces in its own transaction. Reads check
the token in the database at most once a second per server (memo.shared_version), so a
change shows at once on the server that made it and within that second on every other.
Content cached under a token is never older than the change that wrote the token, since
the token is read before the rows.
"""

from __future__ import annotations

import json
import secrets

from sqlalchemy import bindparam, event, select
from sqlalchemy.orm import Session

from portal import memo
from portal.extensions import db
from portal.models import Setting

_SETTING = Setting.__table__.c
_QUERY = select(_SETTING.value).where(_SETTING.key == bindparam("key"))
# Keys a session's transaction replaced, forgotten again once it commits (session.info).
_REPLACED = "portal.replaced_versions"


def current(key: str) -> str:
    """The token under `key` (a primary-key read, at most once a second; "-" if never set).

    Inside a transaction with pending changes they are flushed first and the token read
    back, so a change sees its own new token.
    """
    if db.session.new or db.session.dirty:
        db.session.flush()
        return _read(key)  # this transaction's own token, not a kept one
    return memo.shared_version(key, lambda: _read(key))


def _read(key: str) -> str:
    value = db.session.connection().execute(_QUERY, {"key": key}).scalar()
    return value if value is not None else "-"


def replace(key: str, session: Session | None = None) -> None:
    """Write a new token under `key` in the transaction of the change it stands for.

    `session`: the one that transaction belongs to (a flush listener's), by default the app's.
    """
    session = session if session is not None else db.session()
    token = json.dumps(secrets.token_hex(8))
    row = session.get(Setting, key)
    if row is None:
        session.add(Setting(key=key, value=token))
    else:
        row.value = token
    # This server shows its own change at once: the kept token is forgotten now and again
    # at commit, in case another request read the old one in between.
    memo.forget_version(key)
    session.info.setdefault(_REPLACED, set()).add(key)


def _forget_replaced(session: Session) -> None:
    for key in session.info.pop(_REPLACED, ()):
        memo.forget_version(key)


def _drop_replaced(session: Session, *_args: object) -> None:
    session.info.pop(_REPLACED, None)


def install() -> None:
    """Forget replaced tokens at commit (once per process)."""
    for name, listener in (("after_commit", _forget_replaced), ("after_rollback", _drop_replaced)):
        if not event.contains(Session, name, listener):
            event.listen(Session, name, listener)
