"""The reporter's inbox: sign-in with tracking code + receipt, receipt renewal, messages.

Evidence files are kept by services/evidence_store.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from flask import current_app

from portal import crypto
from portal.extensions import db
from portal.identifiers import InvalidIdentifier, Receipt, parse_receipt, parse_tracking_code
from portal.models import Message, Report, Side
from portal.services import reports, sessions, throttle

RECEIPT_SCOPE = "receipt-failures"


class LoginFailed(Exception):
    """Tracking code and receipt do not open a report (which of the two is not said)."""


class CodeLocked(Exception):
    """Too many wrong receipts for this tracking code; it unlocks by itself later."""


@dataclass(frozen=True)
class OpenedMessage:
    """A decrypted message."""

    id: int
    author: str
    body: str
    created_on: date


def _aad(report: Report, kind: str, record_id: int) -> bytes:
    return f"report/{kind}/{report.tracking_code}/{record_id}".encode()


@dataclass(frozen=True)
class Opened:
    """A report opened with its receipt, and the facts of it the sign-in goes on with.

    The facts are read before the key derivation ends the read transaction, which leaves
    `report` expired: reading them from it afterwards would load the whole row again.
    """

    report: Report
    data_key: crypto.DataKey
    report_id: int
    receipt_seen_by_staff: bool


def login(
    code_text: str, receipt_text: str, *, client: str, failure_limit: str | None = None
) -> Opened:
    """Open a report with its tracking code and receipt.

    Wrong receipts count against the tracking code *from this client* (`client` is the
    address, which only reaches keyed hashes under the rotating secret): past the limit
    the code is locked for that client only
    (CodeLocked) until the window passes. Someone who knows only the public tracking
    code can therefore never lock its reporter out; what bounds their guessing is the
    per-address limits, this lock and the receipt's key derivation cost, against a
    secret of 66 bits (docs/threat-model.md, "Guessing"). Unknown codes cost the same
    key derivation as known ones, so timing does not reveal which exist. `failure_limit`
    is the caller's profile (the onion service's), RATELIMIT_RECEIPT_FAILURES otherwise.
    """
    limit = failure_limit or current_app.config["RATELIMIT_RECEIPT_FAILURES"]
    try:
        code = parse_tracking_code(code_text, current_app.config["CITY_PREFIX"])
    except InvalidIdentifier as error:
        raise LoginFailed() from error
    subject = f"{client}/{code}"
    if throttle.is_locked(RECEIPT_SCOPE, subject, limit):
        raise CodeLocked()
    report = reports.find(code)
    try:
        receipt = parse_receipt(receipt_text)
        if report is None:
            reports.equalise_receipt_timing(receipt)
            raise LoginFailed()
        report_id, seen = report.id, report.receipt_seen_by_staff
        data_key = reports.key_from_receipt(report, receipt)
    except (InvalidIdentifier, reports.WrongReceipt, LoginFailed) as error:
        throttle.record_failure(RECEIPT_SCOPE, subject, limit)
        raise LoginFailed() from error
    throttle.clear(RECEIPT_SCOPE, subject, limit)
    return Opened(report, data_key, report_id, seen)


def renew_receipt(
    report: Report, data_key: crypto.DataKey, token: str, receipt: reports.NewReceipt
) -> Receipt:
    """The report's receipt replaced by `receipt`; every inbox session but `token`'s ends.

    `receipt` comes from `reports.new_receipt_key()`, derived before the caller opened
    its `atomic()` block. Only the new receipt opens the report afterwards.
    """
    replaced = reports.replace_receipt(report, data_key, receipt)
    sessions.end_others_for_report(report.id, token)
    return replaced


def post_message(
    *,
    report: Report,
    data_key: crypto.DataKey,
    author: Side,
    body: str,
    staff_id: int | None = None,
) -> Message:
    """Encrypt and add a message to the report's conversation (flushed; the caller commits)."""
    message = Message(report_id=report.id, author=author, staff_id=staff_id, body_ct=b"")
    db.session.add(message)
    db.session.flush()  # the id is bound into the ciphertext
    message.body_ct = crypto.encrypt(
        data_key, crypto.pad(body.encode()), _aad(report, "message", message.id)
    )
    db.session.flush()
    return message


def conversation(report: Report, data_key: crypto.DataKey) -> list[OpenedMessage]:
    """The decrypted conversation, oldest first."""
    rows = db.session.scalars(
        db.select(Message).where(Message.report_id == report.id).order_by(Message.id)
    )
    return [
        OpenedMessage(
            row.id,
            row.author,
            crypto.unpad(
                crypto.decrypt(data_key, row.body_ct, _aad(report, "message", row.id))
            ).decode(),
            row.created_on,
        )
        for row in rows
    ]
