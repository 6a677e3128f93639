"""The primitives: AEAD binding, sealing, KDF parameters."""

import pytest

from portal import crypto


def test_encrypt_binds_associated_data():
    key = crypto.random_key()
    blob = crypto.encrypt(key, b"secret", b"report/content/A")
    assert crypto.decrypt(key, blob, b"report/content/A") == b"secret"
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(key, blob, b"report/content/B")
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(crypto.random_key(), blob, b"report/content/A")


def test_fresh_nonce_each_time():
    key = crypto.random_key()
    assert crypto.encrypt(key, b"same", b"x") != crypto.encrypt(key, b"same", b"x")


def test_tampered_ciphertext_fails():
    key = crypto.random_key()
    blob = bytearray(crypto.encrypt(key, b"secret", b"x"))
    blob[-1] ^= 1
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(key, bytes(blob), b"x")


def test_seal_opens_only_with_matching_private_key():
    private, public = crypto.generate_keypair()
    other_private, _ = crypto.generate_keypair()
    blob = crypto.seal(public, b"data key", b"aad")
    assert crypto.unseal(private, blob, b"aad") == b"data key"
    with pytest.raises(crypto.DecryptionError):
        crypto.unseal(other_private, blob, b"aad")
    with pytest.raises(crypto.DecryptionError):
        crypto.unseal(private, blob, b"other aad")
    assert crypto.public_key_of(private) == public


def test_kdf_params_round_trip_and_change_output():
    params = crypto.KdfParams(8, 1, 1)
    assert crypto.KdfParams.decode(params.encode()) == params
    salt = crypto.random_salt()
    assert crypto.derive_key(b"pw", salt, params) == crypto.derive_key(b"pw", salt, params)
    assert crypto.derive_key(b"pw", salt, params) != crypto.derive_key(
        b"pw", salt, crypto.KdfParams(16, 1, 1)
    )


def test_production_kdf_defaults_are_strong():
    from portal.config import KDF_DEFAULTS

    assert KDF_DEFAULTS["memory_kib"] >= 65536
    assert KDF_DEFAULTS["iterations"] >= 3


def test_password_keys_are_independent():
    keys = crypto.password_keys("pw", crypto.random_salt(), crypto.KdfParams(8, 1, 1))
    assert keys.verifier != keys.wrapping_key
