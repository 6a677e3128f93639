"""The primitives: AEAD binding, sealing, KDF parameters."""

import threading
import time

import pytest

from portal import crypto
from portal.services import setup as setup_service

SLOTS = crypto.DerivationSlots(2, 5.0)


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
    first = crypto.derive_key(b"pw", salt, params, slots=SLOTS)
    assert first == crypto.derive_key(b"pw", salt, params, slots=SLOTS)
    assert first != crypto.derive_key(b"pw", salt, crypto.KdfParams(16, 1, 1), slots=SLOTS)


def test_production_kdf_defaults_are_strong():
    from portal.config import KDF_DEFAULTS

    assert KDF_DEFAULTS["memory_kib"] >= 65536
    assert KDF_DEFAULTS["iterations"] >= 3


def test_password_keys_are_independent():
    keys = crypto.password_keys("pw", crypto.random_salt(), crypto.KdfParams(8, 1, 1), slots=SLOTS)
    assert keys.verifier != keys.wrapping_key


# --- Keys made before the switch to argon2-cffi still open ---------------------------
# Made by the previous code (cryptography 50.0.2's Argon2id, one thread at a time) with
# the salt, receipt and password below: a receipt's wrapped data key, a staff member's
# verifier and wrapped private key, the recovery-wrapped inspectorate key, for the
# production cost, the tests' cost and the concurrency tests' cost. The stored KDF
# string is what the database holds beside each of them.
VECTOR_SALT = bytes.fromhex("5f1c0a93e2b74d8816a3c5e0f9b2d471")
VECTOR_RECEIPT = b"48213907561274039815"
VECTOR_PASSWORD = "correct horse battery staple"
VECTOR_DATA_KEY = bytes(range(32))
VECTOR_PRIVATE_KEY = bytes(range(32, 64))
LEGACY = {
    "argon2id$m=65536,t=3,p=4": (
        "a108a834a874e6bb0984af16b0955f01fcbd6cd6a577ce1b0bcdeafc8bb03d6a",
        "a625a2073ada21e9e9784e2ecf99d7f7756496fdb9044c56c51d0392eb417ae913b78a2d5302cfba"
        "6480640aadafb0c2d2fc2bbad8b8789caba1a52f",
        "dae319f23acb9994a9eb9c96072feca6b53f656b291d1c8bd64cc4deef3e7b42",
        "c08732ceaf97de4c2689aabb6e1467523adcc42f15dabd7ec6affd2756ae22e234a2bfe1f41b897d"
        "50dbcae392ba2a23600f6d6d453d7f451e4054ca",
    ),
    "argon2id$m=8,t=1,p=1": (
        "7f4b896e5a72021d8aa7a83ff0febf0de842791b7dd79cf1c5a3092655a4f228",
        "c3f4a2affb66003056563d4affd527c47cde97e74cc33567ccb74271cba353da052a64dbbcc00ca5"
        "7ab8a6f6c61da7c3cdb8f4a4323f7d21c705f2e7",
        "4ad2cd116f822ca77322e96a255dba068d4a465705183aa7a4ba73555eb573be",
        "dd0dc362a98ffe567ca0b8b4729d91b2667d1b723a1d913cf76e757b299e189c73d0a3f32d45314e"
        "747f53a7244668ec3f54fc0ae89a6a0ad7537570",
    ),
    "argon2id$m=65536,t=1,p=4": (
        "7b7b4d81164f62185bace8c6705411acc7dbe460449881e01c1fa90f70bf7d33",
        "3ec89c4188cb8a5effcb700ee65bd663b153b8b1056166a5537760f3a61d76ef19cf154548304461"
        "1e708f4023de4440438a986beab9b4cb16274a0c",
        "a18e3a7d4314a3c559952344acd8a045626921601a413b8e1d5f48d5ff6cc86c",
        "8378249ee5f2dbeba65f1f1d4ca17b6ebbce115ccb5d83ba652034b75efc68094f464ff48593508e"
        "4d9610aa5c96c78bbe1868e9686c1489693d0844",
    ),
}
LEGACY_RECOVERY_KEY = "7K3Q-9XMD-2PAB-CDEF-GHJK-MNPQ-RSTV-WXYZ"
LEGACY_RECOVERY_WRAPPED = (
    "0ac3b93c4a921ba447a329b717ddd1d31fbbc22fd2da79e2566dad98e4fafdd3ae7fed640ede7c79"
    "3c3be0f9bb2d98f977780bf8f7abbe1f5e6118ff"
)


@pytest.mark.parametrize("stored_kdf", sorted(LEGACY))
def test_keys_wrapped_by_the_previous_argon2id_still_open(stored_kdf):
    derived, receipt_wrapped, verifier, wrapped_private = LEGACY[stored_kdf]
    params = crypto.KdfParams.decode(stored_kdf)
    key = crypto.derive_key(VECTOR_RECEIPT, VECTOR_SALT, params, slots=SLOTS)
    assert key.hex() == derived
    opened = crypto.decrypt(key, bytes.fromhex(receipt_wrapped), b"report/key/SRG-7K3Q-9XMD-2P")
    assert opened == VECTOR_DATA_KEY
    keys = crypto.password_keys(VECTOR_PASSWORD, VECTOR_SALT, params, slots=SLOTS)
    assert keys.verifier.hex() == verifier
    wrapped = bytes.fromhex(wrapped_private)
    assert crypto.decrypt(keys.wrapping_key, wrapped, b"staff/key/admin@example.test") == (
        VECTOR_PRIVATE_KEY
    )


def test_recovery_key_wrapped_by_the_previous_code_still_opens():
    key = setup_service.recovery_wrapping_key(LEGACY_RECOVERY_KEY, VECTOR_SALT)
    blob = bytes.fromhex(LEGACY_RECOVERY_WRAPPED)
    assert crypto.decrypt(key, blob, b"inspectorate/recovery") == bytes(range(64, 96))


def test_many_threads_derive_at_once_without_hanging():
    # cryptography 50.0.2's Argon2id deadlocked here (two threads, lanes > 1). Daemon
    # threads and a bounded join, so a regression fails the test instead of hanging it.
    params = crypto.KdfParams(4096, 1, 4)
    slots = crypto.DerivationSlots(8, 30.0)
    results: dict[int, bytes] = {}

    def derive(index: int) -> None:
        results[index] = crypto.derive_key(b"pw%d" % index, VECTOR_SALT, params, slots=slots)

    threads = [threading.Thread(target=derive, args=(i,), daemon=True) for i in range(8)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 30
    for thread in threads:
        thread.join(timeout=max(0.0, deadline - time.monotonic()))
    assert not any(thread.is_alive() for thread in threads), "derivations hung"
    assert len(set(results.values())) == 8


def test_slots_bound_concurrent_derivations_and_refuse_after_the_wait():
    slots = crypto.DerivationSlots(2, 0.05)
    params = crypto.KdfParams(8, 1, 1)
    with slots.hold(), slots.hold():
        started = time.monotonic()
        with pytest.raises(crypto.DerivationBusy) as busy:
            crypto.derive_key(b"pw", VECTOR_SALT, params, slots=slots)
        assert time.monotonic() - started < 2
        assert busy.value.retry_after == 1
    # Both slots are back: derivation works again, and the slot it took is returned.
    crypto.derive_key(b"pw", VECTOR_SALT, params, slots=slots)
    with slots.hold(), slots.hold():
        pass


def test_slots_retry_after_follows_the_wait():
    assert crypto.DerivationSlots(1, 2.5).retry_after == 3
    assert crypto.DerivationSlots(1, 0).retry_after == 1
    with pytest.raises(ValueError):
        crypto.DerivationSlots(0, 1.0)


def test_slots_run_the_guard_before_waiting():
    def refuse() -> None:
        raise RuntimeError("refused")

    slots = crypto.DerivationSlots(1, 5.0, before=refuse)
    with pytest.raises(RuntimeError, match="refused"):
        crypto.derive_key(b"pw", VECTOR_SALT, crypto.KdfParams(8, 1, 1), slots=slots)


def test_receipt_kdf_default_is_chosen_from_the_receipts_entropy():
    """Guessing one 66-bit receipt offline costs >= 100x a GlobaLeaks receipt (2^53 x 1.6 s).

    Timed here as CPU time of one derivation at the default cost (the best of three, so a
    busy machine cannot make it look slower than it is); staff passwords stay strong.
    """
    import time

    from argon2.low_level import Type, hash_secret_raw

    from portal.config import KDF_DEFAULTS, DefaultConfig

    costs = DefaultConfig.RECEIPT_KDF
    params = crypto.KdfParams.from_config(costs)
    assert params.memory_kib >= 16384  # still memory-hard against GPUs
    assert DefaultConfig.PASSWORD_KDF == KDF_DEFAULTS
    samples = []
    for _ in range(3):
        started = time.process_time()
        hash_secret_raw(
            b"12345678901234567890",
            crypto.random_salt(),
            time_cost=params.iterations,
            memory_cost=params.memory_kib,
            parallelism=params.lanes,
            hash_len=32,
            type=Type.ID,
        )
        samples.append(time.process_time() - started)
    assert 2**66 * min(samples) >= 100 * 2**53 * 1.6
