"""Inspectorate key rotation: after a departure, nothing the departed member held opens.

Rotation makes a new inspectorate key pair, re-seals every live report's data key to
the new public key, seals the new private key to every active member's own public key
and to the recovery key pair, pins the new public key, and ends every staff session
(those carry the old private key). The old private key then exists only in copies made
before (old backups): those still open what they already held, and nothing filed or
re-sealed after the rotation. Nobody's password is needed.
"""

from __future__ import annotations

from dataclasses import dataclass

from portal import crypto, instance_files
from portal.extensions import db
from portal.models import InspectorateKey, PortalSession, Report, SessionKind, Staff
from portal.models.base import utcnow
from portal.services import audit, setup, staff
from portal.services.reports import key_aad
from portal.transaction import atomic, in_atomic

# Reports re-sealed per query: bounded memory at any size.
BATCH_SIZE = 500


class WrongPrivateKey(Exception):
    """The private key given does not belong to the current inspectorate public key."""


class NeedsRecoveryKey(Exception):
    """An instance from before rotation: the first rotation needs the printed recovery key."""


@dataclass(frozen=True)
class RotationResult:
    """What a rotation changed."""

    generation: int
    fingerprint: str
    reports: int
    members: int
    members_without_key_pair: int
    sessions_ended: int


def rotate(
    *, private_key: crypto.PrivateKey, actor: str, recovery_key: str | None = None
) -> RotationResult:
    """Rotate the inspectorate key pair in one transaction (see the module docstring).

    The one service that owns its block: the new public key is pinned in a file after the
    commit, so the commit cannot be left to a caller's block (RuntimeError inside one).
    """
    if in_atomic():
        raise RuntimeError("keys.rotate commits before pinning: call it outside atomic()")
    with atomic():
        result, new_public = _rotate(
            private_key=private_key, actor=actor, recovery_key=recovery_key
        )
    # After the commit: a crash in between leaves a mismatch that refuses reports
    # loudly (and is fixed by pinning again), never reports sealed to an unpinned key.
    instance_files.pin_public_key(new_public)
    return result


def _rotate(
    *, private_key: crypto.PrivateKey, actor: str, recovery_key: str | None
) -> tuple[RotationResult, bytes]:
    """The rotation's writes, flushed in the open block; the result and the new public key."""
    row = db.session.scalars(db.select(InspectorateKey).limit(1).with_for_update()).one()
    if not crypto.constant_time_equal(crypto.public_key_of(private_key), row.public_key):
        raise WrongPrivateKey()
    if row.recovery_public_key is None:
        if recovery_key is None:
            raise NeedsRecoveryKey()
        setup.upgrade_recovery(row, recovery_key)
    new_private, new_public = crypto.generate_keypair()
    resealed = 0
    last_id = 0
    while True:
        batch = list(
            db.session.scalars(
                db.select(Report)
                .where(Report.id > last_id, Report.key_sealed.is_not(None))
                .order_by(Report.id)
                .limit(BATCH_SIZE)
            )
        )
        for report in batch:
            if report.key_sealed is None:  # filtered in the query; for the type checker
                continue
            aad = key_aad(report.tracking_code)
            data_key = crypto.unseal(private_key, report.key_sealed, aad)
            report.key_sealed = crypto.seal(new_public, data_key, aad)
            resealed += 1
        if len(batch) < BATCH_SIZE:
            break
        last_id = batch[-1].id
    sealed_members = 0
    without_pair = 0
    for member in db.session.scalars(db.select(Staff)):
        member.wrapped_private_key = None  # legacy copies hold the old key: gone
        if member.active and member.public_key is not None:
            staff.seal_inspectorate_key(member, new_private)
            sealed_members += 1
        else:
            member.sealed_inspectorate_key = None
            without_pair += int(member.active)
    setup.seal_to_recovery(row, new_private)
    row.public_key = new_public
    row.generation += 1
    row.rotated_at = utcnow()
    ended = db.session.execute(
        db.delete(PortalSession).where(PortalSession.kind == SessionKind.STAFF)
    )
    sessions_ended = int(ended.rowcount or 0)  # type: ignore[attr-defined]
    fingerprint = crypto.fingerprint(new_public)
    audit.record(
        actor=actor,
        action="keys.rotated",
        detail=(
            f"generation={row.generation} fingerprint={fingerprint} reports={resealed}"
            f" members={sealed_members} members_without_key_pair={without_pair}"
            f" sessions_ended={sessions_ended}"
        ),
    )
    result = RotationResult(
        row.generation, fingerprint, resealed, sealed_members, without_pair, sessions_ended
    )
    return result, new_public
