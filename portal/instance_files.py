"""Secrets and pins kept in the instance folder, outside the database, on purpose.

Someone who can write the database must not be able to rewrite the audit log or swap
the key reports are sealed to. So the audit chain's HMAC key and the pinned inspectorate
public key live in files beside the database (mode 0600), made by `flask setup`. With
several app servers, ship the same files to each (or set AUDIT_KEY / PINNED_PUBLIC_KEY
in config, hex): they are part of the deployment, like SECRET_KEY.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from flask import current_app

AUDIT_KEY_FILE = "audit_key"
PUBLIC_KEY_FILE = "inspectorate_public_key"
AUDIT_KEY_BYTES = 32


def _path(name: str) -> Path:
    return Path(current_app.instance_path) / name


def _write_private(path: Path, text: str) -> None:
    """Write a file readable by the owner only, replacing it atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    temporary.unlink(missing_ok=True)
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text + "\n")
    os.replace(temporary, path)


def _read_hex(name: str, config_key: str) -> bytes | None:
    configured = current_app.config.get(config_key)
    if configured:
        return bytes.fromhex(str(configured))
    path = _path(name)
    if not path.exists():
        return None
    return bytes.fromhex(path.read_text().strip())


def audit_key(*, create: bool = False) -> bytes | None:
    """The audit chain's HMAC key; made (0600) on first use if `create`."""
    key = _read_hex(AUDIT_KEY_FILE, "AUDIT_KEY")
    if key is None and create:
        _write_private(_path(AUDIT_KEY_FILE), secrets.token_hex(AUDIT_KEY_BYTES))
        key = _read_hex(AUDIT_KEY_FILE, "AUDIT_KEY")
    return key


def require_audit_key() -> bytes:
    """The audit key, made on first use (an instance set up before the chain was keyed)."""
    key = audit_key(create=True)
    if key is None:  # pragma: no cover - audit_key(create=True) always writes one
        raise RuntimeError("the audit key could not be created")
    return key


def write_audit_key(key_hex: str) -> None:
    """Install a given audit key (a restore onto a new server)."""
    bytes.fromhex(key_hex)  # ValueError if it is not hex
    _write_private(_path(AUDIT_KEY_FILE), key_hex.strip())


def remove_audit_key() -> None:
    """Remove the audit key file (undoing a refused restore)."""
    _path(AUDIT_KEY_FILE).unlink(missing_ok=True)


def new_audit_key() -> None:
    """Replace the audit key (a fresh instance only: old entries would no longer verify)."""
    _write_private(_path(AUDIT_KEY_FILE), secrets.token_hex(AUDIT_KEY_BYTES))


def pinned_public_key() -> bytes | None:
    """The inspectorate public key pinned at setup (or rotation), if any."""
    return _read_hex(PUBLIC_KEY_FILE, "PINNED_PUBLIC_KEY")


def pin_public_key(public_key: bytes) -> None:
    """Pin the inspectorate public key reports are sealed to."""
    _write_private(_path(PUBLIC_KEY_FILE), public_key.hex())
