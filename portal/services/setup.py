"""First-time initialisation of an instance: schema, catalogue, inspectorate keys, first admin."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlalchemy import MetaData, inspect

from portal import crypto, instance_files, schema
from portal.extensions import db
from portal.identifiers import CROCKFORD
from portal.models import InspectorateKey, Report, Role, Staff
from portal.services import audit, staff
from portal.services.catalog import seed_catalog
from portal.transaction import atomic, in_atomic

# 32 Crockford symbols = 160 bits: high entropy, so HKDF (not a slow KDF) suffices.
RECOVERY_SYMBOLS = 32
_RECOVERY_AAD = b"inspectorate/recovery"


class AlreadyInitialised(Exception):
    """The instance already has inspectorate keys."""


@dataclass(frozen=True)
class SetupResult:
    """What the operator must see once and keep: never stored in clear."""

    admin_email: str
    totp_secret: str
    recovery_key: str
    fingerprint: str = ""


def is_initialised() -> bool:
    """Whether the inspectorate key pair exists (never creates anything)."""
    if not inspect(db.engine).has_table(InspectorateKey.__tablename__):
        return False
    # The id only: an instance of an older release may lack later columns.
    return db.session.scalars(db.select(InspectorateKey.id).limit(1)).first() is not None


def prepare_schema() -> schema.SchemaStatus:
    """Bring the database to head by its migrations; returns the status found before.

    A database made before migrations existed is adopted if its schema is the baseline
    (raises schema.BaselineMismatch otherwise).
    """
    # The session's open transaction would hold locks the migration waits for.
    db.session.close()
    return schema.bring_to_head(db.engine)


def wipe() -> None:
    """Drop the portal's tables, as any release made them, and Alembic's version table.

    Reflected rather than taken from the models, so an instance of another release (with
    other columns or constraints) is dropped whole; tables the portal never had are left
    alone, since the database may be shared.
    """
    db.session.close()
    ours = set(db.metadata.tables) | set(schema.baseline_metadata().tables)
    ours.add(schema.VERSION_TABLE)
    tables = MetaData()
    tables.reflect(db.engine, only=lambda name, _metadata: name in ours)
    tables.drop_all(db.engine)


def report_count() -> int:
    """How many reports the instance holds (setup --force would destroy them)."""
    return int(db.session.scalar(db.select(db.func.count()).select_from(Report)) or 0)


def initialise(
    *,
    admin_email: str,
    admin_password: str,
    force: bool = False,
    one_time_password: bool = False,
) -> SetupResult:
    """Migrate to head, seed the catalogue, make the key pair and the first admin.

    With `force`, the database is wiped first: its reports could not be opened with
    the new keys anyway. A job that owns its transaction, like keys.rotate: the schema
    step runs DDL on connections of its own and closes the session, so no caller's block
    can span it (RuntimeError inside one); the rows are written in one block after it.
    """
    if in_atomic():
        raise RuntimeError("setup.initialise migrates first: call it outside atomic()")
    private_key, public_key = crypto.generate_keypair()
    # The TOTP secret is printed now, so the first admin counts as enrolled. The admin's
    # key derivation runs before any table is touched (see portal/kdf.py).
    admin, totp_secret = staff.new_member(
        email=admin_email,
        role=Role.ADMIN,
        password=admin_password,
        private_key=private_key,
        must_change_password=one_time_password,
        totp_enrolled=True,
    )
    if force:
        wipe()
    prepare_schema()
    if is_initialised():
        raise AlreadyInitialised()
    with atomic():
        recovery_key = _store_first_rows(admin, private_key, public_key)
    return SetupResult(admin.email, totp_secret, recovery_key, crypto.fingerprint(public_key))


def _store_first_rows(
    admin: Staff, private_key: crypto.PrivateKey, public_key: crypto.PublicKey
) -> str:
    """Catalogue, key pair, first admin and the first audit entry; returns the recovery key."""
    seed_catalog()
    # A new instance gets a new audit key: the old one belongs to the wiped chain.
    instance_files.new_audit_key()
    instance_files.pin_public_key(public_key)
    recovery_key = "-".join(
        "".join(secrets.choice(CROCKFORD) for _ in range(4)) for _ in range(RECOVERY_SYMBOLS // 4)
    )
    salt = crypto.random_salt()
    _, recovery_public = recovery_keypair(recovery_key, salt)
    db.session.add(
        InspectorateKey(
            public_key=public_key,
            recovery_salt=salt,
            recovery_wrapped=b"",
            recovery_public_key=recovery_public,
            recovery_sealed=crypto.seal(recovery_public, private_key, _RECOVERY_AAD),
        )
    )
    db.session.add(admin)
    audit.record(actor="setup", action="instance.setup", target=admin.email)
    return recovery_key


def recovery_wrapping_key(recovery_key: str, salt: bytes) -> bytes:
    """The key that wraps the private key for offline recovery."""
    canonical = recovery_key.replace("-", "").replace(" ", "").upper()
    return crypto.expand_key(canonical.encode(), salt, "recovery")


def recovery_keypair(recovery_key: str, salt: bytes) -> tuple[crypto.PrivateKey, crypto.PublicKey]:
    """The key pair derived from the printed recovery key (its public half is stored)."""
    canonical = recovery_key.replace("-", "").replace(" ", "").upper()
    return crypto.keypair_from_secret(canonical.encode(), salt, "recovery")


def private_key_from_recovery(recovery_key: str) -> crypto.PrivateKey:
    """Open the inspectorate private key with the printed recovery key."""
    row = db.session.scalars(db.select(InspectorateKey).limit(1)).one()
    if row.recovery_sealed is not None:
        recovery_private, _ = recovery_keypair(recovery_key, row.recovery_salt)
        return crypto.PrivateKey(
            crypto.unseal(recovery_private, row.recovery_sealed, _RECOVERY_AAD)
        )
    # An instance set up before rotation existed: the key is wrapped, not sealed.
    key = recovery_wrapping_key(recovery_key, row.recovery_salt)
    return crypto.PrivateKey(crypto.decrypt(key, row.recovery_wrapped, _RECOVERY_AAD))


def seal_to_recovery(row: InspectorateKey, private_key: crypto.PrivateKey) -> None:
    """Seal a (new) private key to the recovery key pair; the legacy wrap is emptied."""
    if row.recovery_public_key is None:
        raise ValueError("no recovery public key: rotate once from the shell with the key")
    row.recovery_sealed = crypto.seal(
        crypto.PublicKey(row.recovery_public_key), private_key, _RECOVERY_AAD
    )
    row.recovery_wrapped = b""


def upgrade_recovery(row: InspectorateKey, recovery_key: str) -> None:
    """Give a pre-rotation instance its recovery public key (the printed key is at hand)."""
    if row.recovery_public_key is None:
        _, public = recovery_keypair(recovery_key, row.recovery_salt)
        row.recovery_public_key = public
