"""What every part of case handling shares: the refusal base, the report's keys, lookups."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from portal import crypto
from portal.extensions import db
from portal.identifiers import InvalidIdentifier, parse_tracking_code
from portal.models import Report
from portal.services import reports
from portal.services.errors import DomainError


class CaseError(DomainError):
    """A refused case action; `message` says why in the current language."""


class ContentDeleted(CaseError):
    """The report's keys were shredded (retention): its content can no longer be opened."""

    text = _l("This report's content was deleted under the retention rules.")


def note_aad(report: Report, change_id: int) -> bytes:
    """Associated data binding an internal note to its report and timeline step."""
    return f"report/internal-note/{report.tracking_code}/{change_id}".encode()


def data_key(report: Report, private_key: crypto.PrivateKey) -> crypto.DataKey:
    """The report's data key; ContentDeleted once its keys were shredded."""
    if report.key_sealed is None:
        raise ContentDeleted()
    return reports.key_from_private_key(report, private_key)


def find_for_update(code: str) -> Report | None:
    """The report with this canonical tracking code, locked for the rest of the transaction."""
    query = db.select(Report).where(Report.tracking_code == code).with_for_update()
    return db.session.scalars(query).first()


def find_by_typed_code(text: str, prefix: str) -> Report | None:
    """The report whose tracking code is typed (forgivingly) in `text`, if any."""
    try:
        code = parse_tracking_code(text, prefix)
    except InvalidIdentifier:
        return None
    return reports.find(code)
