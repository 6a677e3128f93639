"""Signed values made every request (session cookie, CSRF token), with their keys kept.

itsdangerous builds a new signer and derives its key again (an HMAC or a hash) for every
value it signs, and tries zlib on payloads of a few dozen bytes that never shrink. A first
visit signs twice (its session cookie and its form's CSRF token): ~0.1 ms of a ~0.6 ms
request. The classes here make the same signatures, readable by itsdangerous' own classes
and by Flask-WTF's `validate_csrf`, with the signer and its derived keys made once per
set of secret keys.
"""

from __future__ import annotations

import functools
import hashlib
import os
from typing import Any

from flask import current_app, g, session
from itsdangerous import Signer, TimestampSigner, URLSafeTimedSerializer
from itsdangerous.encoding import base64_encode
from itsdangerous.url_safe import URLSafeSerializerMixin

# Below this many bytes of JSON, zlib does not shrink a payload (a session holding a
# CSRF token is ~60): such payloads are sent as they are, which loads() reads the same.
COMPRESS_FROM_BYTES = 128


class KeptKeySigner(TimestampSigner):
    """A timestamp signer that derives each secret key's signing key once."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._derived: dict[bytes | None, bytes] = {}

    def derive_key(self, secret_key: str | bytes | None = None) -> bytes:
        """The derived key of `secret_key` (default: the newest), computed on first use."""
        kept_as = secret_key.encode() if isinstance(secret_key, str) else secret_key
        derived = self._derived.get(kept_as)
        if derived is None:
            derived = self._derived[kept_as] = super().derive_key(secret_key)
        return derived


class KeptSignerSerializer(URLSafeTimedSerializer):
    """A URL-safe timed serializer that keeps one signer per salt."""

    default_signer = KeptKeySigner

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._signers: dict[str | bytes | None, Signer] = {}

    def make_signer(self, salt: str | bytes | None = None) -> Signer:
        """The signer for `salt`, made on first use (signers keep no per-value state)."""
        signer = self._signers.get(salt)
        if signer is None:
            signer = self._signers[salt] = super().make_signer(salt)
        return signer

    def dump_payload(self, obj: Any) -> bytes:
        """The payload, zlib-compressed only when it is long enough to shrink."""
        plain = super(URLSafeSerializerMixin, self).dump_payload(obj)  # the JSON, as bytes
        if len(plain) >= COMPRESS_FROM_BYTES:
            return super().dump_payload(obj)
        return base64_encode(plain)


# Flask-WTF's names: its validate_csrf and its own generate_csrf read these.
CSRF_SALT = "wtf-csrf-token"
CSRF_FIELD = "csrf_token"


@functools.lru_cache(maxsize=4)
def _csrf_serializer(secret_key: str | bytes) -> KeptSignerSerializer:
    return KeptSignerSerializer(secret_key, salt=CSRF_SALT)


def csrf_token() -> str:
    """This request's CSRF token, as Flask-WTF's `generate_csrf` makes it.

    The same raw token in the session (made the same way) and the same signed form, kept
    on `g` where Flask-WTF looks first, so forms rendered later in the request carry the
    same token. Only the serializer is kept between requests. The portal sets neither
    WTF_CSRF_SECRET_KEY nor WTF_CSRF_FIELD_NAME (tests/test_signing.py checks both).
    """
    token = g.get(CSRF_FIELD)
    if token is None:
        raw = session.get(CSRF_FIELD)
        if not isinstance(raw, str):
            raw = session[CSRF_FIELD] = hashlib.sha1(os.urandom(64)).hexdigest()  # noqa: S324 - Flask-WTF's token: 64 random bytes, not a hash of secrets
        secret = current_app.config.get("WTF_CSRF_SECRET_KEY") or current_app.secret_key
        token = _csrf_serializer(secret).dumps(raw)
        setattr(g, CSRF_FIELD, token)
    return str(token)
