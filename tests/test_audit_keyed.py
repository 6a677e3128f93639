"""The keyed, anchored audit chain against someone who can write the database."""

from __future__ import annotations

import hashlib
import os
import stat
from datetime import timedelta

import pytest
from sqlalchemy import delete, update

from portal import crypto, instance_files
from portal.extensions import db
from portal.models import AuditAnchor, AuditEntry, AuditHead
from portal.models.base import utcnow
from portal.services import audit
from tests.helpers.audit import append, entries, first_problem, verify


def rehash_from(app, start: int, *, key: bytes | None, scheme: int) -> None:
    """Recompute every hash from `start` on, as a forger would (with `key`, or SHA-256)."""
    with app.app_context():
        rows = list(db.session.scalars(db.select(AuditEntry).order_by(AuditEntry.id)))
        previous = next((row.entry_hash for row in rows if row.id == start - 1), audit.GENESIS_HASH)
        for row in rows:
            if row.id < start:
                continue
            row.previous_hash = previous
            row.scheme = scheme
            row.entry_hash = audit._digest(
                row.id, row.at, row.actor, row.action, row.target, row.detail, previous,
                scheme=scheme, key=key,
            )  # fmt: skip
            previous = row.entry_hash
            db.session.flush()
        if key is not None:  # a forger with the key also reseals the head
            head = db.session.get(AuditHead, 1)
            head.entry_id, head.entry_hash = rows[-1].id, previous
            head.mac = audit._head_mac(key, head.entry_id, previous)
        db.session.commit()


def real_key(app) -> bytes:
    with app.app_context():
        return instance_files.require_audit_key()


def test_the_key_lives_in_an_owner_only_file_not_in_the_database(app):
    path = app.config["TEST_INSTANCE"].folder / "audit_key"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    key_hex = path.read_text().strip()
    database = (app.config["TEST_INSTANCE"].folder / "portal.db").read_bytes()
    assert key_hex.encode() not in database and bytes.fromhex(key_hex) not in database
    assert all(entry.scheme == audit.KEYED for entry in entries(app))


@pytest.mark.parametrize("scheme", [audit.UNKEYED, audit.KEYED])
def test_a_forged_appended_entry_is_caught(app, scheme):
    append(app, 3)
    last = entries(app)[-1]
    with app.app_context():
        forged = AuditEntry(
            id=last.id + 1, at=utcnow(), actor="admin@example.test", action="publication.approved",
            target="SRG-FAKE", detail="", previous_hash=last.entry_hash, scheme=scheme,
        )  # fmt: skip
        guess = os.urandom(32)  # the forger does not have the key: any key is a guess
        forged.entry_hash = audit.entry_hash(forged, guess)
        db.session.add(forged)
        db.session.execute(
            update(AuditHead).values(entry_id=forged.id, entry_hash=forged.entry_hash)
        )
        db.session.commit()
    expected = "unkeyed" if scheme == audit.UNKEYED else "altered"
    assert first_problem(app) == (last.id + 1, expected)


@pytest.mark.parametrize("scheme", [audit.UNKEYED, audit.KEYED])
def test_an_edited_entry_rehashed_without_the_key_is_caught(app, scheme):
    ids = append(app, 6)
    victim = ids[2]
    with app.app_context():
        db.session.execute(
            update(AuditEntry).where(AuditEntry.id == victim).values(detail="nothing to see")
        )
        db.session.commit()
    rehash_from(app, victim, key=os.urandom(32) if scheme == audit.KEYED else None, scheme=scheme)
    assert first_problem(app) == (victim, "unkeyed" if scheme == audit.UNKEYED else "altered")


def test_a_deletion_renumbered_to_close_the_gap_is_caught(app):
    ids = append(app, 6)
    victim = ids[2]
    with app.app_context():
        db.session.execute(delete(AuditEntry).where(AuditEntry.id == victim))
        for old_id in ids[3:]:
            db.session.execute(
                update(AuditEntry).where(AuditEntry.id == old_id).values(id=old_id - 1)
            )
        db.session.commit()
    rehash_from(app, victim, key=None, scheme=audit.UNKEYED)
    assert first_problem(app) == (victim, "unkeyed")
    rehash_from(app, victim, key=os.urandom(32), scheme=audit.KEYED)
    assert first_problem(app)[1] in ("altered", "moved")


def test_a_cut_tail_is_caught_even_with_a_rewritten_head(app):
    ids = append(app, 5)
    with app.app_context():
        db.session.execute(delete(AuditEntry).where(AuditEntry.id >= ids[-2]))
        db.session.commit()
    assert first_problem(app) == (ids[-3], "tail_cut")
    last = entries(app)[-1]
    with app.app_context():  # point the head at the new last entry: the MAC is a guess
        db.session.execute(
            update(AuditHead).values(
                entry_id=last.id, entry_hash=last.entry_hash, mac=hashlib.sha256(b"x").hexdigest()
            )
        )
        db.session.commit()
    assert first_problem(app) == (last.id, "tail_cut")
    with app.app_context():  # or delete the head altogether
        db.session.execute(delete(AuditHead))
        db.session.commit()
    assert first_problem(app) == (last.id, "tail_cut")


def test_an_unkeyed_chain_from_before_keeps_verifying_and_then_goes_on_keyed(app):
    folder = app.config["TEST_INSTANCE"].folder
    with app.app_context():  # an instance from before the chain was keyed
        db.session.execute(delete(AuditEntry))
        db.session.execute(delete(AuditHead))
        db.session.commit()
        previous = audit.GENESIS_HASH
        for number in range(1, 4):
            at = utcnow()
            hashed = audit._digest(number, at, "old", "report.viewed", "", "", previous)
            db.session.add(
                AuditEntry(
                    id=number, at=at, actor="old", action="report.viewed", target="",
                    detail="", previous_hash=previous, entry_hash=hashed, scheme=audit.UNKEYED,
                )
            )  # fmt: skip
            previous = hashed
        db.session.commit()
    (folder / "audit_key").unlink()
    assert verify(app).exit_code == 0
    append(app, 2)  # the upgraded code keys every new entry (and makes the key)
    assert (folder / "audit_key").exists()
    result = verify(app)
    assert result.exit_code == 0 and "OK: 5 entries" in result.output, result.output
    assert [entry.scheme for entry in entries(app)] == [1, 1, 1, 2, 2]
    # Rewriting old entries and downgrading the keyed ones after them: the sealed head
    # still names the real last entry's hash.
    rehash_from(app, 2, key=None, scheme=audit.UNKEYED)
    assert first_problem(app) == (5, "tail_cut")


def test_daily_anchors_are_published_and_prove_a_rewrite_by_someone_with_the_key(
    app, client, tmp_path
):
    yesterday = utcnow() - timedelta(days=1)
    ids = append(app, 3, at=yesterday)
    append(app, 1)  # the first entry of a new day anchors the day before
    with app.app_context():
        [anchor] = db.session.scalars(db.select(AuditAnchor)).all()
        assert anchor.entry_id == ids[-1]
        published = anchor.entry_hash
    page = client.get("/transparansi").get_data(as_text=True)
    assert published in page and 'id="audit-anchors"' in page
    line = next(text for text in page.splitlines() if published in text).strip()
    copy = tmp_path / "anchors.txt"
    copy.write_text(line.split(">")[-1] + "\n")
    result = verify(app, "--anchors", str(copy))
    assert result.exit_code == 0 and "1 published anchors hold" in result.output

    # An insider with the key rewrites yesterday and reseals everything in the database.
    key = real_key(app)
    with app.app_context():
        db.session.execute(
            update(AuditEntry).where(AuditEntry.id == ids[1]).values(detail="rewritten")
        )
        db.session.commit()
    rehash_from(app, ids[1], key=key, scheme=audit.KEYED)
    assert first_problem(app) == (ids[-1], "anchor_mismatch")  # the stored anchor
    with app.app_context():
        row = db.session.get(AuditAnchor, anchor.day)
        new_hash = db.session.get(AuditEntry, ids[-1]).entry_hash
        row.entry_hash, row.mac = new_hash, audit._anchor_mac(key, row.day, ids[-1], new_hash)
        db.session.commit()
    assert verify(app).exit_code == 0  # the database alone now agrees with itself ...
    result = verify(app, "--anchors", str(copy))  # ... but not with the published copy
    assert result.exit_code == 1 and "anchor_mismatch" in result.output
    copy.write_text("not an anchor\n")
    assert verify(app, "--anchors", str(copy)).exit_code == 2


def test_a_forged_anchor_is_caught(app):
    append(app, 2, at=utcnow() - timedelta(days=2))
    append(app, 1)
    with app.app_context():
        db.session.execute(update(AuditAnchor).values(mac="0" * 64))
        db.session.commit()
    assert first_problem(app)[1] == "anchor_mismatch"


def test_the_web_view_checks_the_sealed_head(app, staff_client):
    ids = append(app, 3)
    with app.app_context():
        db.session.execute(delete(AuditEntry).where(AuditEntry.id == ids[-1]))
        db.session.commit()
    auditor = staff_client("auditor")
    page = auditor.get("/inspectorate/audit").get_data(as_text=True)
    assert 'data-state="tail_cut"' in page


def test_mac_is_keyed():
    assert crypto.mac(b"k" * 32, "p", b"m") != crypto.mac(b"j" * 32, "p", b"m")
