"""Case handling by the inspectorate, in three parts, all under the old names here.

- `lifecycle`: which status may follow which, and the one transition helper every status
  change (plain, referral, outcome, duplicate) goes through;
- `casefile`: the case as staff read it, decrypted, every decryption audited;
- `handling`: assignment, priority, messages to the reporter, filing for a reporter.

Every change checks first, then flushes and audits in the caller's `atomic()` block, so a
refused action leaves nothing half-written.
"""

from portal.services.cases.base import (
    CaseError,
    ContentDeleted,
    data_key,
    find_by_typed_code,
    find_for_update,
)
from portal.services.cases.casefile import (
    CaseFile,
    CaseStep,
    download_evidence,
    is_overdue,
    open_case,
    timeline,
)
from portal.services.cases.handling import (
    HANDLER_ROLES,
    NotAssignable,
    assign,
    assignable_staff,
    reply,
    set_priority,
)
from portal.services.cases.lifecycle import (
    CLOSED_STATUSES,
    DETAILED_STATUSES,
    STATUS_ORDER,
    TRANSITIONS,
    VERIFYING_STATUSES,
    DetailsRequired,
    DuplicateChain,
    IllegalTransition,
    InconsistentOutcome,
    NoteRevealsCode,
    OutsideBody,
    Sanction,
    SelfDuplicate,
    StaleCase,
    UnknownOriginal,
    allowed_next,
    change_status,
    mark_duplicate,
    record_outcome,
    refer,
)

__all__ = [
    "CLOSED_STATUSES",
    "DETAILED_STATUSES",
    "HANDLER_ROLES",
    "STATUS_ORDER",
    "TRANSITIONS",
    "VERIFYING_STATUSES",
    "CaseError",
    "CaseFile",
    "CaseStep",
    "ContentDeleted",
    "DetailsRequired",
    "DuplicateChain",
    "IllegalTransition",
    "InconsistentOutcome",
    "NotAssignable",
    "NoteRevealsCode",
    "OutsideBody",
    "Sanction",
    "SelfDuplicate",
    "StaleCase",
    "UnknownOriginal",
    "allowed_next",
    "assign",
    "assignable_staff",
    "change_status",
    "data_key",
    "download_evidence",
    "find_by_typed_code",
    "find_for_update",
    "is_overdue",
    "mark_duplicate",
    "open_case",
    "record_outcome",
    "refer",
    "reply",
    "set_priority",
    "timeline",
]
