"""The one intake seam: every channel's new report becomes one checked `ReportInput`.

Three channels take reports: the citizen's form (citizens/), the operator's walk-in and
phone form (inspectorate/operator.py) and the JSON API (api/routes.py). Each parses its own
request — the HTML forms with WTForms and CSRF, the API from JSON whose shape the OpenAPI
document describes — into the answers as text, and `report_input()` applies the rules once:
required answers, lengths, dates not in the future, amount bounds, active catalogue codes;
`with_evidence()` the number of files. `refusal()` is the one place that turns what filing
can raise into a translated message, the fields it concerns and an HTTP status, so a
retired catalogue code or a busy key derivation reads the same through every channel.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString

from portal.crypto import DerivationBusy
from portal.evidence import CleanFile, EvidenceRejected
from portal.forms import clean_text
from portal.models import Category, Channel, Service, Unit
from portal.models.base import today
from portal.rupiah import MAX_AMOUNT, parse_rupiah
from portal.services import catalog, evidence_store
from portal.services.errors import DomainError
from portal.services.reports import (
    NotInitialised,
    PublicKeyMismatch,
    ReportContent,
    ReportInput,
)

# Limits on every free-text answer: long enough for a full account, short enough that
# one report cannot fill the database. portal/api/openapi.json states the same numbers.
MAX_PROMISED = 500
MAX_PERSON = 2000
MAX_CHRONOLOGY = 10000
MIN_CHRONOLOGY = 20
MAX_CONTACT = 500
MAX_AMOUNT_TEXT = 40  # characters of an amount as typed
OLDEST_INCIDENT_YEARS = 10
# What a person types into a date box, and what the API documents.
DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y", "%d-%m-%Y")

WHO_ASKED_VALUES = ("officer", "broker", "other")
# The form's radio values for "was it paid?"; the API sends true, false or null.
PAID_VALUES = {"yes": True, "no": False, "unknown": None, "": None}

# The answers every channel gives, as text, in the order errors are listed.
CATALOG_FIELDS: tuple[tuple[str, type[Category | Service | Unit]], ...] = (
    ("category", Category),
    ("service", Service),
    ("unit", Unit),
)
FREE_TEXT_FIELDS = ("promised", "person_description", "chronology", "contact")
FIELDS = (
    "category",
    "service",
    "unit",
    "incident_date",
    "who_asked",
    "amount_demanded",
    "paid",
    *FREE_TEXT_FIELDS,
)

# The messages of the rules (msgids shared with the forms' earlier validators).
CHOOSE_ONE = _l("Choose one.")
NOT_A_CHOICE = _l("Not a valid choice.")
NOT_OFFERED = _l("This choice is not offered (any more). Choose another one.")
ENTER_DATE = _l("Enter the date as dd/mm/yyyy.")
FUTURE_DATE = _l("The date cannot be in the future.")
OLD_DATE = _l("Reports about events older than ten years cannot be handled.")
AMOUNT_FORMAT = _l("Write the amount in Rupiah using digits, for example 150000 or 150rb.")
AMOUNT_IMPLAUSIBLE = _l("That amount is not plausible.")
TELL_US = _l("Tell us what happened.")
CHRONOLOGY_LENGTH = _l("Write between %(min)d and %(max)d characters.")
TOO_LONG = _l("At most %(max)d characters.")


def parse_date(text: str) -> date | None:
    """The day in one of DATE_FORMATS, or None when it is not a date."""
    for form in DATE_FORMATS:
        try:
            return datetime.strptime(text.strip(), form).date()
        except ValueError:
            continue
    return None


class InvalidReport(DomainError):
    """Answers that break the rules; `fields` maps each answer's name to its messages."""

    text = _l("Some fields are missing or invalid.")

    def __init__(self, fields: Mapping[str, Sequence[str]]) -> None:
        """Keep the field names in the exception text: a logged refusal shows no content."""
        super().__init__(", ".join(sorted(fields)))
        self.fields = {
            name: [str(message) for message in messages] for name, messages in fields.items()
        }


class _Errors:
    """Messages collected per field while the rules run."""

    def __init__(self) -> None:
        self.fields: dict[str, list[str]] = {}

    def add(self, name: str, message: str | LazyString) -> None:
        self.fields.setdefault(name, []).append(str(message))


def _text(values: Mapping[str, str | None], name: str, *, strip: bool = False) -> str:
    """One answer as text, invisible characters removed (and trimmed, for free text)."""
    value = clean_text(values.get(name) or "")
    return value.strip() if strip else value


def _check_length(errors: _Errors, name: str, value: str, limit: int) -> None:
    if len(value) > limit:
        errors.add(name, TOO_LONG % {"max": limit})


def report_input(
    values: Mapping[str, str | None], *, channel: Channel = Channel.WEB
) -> ReportInput:
    """The report these answers describe, or InvalidReport naming every answer refused.

    `values` holds each answer of FIELDS as the person wrote it (the API's JSON values
    turned into the same text); missing and None mean not answered.
    """
    errors = _Errors()
    codes = {}
    for name, model in CATALOG_FIELDS:
        code = _text(values, name)
        if not code:
            errors.add(name, CHOOSE_ONE)
        elif not catalog.is_active(model, code):
            errors.add(name, NOT_OFFERED)
        codes[name] = code

    incident = parse_date(_text(values, "incident_date"))
    if incident is None:
        errors.add("incident_date", ENTER_DATE)
    elif incident > today():
        errors.add("incident_date", FUTURE_DATE)
    elif incident < today() - timedelta(days=365 * OLDEST_INCIDENT_YEARS):
        errors.add("incident_date", OLD_DATE)

    who_asked = _text(values, "who_asked")
    if not who_asked:
        errors.add("who_asked", CHOOSE_ONE)
    elif who_asked not in WHO_ASKED_VALUES:
        errors.add("who_asked", NOT_A_CHOICE)

    amount_text = _text(values, "amount_demanded")
    amount: int | None = None
    try:
        amount = parse_rupiah(amount_text)
    except ValueError:
        errors.add("amount_demanded", AMOUNT_FORMAT)
    else:
        if amount is not None and not 0 <= amount <= MAX_AMOUNT:
            errors.add("amount_demanded", AMOUNT_IMPLAUSIBLE)
    _check_length(errors, "amount_demanded", amount_text, MAX_AMOUNT_TEXT)

    paid_text = _text(values, "paid")
    if paid_text not in PAID_VALUES:
        errors.add("paid", NOT_A_CHOICE)

    texts = {name: _text(values, name, strip=True) for name in FREE_TEXT_FIELDS}
    chronology = texts["chronology"]
    if not chronology:
        errors.add("chronology", TELL_US)
    elif not MIN_CHRONOLOGY <= len(chronology) <= MAX_CHRONOLOGY:
        errors.add("chronology", CHRONOLOGY_LENGTH % {"min": MIN_CHRONOLOGY, "max": MAX_CHRONOLOGY})
    for name, limit in (
        ("promised", MAX_PROMISED),
        ("person_description", MAX_PERSON),
        ("contact", MAX_CONTACT),
    ):
        _check_length(errors, name, texts[name], limit)

    if errors.fields or incident is None:
        raise InvalidReport(errors.fields)
    return ReportInput(
        category=codes["category"],
        service=codes["service"],
        unit=codes["unit"],
        content=ReportContent(
            incident_date=incident,
            who_asked=who_asked,
            amount_demanded=amount,
            paid=PAID_VALUES[paid_text],
            promised=texts["promised"],
            person_description=texts["person_description"],
            chronology=chronology,
        ),
        contact=texts["contact"],
        channel=channel,
    )


def with_evidence(report: ReportInput, files: Sequence[CleanFile]) -> ReportInput:
    """The report with its cleaned evidence files; TooManyFiles past the limit."""
    evidence_store.check_file_count(None, len(files))
    return replace(report, files=tuple(files))


# --- the API's JSON -----------------------------------------------------------------------

OPENAPI_FILE = Path(__file__).resolve().parent.parent / "api" / "openapi.json"
# What each JSON type in the document is called when a value has another one.
_TYPE_MESSAGES = {
    "string": _l("Must be a string."),
    "integer": _l("Must be a whole number of Rupiah."),
    "boolean": _l("Must be true, false or null."),
}
UNKNOWN_FIELD = _l("Unknown field.")
NOT_TEXT = _l("Contains characters that are not valid text.")


@cache
def _json_shape() -> dict[str, str]:
    """Each field of the documented NewReport object and its JSON type (null aside)."""
    document = json.loads(OPENAPI_FILE.read_text())
    properties = document["components"]["schemas"]["NewReport"]["properties"]
    shape = {}
    for name, schema in properties.items():
        if "$ref" in schema:  # a catalogue code: a string with a pattern
            schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        shape[name] = next(kind for kind in types if kind != "null")
    return shape


def _json_value_text(kind: str, value: Any) -> str | None:
    """The answer as text if `value` is of JSON type `kind`, else None."""
    if kind == "string" and isinstance(value, str):
        return value
    if kind == "integer" and isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if kind == "boolean" and isinstance(value, bool):
        return "yes" if value else "no"
    return None


def _encodable(value: str) -> bool:
    """JSON may carry lone surrogates (\\ud800) that no UTF-8 text can hold."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def from_json(payload: Mapping[str, Any], *, channel: Channel = Channel.API) -> ReportInput:
    """The report of an API request's JSON object, or InvalidReport naming every bad field.

    The shape (which fields, which JSON types) is the OpenAPI document's NewReport; null
    and a left-out field mean not answered. The answers then go through the same rules as
    the forms' (`report_input`); a field refused for its shape keeps only that message.
    """
    shape = _json_shape()
    errors = _Errors()
    values: dict[str, str | None] = {}
    for name in sorted(set(payload) - set(shape)):
        errors.add(str(name), UNKNOWN_FIELD)
    for name, kind in shape.items():
        value = payload.get(name)
        if value is None:
            continue
        text = _json_value_text(kind, value)
        if text is None:
            errors.add(name, _TYPE_MESSAGES[kind])
        elif not _encodable(text):
            errors.add(name, NOT_TEXT)
        else:
            values[name] = text
    try:
        report = report_input(values, channel=channel)
    except InvalidReport as invalid:
        for name, messages in invalid.fields.items():
            if name not in errors.fields:
                errors.fields[name] = messages
    if errors.fields:
        raise InvalidReport(errors.fields)
    return report


# --- what filing can raise, for every channel ---------------------------------------------

# Every refusal `refusal()` knows; a view catches these around intake and filing.
REFUSED: tuple[type[Exception], ...] = (
    InvalidReport,
    EvidenceRejected,
    evidence_store.TooManyFiles,
    DerivationBusy,
    NotInitialised,
)
# The name under which a refusal of the evidence files is reported; channels rename it.
EVIDENCE = "evidence"


@dataclass(frozen=True)
class Refusal:
    """Why a report was not filed: an HTTP status, a code for machines, the message, the
    fields it concerns (answers, or EVIDENCE) and, when busy, when to try again."""

    status: int
    code: str
    message: str
    fields: dict[str, list[str]] = field(default_factory=dict)
    retry_after: int | None = None


def refusal(error: Exception) -> Refusal:
    """The one mapping from a refused filing to status, code and translated message."""
    if isinstance(error, InvalidReport):
        return Refusal(400, "invalid_report", error.message, error.fields)
    if isinstance(error, EvidenceRejected):
        message = str(error.message)
        return Refusal(400, "invalid_evidence", message, {EVIDENCE: [message]})
    if isinstance(error, evidence_store.TooManyFiles):
        return Refusal(400, "invalid_evidence", error.message, {EVIDENCE: [error.message]})
    if isinstance(error, DerivationBusy):
        message = gettext(
            "The portal is busy and your report was not sent yet: nothing was saved."
            " Send it again in a moment."
        )
        return Refusal(503, "busy", message, retry_after=error.retry_after)
    if isinstance(error, PublicKeyMismatch):
        message = gettext("The portal cannot accept reports right now. Try again later.")
        return Refusal(503, "unavailable", message)
    if isinstance(error, NotInitialised):
        return Refusal(503, "not_initialised", gettext("The portal is not set up yet."))
    raise TypeError(f"not a refusal of a filing: {type(error).__name__}") from error
