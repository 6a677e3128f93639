"""All key material and ciphers of the portal live here, and only here.

Primitives (from `cryptography`, except Argon2id):
- AEAD: AES-256-GCM with a fresh random 96-bit nonce per encryption; every call binds
  associated data naming the record, so a ciphertext moved to another record fails.
- Sealing to the inspectorate: ephemeral X25519 + HKDF-SHA256 + AES-256-GCM.
- Password and receipt keys: Argon2id (version 1.3) with a per-item random salt; the
  parameters are stored beside each wrapped key so costs can be raised without locking
  anyone out. Argon2id comes from argon2-cffi (the reference implementation): the
  Argon2id of `cryptography` 50.0.2 deadlocks when two threads derive with lanes > 1 at
  once, which hung every threaded server. Both give the same bytes for the same inputs.
- Every Argon2id run takes one of a bounded number of slots (`DerivationSlots`), so a
  burst of sign-ins queues briefly or is refused, instead of exhausting CPU and memory.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import math
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import NewType

from argon2.low_level import Type as Argon2Type
from argon2.low_level import hash_secret_raw
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.twofactor import InvalidToken
from cryptography.hazmat.primitives.twofactor.totp import TOTP

DataKey = NewType("DataKey", bytes)
PrivateKey = NewType("PrivateKey", bytes)
PublicKey = NewType("PublicKey", bytes)

KEY_BYTES = 32
NONCE_BYTES = 12
SALT_BYTES = 16
_SEAL_INFO = b"lapor-pungli/seal/v1"


# Argon2 version 0x13 (1.3, RFC 9106): what `cryptography` used, so stored keys still open.
ARGON2_VERSION = 19


class DecryptionError(Exception):
    """A ciphertext did not open: wrong key, wrong record, or tampered bytes."""


class DerivationBusy(Exception):
    """No key-derivation slot came free in time: the server is busy, nothing was done."""

    def __init__(self, retry_after: int) -> None:
        """Keep the number of seconds after which a retry is likely to get a slot."""
        super().__init__(f"no derivation slot within the wait; retry after {retry_after} s")
        self.retry_after = retry_after


class DerivationSlots:
    """At most `count` Argon2id runs at once in this process; a caller waits a bounded time.

    Argon2id is deliberately expensive (tens of MiB and a core per lane for a fraction of a
    second): without a bound, a burst of submissions or sign-ins makes every request slow
    and can exhaust memory. `before` runs ahead of each wait, so a caller can refuse a
    derivation attempted in the wrong state (the portal's: holding a database connection).
    """

    def __init__(
        self, count: int, wait_seconds: float, before: Callable[[], None] | None = None
    ) -> None:
        """A pool of `count` slots; waiting longer than `wait_seconds` raises DerivationBusy."""
        if count < 1:
            raise ValueError("at least one derivation slot is needed")
        self.count = count
        self.wait_seconds = wait_seconds
        # A refused caller waited the whole wait; a retry after as long again finds the
        # queue moved on.
        self.retry_after = max(1, math.ceil(wait_seconds))
        self._before = before
        self._free = threading.BoundedSemaphore(count)

    @contextmanager
    def hold(self) -> Iterator[None]:
        """Hold one slot for the body; DerivationBusy if none frees up within the wait."""
        if self._before is not None:
            self._before()
        if not self._free.acquire(timeout=self.wait_seconds):
            raise DerivationBusy(retry_after=self.retry_after)
        try:
            yield
        finally:
            self._free.release()


@dataclass(frozen=True)
class KdfParams:
    """Argon2id cost parameters, stored with everything derived from them."""

    memory_kib: int
    iterations: int
    lanes: int

    def encode(self) -> str:
        """Serialise as a short string for a database column."""
        return f"argon2id$m={self.memory_kib},t={self.iterations},p={self.lanes}"

    @classmethod
    def decode(cls, text: str) -> KdfParams:
        """Parse the string written by `encode`."""
        name, _, rest = text.partition("$")
        if name != "argon2id":
            raise ValueError(f"unknown KDF {name!r}")
        fields = dict(part.split("=") for part in rest.split(","))
        return cls(int(fields["m"]), int(fields["t"]), int(fields["p"]))

    @classmethod
    def from_config(cls, costs: dict[str, int]) -> KdfParams:
        """Build from a config dict such as `RECEIPT_KDF`."""
        return cls(costs["memory_kib"], costs["iterations"], costs["lanes"])


def random_key() -> DataKey:
    """A fresh random 256-bit symmetric key."""
    return DataKey(os.urandom(KEY_BYTES))


def random_salt() -> bytes:
    """A fresh random salt for a KDF."""
    return os.urandom(SALT_BYTES)


def encrypt(key: bytes, plaintext: bytes, associated_data: bytes) -> bytes:
    """AEAD-encrypt; returns nonce || ciphertext-with-tag."""
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, associated_data)


def decrypt(key: bytes, blob: bytes, associated_data: bytes) -> bytes:
    """Open a blob made by `encrypt` with the same key and associated data."""
    if len(blob) < NONCE_BYTES + 16:
        raise DecryptionError("ciphertext too short")
    try:
        return AESGCM(key).decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], associated_data)
    except InvalidTag as error:
        raise DecryptionError("ciphertext did not authenticate") from error


def generate_keypair() -> tuple[PrivateKey, PublicKey]:
    """A new X25519 key pair as raw 32-byte strings."""
    private = X25519PrivateKey.generate()
    return PrivateKey(_raw_private(private)), PublicKey(_raw_public(private.public_key()))


def public_key_of(private_key: PrivateKey) -> PublicKey:
    """The public half of a raw X25519 private key."""
    return PublicKey(_raw_public(X25519PrivateKey.from_private_bytes(private_key).public_key()))


def keypair_from_secret(secret: bytes, salt: bytes, purpose: str) -> tuple[PrivateKey, PublicKey]:
    """An X25519 key pair derived from a high-entropy secret (the printed recovery key).

    Lets anyone seal to the recovery key (its public half is stored) while only the
    holder of the printed secret can open: rotation needs no secret to keep it working.
    """
    private = PrivateKey(expand_key(secret, salt, "keypair/" + purpose))
    return private, public_key_of(private)


def seal(public_key: PublicKey, plaintext: bytes, associated_data: bytes) -> bytes:
    """Encrypt to a public key: ephemeral public key || nonce || ciphertext."""
    ephemeral = X25519PrivateKey.generate()
    ephemeral_public = _raw_public(ephemeral.public_key())
    shared = ephemeral.exchange(X25519PublicKey.from_public_bytes(public_key))
    key = _hkdf(shared, salt=ephemeral_public + public_key, info=_SEAL_INFO)
    return ephemeral_public + encrypt(key, plaintext, associated_data)


def unseal(private_key: PrivateKey, blob: bytes, associated_data: bytes) -> bytes:
    """Open a blob made by `seal` with the matching private key."""
    if len(blob) < KEY_BYTES:
        raise DecryptionError("sealed blob too short")
    ephemeral_public = blob[:KEY_BYTES]
    own = X25519PrivateKey.from_private_bytes(private_key)
    try:
        shared = own.exchange(X25519PublicKey.from_public_bytes(ephemeral_public))
    except ValueError as error:  # all-zero shared secret from a crafted point
        raise DecryptionError("invalid ephemeral key") from error
    key = _hkdf(shared, salt=ephemeral_public + _raw_public(own.public_key()), info=_SEAL_INFO)
    return decrypt(key, blob[KEY_BYTES:], associated_data)


def derive_key(secret: bytes, salt: bytes, params: KdfParams, *, slots: DerivationSlots) -> bytes:
    """Stretch a human secret (receipt, password) into a 256-bit key with Argon2id.

    Runs in one of `slots`; raises DerivationBusy when none frees up within its wait.
    """
    with slots.hold():
        return hash_secret_raw(
            secret,
            salt,
            time_cost=params.iterations,
            memory_cost=params.memory_kib,
            parallelism=params.lanes,
            hash_len=KEY_BYTES,
            type=Argon2Type.ID,
            version=ARGON2_VERSION,
        )


def expand_key(secret: bytes, salt: bytes, purpose: str) -> bytes:
    """Derive a purpose-specific 256-bit key from high-entropy input with HKDF-SHA256."""
    return _hkdf(secret, salt=salt, info=b"lapor-pungli/" + purpose.encode())


def keyed_hash(key: bytes, purpose: str, value: str) -> str:
    """HMAC-SHA256 of a value under a purpose-specific subkey, as hex.

    Used where a value must be recognised but never stored, such as a client
    address for rate limiting.
    """
    subkey = _keyed_hash_subkey(key, purpose)
    return hmac.new(subkey, value.encode(), hashlib.sha256).hexdigest()


def mac(key: bytes, purpose: str, message: bytes) -> str:
    """HMAC-SHA256 of a message under a purpose-specific subkey of `key`, as hex.

    Used to key the audit chain: without the key (kept outside the database) nobody
    can compute a valid entry, head or anchor.
    """
    subkey = expand_key(key, b"", "mac/" + purpose)
    return hmac.new(subkey, message, hashlib.sha256).hexdigest()


def fingerprint(public_key: PublicKey) -> str:
    """A short, readable SHA-256 fingerprint of a public key (groups of 4 hex digits)."""
    digest = hashlib.sha256(b"lapor-pungli/public-key/" + public_key).hexdigest()[:32]
    return " ".join(digest[index : index + 4] for index in range(0, len(digest), 4)).upper()


@functools.lru_cache(maxsize=64)
def _keyed_hash_subkey(key: bytes, purpose: str) -> bytes:
    """The HKDF subkey of `keyed_hash`, derived once per (key, purpose) in this process.

    Every request hashes its address for the rate limiter: the subkey is the same each
    time, so HKDF need not run per request. The process holds the secret key anyway.
    """
    return expand_key(key, b"", "keyed-hash/" + purpose)


def constant_time_equal(left: bytes, right: bytes) -> bool:
    """Compare secrets without leaking where they differ."""
    return hmac.compare_digest(left, right)


def _hkdf(secret: bytes, *, salt: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=salt or None, info=info).derive(
        secret
    )


def _raw_private(key: X25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.Raw,
        serialization.PrivateFormat.Raw,
        serialization.NoEncryption(),
    )


def _raw_public(key: X25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


@dataclass(frozen=True)
class PasswordKeys:
    """Two independent keys from one Argon2id run over a password."""

    verifier: bytes  # stored; proves the password without revealing the wrapping key
    wrapping_key: bytes  # never stored; wraps the member's copy of the private key


def password_keys(
    password: str, salt: bytes, params: KdfParams, *, slots: DerivationSlots
) -> PasswordKeys:
    """Derive a staff member's verifier and wrapping key (one Argon2id run in `slots`)."""
    master = derive_key(password.encode(), salt, params, slots=slots)
    return PasswordKeys(
        verifier=expand_key(master, salt, "password/verifier"),
        wrapping_key=expand_key(master, salt, "password/wrap"),
    )


TOTP_DIGITS = 6
TOTP_STEP_SECONDS = 30


def totp_matching_step(secret: bytes, code: str, now: float, window: int = 1) -> int | None:
    """The time step (±window) whose TOTP code equals `code`, or None.

    Uses cryptography's own TOTP (RFC 6238, SHA-1, 6 digits, 30 s) as authenticator
    apps do. The caller rejects steps already used, so a code works once.
    """
    if len(code) != TOTP_DIGITS or not code.isdigit():
        return None
    totp = _totp(secret)
    current = int(now) // TOTP_STEP_SECONDS
    for step in range(current - window, current + window + 1):
        try:
            totp.verify(code.encode(), step * TOTP_STEP_SECONDS)
        except InvalidToken:
            continue
        return step
    return None


def totp_code(secret: bytes, now: float) -> str:
    """The current TOTP code (used by tests and enrolment checks)."""
    return _totp(secret).generate(int(now)).decode()


def _totp(secret: bytes) -> TOTP:
    # SHA-1 is what RFC 6238 and every authenticator app use; HMAC-SHA-1 is not broken.
    sha1 = hashes.SHA1()  # noqa: S303
    return TOTP(secret, TOTP_DIGITS, sha1, TOTP_STEP_SECONDS, enforce_key_length=False)


# --- padding to size buckets ---------------------------------------------------------------

# Plaintext is padded before encryption so that a ciphertext's length tells only a size
# bucket, not the length of what someone wrote (a one-word note and a long chronology
# would otherwise be told apart, and a short known text recognised). Buckets double from
# 256 bytes to 64 KiB, then grow in steps of 64 KiB.
PAD_FIRST_BUCKET = 256
PAD_LINEAR_STEP = 64 * 1024
# A NUL byte, then the true length (4 bytes, big-endian). Text stored before padding
# existed (JSON or typed UTF-8) never starts with NUL, so it still reads as it was.
_PAD_MARK = b"\x00"
_PAD_HEADER = 5


class PaddingError(ValueError):
    """A padded plaintext whose header does not fit its length."""


def pad_bucket(size: int) -> int:
    """The padded size for `size` bytes of plaintext (header included)."""
    needed = size + _PAD_HEADER
    bucket = PAD_FIRST_BUCKET
    while bucket < needed and bucket < PAD_LINEAR_STEP:
        bucket *= 2
    if bucket >= needed:
        return bucket
    return -(-needed // PAD_LINEAR_STEP) * PAD_LINEAR_STEP


def pad(data: bytes) -> bytes:
    """`data` with its length in front and zeros after, to its size bucket."""
    padded = _PAD_MARK + len(data).to_bytes(_PAD_HEADER - 1, "big") + data
    return padded + bytes(pad_bucket(len(data)) - len(padded))


def unpad(padded: bytes) -> bytes:
    """The data `pad` was given (unpadded text from before padding as is); PaddingError
    if the header does not fit."""
    if not padded.startswith(_PAD_MARK):
        return padded
    size = int.from_bytes(padded[1:_PAD_HEADER], "big")
    if len(padded) < _PAD_HEADER + size:
        raise PaddingError("padded plaintext shorter than its header says")
    return padded[_PAD_HEADER : _PAD_HEADER + size]
