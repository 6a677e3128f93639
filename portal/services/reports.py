"""Filing reports, opening them with a receipt or the inspectorate key, public status."""

from __future__ import annotations

import functools
import json
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

from flask import current_app
from sqlalchemy import Select, bindparam, select

from portal import crypto, deadlines, instance_files, kdf
from portal.evidence import CleanFile
from portal.extensions import db
from portal.identifiers import Receipt, TrackingCode, new_receipt, new_tracking_code
from portal.models import (
    Category,
    Channel,
    InspectorateKey,
    Report,
    Service,
    Side,
    Status,
    StatusChange,
    Unit,
)
from portal.models.catalog import Bilingual
from portal.services import evidence_store


class NotInitialised(Exception):
    """The instance has no inspectorate key yet (`flask setup` has not run)."""


class PublicKeyMismatch(NotInitialised):
    """The database's inspectorate public key is not the pinned one: seal nothing to it."""


class WrongReceipt(Exception):
    """The receipt does not open this report (or the report does not exist)."""


@dataclass(frozen=True)
class ReportContent:
    """What the citizen wrote: encrypted at rest, never in clear in the database."""

    incident_date: date
    who_asked: str
    amount_demanded: int | None
    paid: bool | None
    promised: str
    person_description: str
    chronology: str

    def to_bytes(self) -> bytes:
        """Serialise for encryption."""
        data = asdict(self)
        data["incident_date"] = self.incident_date.isoformat()
        return json.dumps(data, ensure_ascii=False).encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> ReportContent:
        """Inverse of `to_bytes`."""
        data = json.loads(raw)
        data["incident_date"] = date.fromisoformat(data["incident_date"])
        return cls(**data)


@dataclass(frozen=True)
class ReportInput:
    """A new report as every channel hands it over: built and checked by services/intake.py.

    The web form, the operator's walk-in/phone form and the API each parse their own
    request into this, through `intake`, which applies the rules (lengths, dates, amount,
    active catalogue codes, number of files) once. `file_report` stores it as given.
    """

    category: str
    service: str
    unit: str
    content: ReportContent
    contact: str = ""
    channel: Channel = Channel.WEB
    files: tuple[CleanFile, ...] = ()


@dataclass(frozen=True)
class NewReceipt:
    """A fresh receipt and its wrapping key, derived before the write transaction opens.

    The derivation is slow on purpose, so it runs with no database connection held
    (portal/kdf.py); the write that uses it (`file_report`, `replace_receipt`) follows in
    the caller's `atomic()` block. Never stored: only what it wraps is.
    """

    receipt: Receipt
    salt: bytes
    params: str
    key: bytes


@dataclass(frozen=True)
class OpenedReport:
    """A report decrypted for someone entitled to read it."""

    report: Report
    content: ReportContent
    contact: str


@dataclass(frozen=True)
class FiledReport:
    """The two identifiers a citizen leaves with; the receipt exists nowhere else."""

    tracking_code: TrackingCode
    receipt: Receipt


@dataclass(frozen=True)
class TimelineStep:
    """One public step of a report's history."""

    status: str
    note: str
    on: date


@dataclass(frozen=True)
class CatalogName(Bilingual):
    """A category, service or unit as a status shows it: its code and two names."""

    code: str
    name_id: str
    name_en: str


@dataclass(frozen=True)
class PublicStatus:
    """What anyone holding the tracking code may see: never the content.

    Frozen and hashable: everything a status page shows is in it, so the page rendered
    from it can be stored under it (portal.public.routes).
    """

    tracking_code: str
    status: str
    category: CatalogName
    service: CatalogName
    unit: CatalogName
    received_on: date
    timeline: tuple[TimelineStep, ...]
    # Set once retention deleted the record: only these public facts remain.
    closed_on: date | None = None
    shredded_on: date | None = None


def round_amount(amount: int | None) -> int | None:
    """Round Rupiah to two significant digits so an exact sum cannot single anyone out."""
    if not amount:
        return amount
    digits = len(str(amount))
    if digits <= 2:
        return amount
    scale = 10 ** (digits - 2)
    return int((amount + scale // 2) // scale * scale)


def _aad(code: str, what: str) -> bytes:
    """Associated data binding a ciphertext to one report and one purpose."""
    return f"report/{what}/{code}".encode()


def key_aad(code: str) -> bytes:
    """Associated data of a report's sealed data key (key rotation re-seals it)."""
    return _aad(code, "key")


def _receipt_key(receipt: Receipt, salt: bytes, params: str) -> bytes:
    """The receipt's wrapping key: slow, so the caller has released its connection."""
    digits = receipt.replace("-", "")
    return crypto.derive_key(
        digits.encode(), salt, crypto.KdfParams.decode(params), slots=kdf.slots()
    )


# Statements every filing runs, built once (building one costs about as much as running it).
_CODE_TAKEN = select(Report.id).where(Report.tracking_code == bindparam("code"))
# FOR SHARE (PostgreSQL): a key rotation waits for this filing to commit, and a filing
# waits for a rotation, so no report is sealed to a key that is being replaced.
_PUBLIC_KEY = select(InspectorateKey.__table__.c.public_key).limit(1).with_for_update(read=True)


def _unused_tracking_code() -> TrackingCode:
    prefix = current_app.config["CITY_PREFIX"]
    connection = db.session.connection()
    while True:
        code = new_tracking_code(prefix)
        if connection.execute(_CODE_TAKEN, {"code": code}).first() is None:
            return code


def inspectorate_public_key() -> crypto.PublicKey:
    """The public key every report is sealed to, checked against the pinned copy.

    The pin is a file outside the database (instance_files): someone who can write the
    database but not the instance folder cannot make new reports seal to their own key.
    An instance from before pinning pins its current key at the first report (logged).
    """
    stored = db.session.connection().execute(_PUBLIC_KEY).scalar()
    if stored is None:
        raise NotInitialised()
    public_key = crypto.PublicKey(stored)
    pinned = instance_files.pinned_public_key()
    if pinned is None:
        instance_files.pin_public_key(public_key)
        current_app.logger.warning(
            "pinned the inspectorate public key found in the database (fingerprint %s)",
            crypto.fingerprint(public_key),
        )
    elif not crypto.constant_time_equal(pinned, public_key):
        current_app.logger.critical(
            "SECURITY: the inspectorate public key in the database (fingerprint %s) is not the"
            " pinned one (fingerprint %s); refusing to seal reports to it. Someone may have"
            " replaced it: investigate before anything else.",
            crypto.fingerprint(public_key),
            crypto.fingerprint(crypto.PublicKey(pinned)),
        )
        raise PublicKeyMismatch()
    return public_key


def new_receipt_key() -> NewReceipt:
    """A new receipt with its key derived now; call it before opening `atomic()`.

    Ends the current read-only transaction first (kdf.release_connection), so refuses
    to run with unsaved changes. DerivationBusy when no key-derivation slot frees up.
    """
    receipt = new_receipt()
    salt = crypto.random_salt()
    params = _current_receipt_params()
    kdf.release_connection()
    return NewReceipt(receipt, salt, params, _receipt_key(receipt, salt, params))


def file_report(report: ReportInput, receipt: NewReceipt) -> FiledReport:
    """Encrypt and add a new report with its evidence; returns tracking code and receipt.

    Flushes, never commits: the caller's `atomic()` block keeps the report, its files and
    whatever the caller adds beside it (a double-submit mark, an operator's tally) all or
    none. `receipt` comes from `new_receipt_key()`, derived before the block opened.
    Raises NotInitialised before setup (PublicKeyMismatch when the key is not the pinned one).
    """
    # Read inside the write transaction: FOR SHARE holds a key rotation off until commit.
    public_key = inspectorate_public_key()
    data_key = crypto.random_key()
    code = _unused_tracking_code()
    content = report.content
    # The verification deadline counts working days from today in WIB, not UTC.
    local_today = deadlines.local_today()
    row = Report(
        tracking_code=code,
        status=Status.RECEIVED,
        # Days only, on every channel: a time of filing beside a walk-in's channel would
        # date the visit for anyone holding the office's CCTV or visitor book.
        received_on=local_today,
        status_since=local_today,
        due_on=deadlines.due_date(Status.RECEIVED, local_today),
        channel=report.channel,
        category_code=report.category,
        service_code=report.service,
        unit_code=report.unit,
        incident_month=content.incident_date.replace(day=1),
        amount_demanded_rounded=round_amount(content.amount_demanded),
        content_ct=crypto.encrypt(data_key, crypto.pad(content.to_bytes()), _aad(code, "content")),
        contact_ct=(
            crypto.encrypt(data_key, crypto.pad(report.contact.encode()), _aad(code, "contact"))
            if report.contact
            else None
        ),
        key_sealed=crypto.seal(public_key, data_key, _aad(code, "key")),
        key_wrapped=crypto.encrypt(receipt.key, data_key, _aad(code, "key")),
        receipt_salt=receipt.salt,
        receipt_kdf=receipt.params,
        receipt_seen_by_staff=report.channel not in (Channel.WEB, Channel.API),
    )
    row.history.append(StatusChange(status=Status.RECEIVED, public_note="", created_on=local_today))
    db.session.add(row)
    db.session.flush()
    evidence_store.store_evidence(
        report=row, data_key=data_key, files=report.files, author=Side.REPORTER
    )
    # Staff hear of it in the next batched notice (`flask notify new`), never at the
    # second of filing: a mail's time beside the report would date the visit.
    return FiledReport(code, receipt.receipt)


_BY_CODE = select(Report).where(Report.tracking_code == bindparam("code"))


def find(code: TrackingCode) -> Report | None:
    """The report with this canonical tracking code, if any."""
    return db.session.scalars(_BY_CODE, {"code": code}).first()


def key_from_receipt(report: Report, receipt: Receipt) -> crypto.DataKey:
    """Unwrap the data key with the reporter's receipt; WrongReceipt if it does not open.

    Reads what the check needs, then ends the read transaction before the slow
    derivation: `report` is reloaded when next read. DerivationBusy when no slot frees up.
    """
    wrapped, salt, params = report.key_wrapped, report.receipt_salt, report.receipt_kdf
    aad = _aad(report.tracking_code, "key")
    kdf.release_connection()
    if wrapped is None:  # shredded: cost the same as a real check
        _receipt_key(receipt, crypto.random_salt(), _current_receipt_params())
        raise WrongReceipt()
    key = _receipt_key(receipt, salt, params)
    try:
        return crypto.DataKey(crypto.decrypt(key, wrapped, aad))
    except crypto.DecryptionError as error:
        raise WrongReceipt() from error


def _current_receipt_params() -> str:
    return crypto.KdfParams.from_config(current_app.config["RECEIPT_KDF"]).encode()


def replace_receipt(report: Report, data_key: crypto.DataKey, receipt: NewReceipt) -> Receipt:
    """Wrap the data key under a new receipt (new salt); the old receipt stops working.

    `receipt` comes from `new_receipt_key()`, derived before the caller's `atomic()` block;
    this only changes the row (flushed with the block). Only whoever holds the data key
    (a signed-in reporter) can do it.
    """
    report.key_wrapped = crypto.encrypt(receipt.key, data_key, _aad(report.tracking_code, "key"))
    report.receipt_salt = receipt.salt
    report.receipt_kdf = receipt.params
    report.receipt_seen_by_staff = False
    return receipt.receipt


def equalise_receipt_timing(receipt: Receipt) -> None:
    """Spend the same key derivation as a real receipt check, for codes that do not exist."""
    kdf.release_connection()
    _receipt_key(receipt, crypto.random_salt(), _current_receipt_params())


def key_from_private_key(report: Report, private_key: crypto.PrivateKey) -> crypto.DataKey:
    """Unseal the data key with the inspectorate private key."""
    if report.key_sealed is None:
        raise crypto.DecryptionError("report was shredded")
    return crypto.DataKey(
        crypto.unseal(private_key, report.key_sealed, _aad(report.tracking_code, "key"))
    )


def open_report(report: Report, data_key: crypto.DataKey) -> OpenedReport:
    """Decrypt content and contact; DecryptionError if the key or bytes are wrong."""
    code = report.tracking_code
    content = ReportContent.from_bytes(
        crypto.unpad(crypto.decrypt(data_key, report.content_ct, _aad(code, "content")))
    )
    contact = ""
    if report.contact_ct is not None:
        contact = crypto.unpad(
            crypto.decrypt(data_key, report.contact_ct, _aad(code, "contact"))
        ).decode()
    return OpenedReport(report, content, contact)


@functools.cache
def _public_status_query() -> Select[Any]:
    """The status lookup, built once per process (building it cost more than running it).

    One SELECT of plain columns: a status page is what media spikes hit, so the report's
    public facts, the three catalogue names and the timeline come in one round trip as
    tuples (no ORM objects to build), and the ciphertexts and keys stay unread.
    """
    report, category, service, unit = (
        Report.__table__,
        Category.__table__,
        Service.__table__,
        Unit.__table__,
    )
    step = StatusChange.__table__
    return (
        select(
            report.c.tracking_code,
            report.c.status,
            report.c.received_on,
            report.c.closed_on,
            report.c.shredded_on,
            category.c.code,
            category.c.name_id,
            category.c.name_en,
            service.c.code,
            service.c.name_id,
            service.c.name_en,
            unit.c.code,
            unit.c.name_id,
            unit.c.name_en,
            step.c.status,
            step.c.public_note,
            step.c.created_on,
        )
        .select_from(report)
        .join(category, category.c.code == report.c.category_code)
        .join(service, service.c.code == report.c.service_code)
        .join(unit, unit.c.code == report.c.unit_code)
        .outerjoin(step, step.c.report_id == report.c.id)
        .where(report.c.tracking_code == bindparam("code"))
        .order_by(step.c.id)
    )


def public_status(code: TrackingCode) -> PublicStatus | None:
    """Public facts and timeline for a tracking code; None when no such report."""
    # On the session's connection: a plain statement needs none of the ORM's execution.
    rows = db.session.connection().execute(_public_status_query(), {"code": code}).all()
    if not rows:
        return None
    first = rows[0]
    return PublicStatus(
        tracking_code=first[0],
        status=first[1],
        received_on=first[2],
        closed_on=first[3],
        shredded_on=first[4],
        category=CatalogName(*first[5:8]),
        service=CatalogName(*first[8:11]),
        unit=CatalogName(*first[11:14]),
        timeline=tuple(TimelineStep(row[14], row[15], row[16]) for row in rows if row[14]),
    )
