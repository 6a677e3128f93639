"""Flask extensions, created unbound and bound to the app in the factory."""

from __future__ import annotations

from flask_babel import Babel
from flask_limiter import Limiter
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

from portal import limitstore  # noqa: F401  (registers the memory:// storage first)
from portal.security import client_key


class Base(DeclarativeBase):
    """Declarative base with a naming convention, so migrations name constraints alike."""

    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


db = SQLAlchemy(model_class=Base)
csrf = CSRFProtect()
# `flask --app wsgi db ...`: Alembic migrations (migrations/, see portal/schema.py).
migrate = Migrate()
babel = Babel()
# The key is a keyed hash of the client address: the address itself is never stored.
# RATELIMIT_DEFAULT, every request's budget, is counted by portal.security.
limiter = Limiter(key_func=client_key)
