"""Evidence storage: reading uploads through the cleaner, encrypting, listing and opening files.

`portal/evidence.py` decides what a file is and strips its metadata (pure, no database);
this module keeps the cleaned bytes, encrypted with the report's data key, and gives them
back to whoever holds that key. It builds on nothing but the models, so `reports` (filing
with evidence) and `inbox` (adding evidence later) both use it without importing each other.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import IO, Protocol

from flask import current_app
from flask_babel import gettext

from portal import crypto, evidence
from portal.extensions import db
from portal.models import Attachment, Report, Side
from portal.services.errors import DomainError


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


def _aad(report: Report, record_id: int) -> bytes:
    """Associated data binding a file's ciphertext to its report and its row."""
    return f"report/file/{report.tracking_code}/{record_id}".encode()


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
    """Raise TooManyFiles if the report (None: a new one) would exceed the allowed number."""
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
    """Encrypt and add files in the current transaction (flushed, never committed)."""
    for clean in files:
        row = Attachment(
            report_id=report.id,
            author=author,
            content_type=clean.content_type,
            size=len(clean.data),
            data_ct=b"",
        )
        db.session.add(row)
        db.session.flush()  # the id is bound into the ciphertext
        row.data_ct = crypto.encrypt(data_key, clean.data, _aad(report, row.id))
    db.session.flush()


def add_evidence(
    *, report: Report, data_key: crypto.DataKey, files: Sequence[evidence.CleanFile], author: Side
) -> None:
    """Add cleaned files to an existing report; TooManyFiles past the limit. The caller's
    `atomic()` block keeps it all or none."""
    check_file_count(report, len(files))
    store_evidence(report=report, data_key=data_key, files=files, author=author)


def file_name(row: Attachment) -> str:
    """A neutral name such as bukti-12.jpg: the uploaded name (a camera timestamp, a
    person's name) could identify the reporter, so it is never kept."""
    return f"{evidence.FALLBACK_NAME}-{row.id}{evidence.EXTENSIONS.get(row.content_type, '')}"


def evidence_list(report: Report, data_key: crypto.DataKey) -> list[EvidenceInfo]:
    """Names and sizes of the report's files, oldest first (never their content)."""
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
        crypto.decrypt(data_key, row.data_ct, _aad(report, row.id)),
    )
