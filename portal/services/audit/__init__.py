"""The append-only, keyed hash-chained audit log: appending, verifying, browsing, exporting.

Each entry's `entry_hash` is an HMAC-SHA256, under a key kept outside the database
(instance file `audit_key`, see portal/instance_files.py), over its own fields and the
previous entry's hash: editing, deleting, reordering or forging an entry breaks the chain,
and someone who can only write the database cannot recompute it. Entries written before
the chain was keyed (scheme 1, plain SHA-256) still verify; once a keyed entry exists,
an unkeyed one after it is a forgery.

Two more records make a cut-off tail and a rewrite provable:
- the head (newest id and hash, MACed) is rewritten with every append, so deleting the
  newest entries leaves a head that names an entry that is gone;
- each day's head (WIB) is anchored when the day is over and published on the
  transparency page (hash only), where anyone can copy it: `flask audit verify
  --anchors FILE` then proves a later rewrite of that day, even by someone with the key.

In three parts, all under these names: `chain` (appending), `verify` (checking the chain,
the head and the anchors) and `browse` (pages and the audited export).
"""

from portal.services.audit.browse import (
    AuditFilter,
    AuditPage,
    export_entries,
    known_actions,
    page,
    start_export,
)
from portal.services.audit.chain import (
    ACTION_MAX,
    ACTOR_MAX,
    BATCH_SIZE,
    GENESIS_HASH,
    HEAD_ROW_ID,
    KEYED,
    POSTGRES_LOCK_KEY,
    PUBLISHED_ANCHOR_DAYS,
    TARGET_MAX,
    UNKEYED,
    PublicAnchor,
    anchor_completed_days,
    entry_hash,
    local_day,
    published_anchors,
    record,
)

# Private helpers the tests use to forge entries as someone with the key would.
from portal.services.audit.chain import _anchor_mac as _anchor_mac
from portal.services.audit.chain import _digest as _digest
from portal.services.audit.chain import _head_mac as _head_mac
from portal.services.audit.verify import (
    ChainProblem,
    Head,
    Problem,
    VerifyResult,
    head,
    verify_chain,
)

__all__ = [
    "ACTION_MAX",
    "ACTOR_MAX",
    "BATCH_SIZE",
    "GENESIS_HASH",
    "HEAD_ROW_ID",
    "KEYED",
    "POSTGRES_LOCK_KEY",
    "PUBLISHED_ANCHOR_DAYS",
    "TARGET_MAX",
    "UNKEYED",
    "AuditFilter",
    "AuditPage",
    "ChainProblem",
    "Head",
    "Problem",
    "PublicAnchor",
    "VerifyResult",
    "anchor_completed_days",
    "entry_hash",
    "export_entries",
    "head",
    "known_actions",
    "local_day",
    "page",
    "published_anchors",
    "record",
    "start_export",
    "verify_chain",
]
