"""One transaction owner: what an `atomic()` block wrote lands together or not at all."""

from __future__ import annotations

import pytest

from portal.extensions import db
from portal.models import AuditEntry
from portal.services import audit
from portal.transaction import RecordedRefusal, atomic, in_atomic


def count_entries(app) -> int:
    with app.app_context():
        return db.session.scalar(db.select(db.func.count(AuditEntry.id))) or 0


def test_a_block_commits_what_it_flushed(app):
    before = count_entries(app)
    with app.app_context(), atomic():
        audit.record(actor="a@example.test", action="report.viewed", target="SRG-X", detail="")
    assert count_entries(app) == before + 1


def test_a_failure_inside_nested_blocks_leaves_nothing(app):
    before = count_entries(app)
    with app.app_context(), pytest.raises(RuntimeError), atomic():
        audit.record(actor="a@example.test", action="report.viewed", target="SRG-X", detail="")
        with atomic():
            assert in_atomic()
            audit.record(actor="a@example.test", action="report.viewed", target="SRG-Y", detail="")
        raise RuntimeError("after the inner block")
    assert count_entries(app) == before


def test_an_inner_block_does_not_commit_on_its_own(app):
    before = count_entries(app)
    with app.app_context(), pytest.raises(RuntimeError), atomic():
        with atomic():
            audit.record(actor="a@example.test", action="report.viewed", target="SRG-Z", detail="")
        # The inner block ended, yet nothing is durable until the outer one commits.
        raise RuntimeError("outer block fails")
    assert count_entries(app) == before
    with app.app_context():
        assert not in_atomic()


def test_an_audit_entry_outside_a_block_is_refused(app):
    # An entry recorded outside a block would ride on whatever commit came next, or on
    # none: "audited in the same transaction" is enforced by the one helper.
    before = count_entries(app)
    with app.app_context(), pytest.raises(RuntimeError, match="atomic"):
        audit.record(actor="a@example.test", action="report.viewed", target="SRG-W", detail="")
    assert count_entries(app) == before


def test_a_recorded_refusal_keeps_its_trace(app):
    # A refusal such as a failed sign-in is raised after its audit entry: the block keeps
    # the entry, and the refusal still reaches the caller.
    before = count_entries(app)
    with app.app_context(), pytest.raises(RecordedRefusal), atomic():
        audit.record(actor="a@example.test", action="login.failed")
        raise RecordedRefusal()
    assert count_entries(app) == before + 1


# Where the session (or a raw connection) may still be committed or rolled back, and why.
OWN_TRANSACTIONS = {
    "portal/transaction.py": "the one owner",
    "portal/errors.py": "rolls back the failed request's session",
    "portal/kdf.py": "ends a read-only transaction before a key derivation",
    "portal/schema.py": "migrations on their own connection",
    "portal/services/backup.py": "copies and restores the database file, DDL",
}


def test_nothing_else_commits_or_rolls_back():
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    offenders = []
    for path in sorted((root / "portal").rglob("*.py")):
        name = path.relative_to(root).as_posix()
        if name in OWN_TRANSACTIONS:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("commit", "rollback")
            ):
                offenders.append(f"{name}:{node.lineno}")
    assert offenders == [], "open `with atomic():` in the caller instead"
