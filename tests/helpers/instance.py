"""Test instances: the app factory with cheap KDFs, and one setup copied per test.

`flask setup` is the slow part of a fresh instance (a key pair, the first admin's key
derivation, the audit key): `initialise` runs it once per session and `copy_instance`
hands each test its own copy of the folder (database, audit key, pinned public key),
with a secret key of its own so that no two tests share rate-limit keys or sessions.
"""

from __future__ import annotations

import os
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Flask
from jinja2 import BytecodeCache
from jinja2.bccache import Bucket

from portal import create_app, instance
from portal.config import INSTANCE_KEY_FILE

# Cheap Argon2id for tests only; production costs stay in portal/config.py.
TEST_KDF = {"memory_kib": 8, "iterations": 1, "lanes": 1}
ADMIN_EMAIL = "admin@example.test"
ADMIN_PASSWORD = "correct horse battery staple"

# PostgreSQL is the production database; CI and this machine run one on 127.0.0.1.
POSTGRES_ADMIN_URL = os.environ.get(
    "TEST_POSTGRES_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/test"
)

# Limits high enough that every example reaches validation (the limits have their own tests).
NO_LIMITS = {
    name: "100000 per minute"
    for name in (
        "RATELIMIT_DEFAULT",
        "RATELIMIT_REPORT_SUBMIT",
        "RATELIMIT_STATUS_LOOKUP",
        "RATELIMIT_INBOX_LOGIN",
        "RATELIMIT_STAFF_LOGIN",
        "RATELIMIT_RECEIPT_FAILURES",
        "RATELIMIT_STAFF_FAILURES",
        "RATELIMIT_STAFF_ACCOUNT_FAILURES",
    )
}

# Settings `flask setup` reads (the database, the admin's key derivation, keys it writes
# or keys configured instead of files): a test overriding one gets a setup of its own.
SETUP_SETTINGS = frozenset(
    {
        "SQLALCHEMY_DATABASE_URI",
        "PASSWORD_KDF",
        "RECEIPT_KDF",
        "SECRET_KEY",
        "SECRET_KEY_FALLBACKS",
        "AUDIT_KEY",
        "PINNED_PUBLIC_KEY",
    }
)


class _MemoryBytecodeCache(BytecodeCache):
    """Compiled templates kept in memory for every app of the session.

    Each test's app has its own Jinja environment, which would lex, parse and compile
    every template it renders again (most of a short test's time). The bucket checks the
    template's source, so an edited template is compiled afresh.
    """

    def __init__(self) -> None:
        self.store: dict[str, bytes] = {}

    def load_bytecode(self, bucket: Bucket) -> None:
        code = self.store.get(bucket.key)
        if code is not None:
            bucket.bytecode_from_string(code)

    def dump_bytecode(self, bucket: Bucket) -> None:
        self.store[bucket.key] = bucket.bytecode_to_string()


TEMPLATE_CACHE = _MemoryBytecodeCache()


@dataclass
class Instance:
    """What `flask setup` printed once for the test instance."""

    folder: Path
    recovery_key: str
    totp_secret: str


def make_app(folder: Path, **overrides: Any) -> Flask:
    """An app on SQLite in `folder` with cheap KDFs; its folder and key made as setup does."""
    from tests.helpers.forms import PortalClient

    config = {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder / 'portal.db'}",
        "RECEIPT_KDF": TEST_KDF,
        "PASSWORD_KDF": TEST_KDF,
        "RATELIMIT_STORAGE_URI": "memory://",
        **overrides,
    }
    application = create_app(config)
    application.test_client_class = PortalClient
    application.jinja_env.bytecode_cache = TEMPLATE_CACHE
    instance.create(application)
    return application


def copy_database(template: Path, folder: Path) -> None:
    """Put a copy of the migrated database where the instance in `folder` expects it."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    shutil.copyfile(template, folder / "portal.db")
    (folder / "portal.db").chmod(0o600)


def release(application: Flask) -> None:
    """Close the app's database connections (SQLite files may then be copied or removed)."""
    from portal.extensions import db

    with application.app_context():
        db.session.remove()
        db.engine.dispose()


def initialise(application: Flask, folder: Path) -> Instance:
    """Run setup on `application` (instance folder `folder`); what it printed."""
    from portal.services import setup as setup_service

    with application.app_context():
        result = setup_service.initialise(admin_email=ADMIN_EMAIL, admin_password=ADMIN_PASSWORD)
    return Instance(folder, result.recovery_key, result.totp_secret)


def copy_instance(template: Instance, folder: Path) -> Instance:
    """A copy of an initialised instance folder in `folder`, with its own secret key.

    The copy has the template's database (key pair, admin, catalogue, audit entry), audit
    key and pinned public key; nothing is shared at run time: each copy's database, TOTP
    steps, sessions and audit chain change alone.
    """
    shutil.copytree(template.folder, folder, dirs_exist_ok=True)
    folder.chmod(0o700)
    key = folder / INSTANCE_KEY_FILE
    key.unlink()
    fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_hex(32))
    return Instance(folder, template.recovery_key, template.totp_secret)
