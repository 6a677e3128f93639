"""The reporter's inbox: login with tracking code + receipt, messages, evidence files."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import IO, Protocol

from flask import current_app
from flask_babel import gettext

from portal import crypto, evidence
from portal.extensions import db
from portal.identifiers import InvalidIdentifier, Receipt, parse_receipt, parse_tracking_code
from portal.models import Attachment, Message, Report, Side
from portal.services import reports, sessions, throttle
from portal.services.errors import DomainError

RECEIPT_SCOPE = "receipt-failures"


class LoginFailed(Exception):
    """Tracking code and receipt do not open a report (which of the two is not said)."""


class CodeLocked(Exception):
    """Too many wrong receipts for this tracking code; it unlocks by itself later."""


class TooManyFiles(DomainError):
    """The report would hold more evidence files than allowed."""

    def __init__(self, allowed: int) -> None:
        """Keep the limit for the message."""
        super().__init__(allowed)
        self.allowed = allowed

    @property
    def message(self) -> str:
        """The translated refusal, in the current language."""
        return gettext("A report can hold at most %(count)d files.", count=self.allowed)


class Upload(Protocol):
    """What a file upload offers (werkzeug's FileStorage fits)."""

    filename: str | None
    stream: IO[bytes]


@dataclass(frozen=True)
class OpenedMessage:
    """A decrypted message."""

    id: int
    author: str
    body: str
    created_on: date


@dataclass(frozen=True)
class EvidenceInfo:
    """What a list of evidence shows: never the content."""

    id: int
    author: str
    name: str
    content_type: str
    size: int
    created_on: date


@dataclass(frozen=True)
class EvidenceFile:
    """A decrypted evidence file, ready to download."""

    name: str
    content_type: str
    data: bytes


def _aad(report: Report, kind: str, record_id: int) -> bytes:
    return f"report/{kind}/{report.tracking_code}/{record_id}".encode()


def login(
    code_text: str, receipt_text: str, *, client: str, failure_limit: str | None = None
) -> tuple[Report, crypto.DataKey]:
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
        data_key = reports.key_from_receipt(report, receipt)
    except (InvalidIdentifier, reports.WrongReceipt, LoginFailed) as error:
        throttle.record_failure(RECEIPT_SCOPE, subject, limit)
        raise LoginFailed() from error
    throttle.clear(RECEIPT_SCOPE, subject, limit)
    return report, data_key


def renew_receipt(report: Report, data_key: crypto.DataKey, token: str) -> Receipt:
    """A new receipt for the report; every inbox session but `token`'s ends; committed.

    Only the new receipt opens the report afterwards (reports.replace_receipt).
    """
    db.session.commit()  # nothing pending: the derivation below must hold no connection
    receipt = reports.replace_receipt(report, data_key)
    sessions.end_others_for_report(report.id, token)
    db.session.commit()
    return receipt


def post_message(
    *,
    report: Report,
    data_key: crypto.DataKey,
    author: Side,
    body: str,
    staff_id: int | None = None,
) -> Message:
    """Encrypt and store a message on the report's conversation."""
    message = Message(report_id=report.id, author=author, staff_id=staff_id, body_ct=b"")
    db.session.add(message)
    db.session.flush()  # the id is bound into the ciphertext
    message.body_ct = crypto.encrypt(
        data_key, crypto.pad(body.encode()), _aad(report, "message", message.id)
    )
    db.session.commit()
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


def read_uploads(uploads: Iterable[Upload]) -> list[evidence.CleanFile]:
    """Read and clean each uploaded file; EvidenceRejected names the first bad one.

    Each file is read only up to one byte past the limit, so an oversized file is
    refused without holding it whole. Empty file inputs (nothing chosen) are skipped.
    """
    config = current_app.config
    cleaned = []
    for upload in uploads:
        if not upload.filename:
            continue
        data = upload.stream.read(config["EVIDENCE_MAX_BYTES"] + 1)
        cleaned.append(
            evidence.clean(
                data,
                filename=upload.filename,
                max_bytes=config["EVIDENCE_MAX_BYTES"],
                max_pixels=config["EVIDENCE_MAX_PIXELS"],
            )
        )
    return cleaned


def check_file_count(report: Report | None, adding: int) -> None:
    """Raise TooManyFiles if the report would exceed the allowed number of files."""
    allowed = current_app.config["EVIDENCE_MAX_FILES"]
    existing = 0
    if report is not None and report.id is not None:
        existing = (
            db.session.scalar(
                db.select(db.func.count(Attachment.id)).where(Attachment.report_id == report.id)
            )
            or 0
        )
    if existing + adding > allowed:
        raise TooManyFiles(allowed)


def store_evidence(
    *, report: Report, data_key: crypto.DataKey, files: Sequence[evidence.CleanFile], author: Side
) -> None:
    """Encrypt and add files in the current transaction; the caller commits."""
    for clean in files:
        row = Attachment(
            report_id=report.id,
            author=author,
            content_type=clean.content_type,
            size=len(clean.data),
            data_ct=b"",
        )
        db.session.add(row)
        db.session.flush()
        row.data_ct = crypto.encrypt(data_key, clean.data, _aad(report, "file", row.id))


def add_evidence(
    *, report: Report, data_key: crypto.DataKey, files: Sequence[evidence.CleanFile], author: Side
) -> None:
    """Add cleaned files to a report, all or none."""
    check_file_count(report, len(files))
    try:
        store_evidence(report=report, data_key=data_key, files=files, author=author)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise


def file_name(row: Attachment) -> str:
    """A neutral name such as bukti-12.jpg: the uploaded name (a camera timestamp, a
    person's name) could identify the reporter, so it is never kept."""
    return f"{evidence.FALLBACK_NAME}-{row.id}{evidence.EXTENSIONS.get(row.content_type, '')}"


def evidence_list(report: Report, data_key: crypto.DataKey) -> list[EvidenceInfo]:
    """Decrypted names and sizes of the report's files, oldest first."""
    rows = db.session.scalars(
        db.select(Attachment).where(Attachment.report_id == report.id).order_by(Attachment.id)
    )
    return [
        EvidenceInfo(
            row.id,
            row.author,
            file_name(row),
            row.content_type,
            row.size,
            row.created_on,
        )
        for row in rows
    ]


def open_evidence(
    report: Report, data_key: crypto.DataKey, attachment_id: int
) -> EvidenceFile | None:
    """One decrypted file of this report, or None if the id is not one of its files."""
    row = db.session.get(Attachment, attachment_id)
    if row is None or row.report_id != report.id:
        return None
    return EvidenceFile(
        file_name(row),
        row.content_type,
        crypto.decrypt(data_key, row.data_ct, _aad(report, "file", row.id)),
    )
