"""The catalogue of categories, services and units: seeding, lookups and audited edits.

One module on purpose: every edit replaces the version token that the cached lookups are
keyed on, so the two halves are read (and changed) together.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload
from wtforms.fields.choices import SelectChoice

from portal import memo, seed
from portal.extensions import db
from portal.models import Category, Service, Unit
from portal.services import audit, versions
from portal.services.errors import DomainError

CatalogRow = TypeVar("CatalogRow", Category, Service, Unit)
Built = TypeVar("Built")


# --- Cached reads --------------------------------------------------------------------------

# The catalogue changes a few times a year and is read on every fee page, form and API call.
# Each app server keeps what it built from it (rendered pages, JSON) under the catalogue's
# version token (services/versions.py), which every edit replaces in its own transaction.
VERSION_KEY = "catalog_version"
# Built values per catalogue version: an edit's new token makes new keys, and the old
# version's entries age out of the bounded store.
_CACHE = "portal.catalog_cache"
_CACHE_SIZE = 128


def version() -> str:
    """The catalogue's current version token (a primary-key read, at most once a second)."""
    return versions.current(VERSION_KEY)


def cached(key: tuple[str, ...], build: Callable[[], Built]) -> Built:
    """`build()` once per catalogue version on this app server; `key` names what it builds."""
    return memo.app_cache(_CACHE, _CACHE_SIZE).get((version(), *key), build)


def seed_catalog() -> None:
    """Insert the Kota Serang catalogue rows that are missing; never overwrite edits."""
    # A new version too: servers may have cached the catalogue without the added rows.
    versions.replace(VERSION_KEY)
    for position, (code, name_id, name_en) in enumerate(seed.CATEGORIES):
        if db.session.get(Category, code) is None:
            db.session.add(Category(code=code, name_id=name_id, name_en=name_en, position=position))
    new_units: list[Unit] = []
    for position, (code, name_id, name_en, kind) in enumerate(seed.UNITS):
        if db.session.get(Unit, code) is None:
            unit = Unit(code=code, name_id=name_id, name_en=name_en, kind=kind, position=position)
            db.session.add(unit)
            new_units.append(unit)
    for position, (code, name_id, name_en, time_id, time_en) in enumerate(seed.SERVICES):
        if db.session.get(Service, code) is None:
            requirements_id, requirements_en = seed.REQUIREMENTS.get(code, ("", ""))
            served_at = seed.SERVED_AT.get(code, ())
            db.session.add(
                Service(
                    code=code,
                    name_id=name_id,
                    name_en=name_en,
                    fee_rupiah=0,
                    legal_basis=seed.ADMINDUK_BASIS,
                    penalty_basis=seed.ADMINDUK_PENALTY,
                    standard_time_id=time_id,
                    standard_time_en=time_en,
                    requirements_id=requirements_id,
                    requirements_en=requirements_en,
                    listed=code not in seed.UNLISTED_SERVICES,
                    position=position,
                    # Links only to units made now: a unit the admin already has stays as edited.
                    units=[u for u in new_units if u.code in served_at or u.kind in served_at],
                )
            )


def active(model: type[CatalogRow]) -> list[CatalogRow]:
    """Active rows of one catalogue table, in display order."""
    query = db.select(model).where(model.active.is_(True)).order_by(model.position, model.code)
    return list(db.session.scalars(query))


def choices(model: type[CatalogRow]) -> list[SelectChoice]:
    """Options of active rows, for a select field (built once per catalogue version)."""
    locale = get_locale()
    language = locale.language if locale is not None else "-"

    def build() -> list[tuple[str, str]]:
        return [(row.code, row.name) for row in active(model)]

    pairs = cached(("choices", model.__tablename__, language), build)
    return [SelectChoice(code, name) for code, name in pairs]


def is_active(model: type[CatalogRow], code: str) -> bool:
    """Whether `code` names an active row (from the codes built once per version)."""
    if not code:
        return False
    codes = cached(
        ("active_codes", model.__tablename__), lambda: {row.code for row in active(model)}
    )
    return code in codes


def find_active(model: type[CatalogRow], code: str) -> CatalogRow | None:
    """The active row with this code, or None."""
    row = db.session.get(model, code)
    return row if row is not None and row.active else None


def listed_services() -> list[Service]:
    """Active services shown in the public fee catalogue, with the units serving them."""
    query = (
        db.select(Service)
        .where(Service.active.is_(True), Service.listed.is_(True))
        .order_by(Service.position, Service.code)
        .options(selectinload(Service.units))
    )
    return list(db.session.scalars(query))


def find_listed(code: str) -> Service | None:
    """The active, listed service with this code, or None."""
    service = find_active(Service, code)
    return service if service is not None and service.listed else None


def poster_units() -> list[Unit]:
    """Active units a poster can hang in: every kind but the catch-all "other place"."""
    return [unit for unit in active(Unit) if unit.kind != OTHER_KIND]


def find_poster_unit(code: str) -> Unit | None:
    """The active unit with this code that can have a poster, or None."""
    unit = find_active(Unit, code)
    return unit if unit is not None and unit.kind != OTHER_KIND else None


def every(model: type[CatalogRow]) -> list[CatalogRow]:
    """Every row of one catalogue table, inactive ones included, in display order."""
    return list(db.session.scalars(db.select(model).order_by(model.position, model.code)))


# --- Admin edits ---------------------------------------------------------------------------

# Codes are ids in URLs, reports and open data: short, lowercase, never changed once made.
CODE_PATTERN = re.compile(r"^[a-z0-9_]{2,40}$")
# Codes that are also fixed path segments: /inspectorate/admin/catalog/<table>/new adds a
# row, and /layanan/poster is the poster index, so no row may be called "new", no service
# "poster".
RESERVED_CODES = frozenset({"new"})
RESERVED_SERVICE_CODES = frozenset({"poster"})
# Fees are whole Rupiah. Population documents are free; a city may list a paid service,
# but nothing it offers costs Rp100 juta: a larger number is a typing slip.
MAX_FEE_RUPIAH = 100_000_000
MAX_POSITION = 9999
# Requirements are a handful of lines; a page of text is plenty.
MAX_REQUIREMENTS_LENGTH = 4000
OTHER_KIND = "other"
# What kind of place a unit is; "other" is the form's catch-all and gets no poster.
UNIT_KIND_LABELS = {
    "office": _l("Office"),
    "mpp": _l("Public service mall (MPP)"),
    "mobile": _l("Mobile service"),
    "kecamatan": _l("Sub-district office (kecamatan)"),
    "kelurahan": _l("Urban village office (kelurahan)"),
    OTHER_KIND: _l("Another place"),
}
UNIT_KINDS = tuple(UNIT_KIND_LABELS)
# A service given at every place of one of these kinds is shown as one line.
EVERY_KIND_LABELS = {
    "kecamatan": _l("Every sub-district office (kecamatan)"),
    "kelurahan": _l("Every urban village office (kelurahan)"),
}


def unit_kind_label(kind: str) -> str:
    """The translated name of a unit kind."""
    label = UNIT_KIND_LABELS.get(kind)
    return str(label) if label is not None else kind


@dataclass(frozen=True)
class FieldRule:
    """How one editable column is checked: text (one line or several), number or flag."""

    kind: str  # "text", "lines", "int", "bool" or "choice"
    max_length: int = 0
    required: bool = False
    minimum: int = 0
    maximum: int = MAX_POSITION
    choices: tuple[str, ...] = ()


def _text(max_length: int, *, required: bool = False) -> FieldRule:
    """A one-line text column."""
    return FieldRule("text", max_length=max_length, required=required)


POSITION = FieldRule("int", minimum=0, maximum=MAX_POSITION)
FLAG = FieldRule("bool")

# The columns an admin may edit, per table, with their rules (lengths follow the columns).
EDITABLE: dict[type[Any], dict[str, FieldRule]] = {
    Category: {
        "name_id": _text(120, required=True),
        "name_en": _text(120, required=True),
        "position": POSITION,
        "active": FLAG,
    },
    Service: {
        "name_id": _text(120, required=True),
        "name_en": _text(120, required=True),
        "fee_rupiah": FieldRule("int", minimum=0, maximum=MAX_FEE_RUPIAH),
        "legal_basis": _text(200, required=True),
        "penalty_basis": _text(200),
        "standard_time_id": _text(200),
        "standard_time_en": _text(200),
        "requirements_id": FieldRule("lines", max_length=MAX_REQUIREMENTS_LENGTH),
        "requirements_en": FieldRule("lines", max_length=MAX_REQUIREMENTS_LENGTH),
        "position": POSITION,
        "active": FLAG,
        "listed": FLAG,
    },
    Unit: {
        "name_id": _text(160, required=True),
        "name_en": _text(160, required=True),
        "kind": FieldRule("choice", choices=UNIT_KINDS),
        "address": _text(300),
        "hours_id": _text(200),
        "hours_en": _text(200),
        "position": POSITION,
        "active": FLAG,
    },
}
# Audit action names: catalog.service_updated, catalog.unit_created, ...
TABLE_NAMES: dict[type[Any], str] = {Category: "category", Service: "service", Unit: "unit"}


class CatalogError(DomainError):
    """A refused catalogue edit; `message` says why in the current language."""

    text = _l("The catalogue was not changed.")


class InvalidEntry(CatalogError):
    """One or more values break the rules; `errors` maps each field to its message."""

    text = _l("Please correct the marked fields.")

    def __init__(self, errors: Mapping[str, Any]) -> None:
        """Keep each field's reason for the form."""
        super().__init__(dict(errors))
        # Lazy strings: translated when shown, so the service works outside a request too.
        self.errors: dict[str, Any] = dict(errors)


class DuplicateCode(CatalogError):
    """A row with this code already exists (codes are never reused)."""

    text = _l("This code is already used. Choose another one.")


def _clean_value(rule: FieldRule, value: Any) -> tuple[Any, Any]:
    """The normalised value and None, or None and the reason it is refused."""
    if rule.kind == "bool":
        if not isinstance(value, bool):
            return None, _l("Choose yes or no.")
        return value, None
    if rule.kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            return None, _l("Enter a whole number.")
        if value < rule.minimum:
            return None, _l("Enter %(min)s or more.", min=rule.minimum)
        if value > rule.maximum:
            return None, _l("Enter at most %(max)s.", max=rule.maximum)
        return value, None
    if not isinstance(value, str):
        return None, _l("Enter text.")
    if rule.kind == "choice":
        return (value, None) if value in rule.choices else (None, _l("Not a valid choice."))
    if rule.kind == "lines":
        # One requirement per line; blank lines and stray spaces are dropped.
        lines = (line.strip() for line in value.replace("\r\n", "\n").split("\n"))
        text = "\n".join(line for line in lines if line)
    else:
        text = " ".join(value.split())
    if rule.required and not text:
        return None, _l("This field is required.")
    if len(text) > rule.max_length:
        return None, _l("At most %(max)d characters.", max=rule.max_length)
    return text, None


def _clean(model: type[Any], values: Mapping[str, Any], *, complete: bool) -> dict[str, Any]:
    """The values, normalised and checked against the table's rules; InvalidEntry otherwise.

    With `complete`, every required field must be given (a new row).
    """
    rules = EDITABLE[model]
    cleaned: dict[str, Any] = {}
    errors: dict[str, Any] = {}
    for name in sorted(set(values) - set(rules)):
        errors[name] = _l("This field cannot be edited.")
    for name, rule in rules.items():
        if name not in values:
            if complete and (rule.required or rule.kind == "choice"):
                errors[name] = _l("This field is required.")
            continue
        value, error = _clean_value(rule, values[name])
        if error is not None:
            errors[name] = error
        else:
            cleaned[name] = value
    if errors:
        raise InvalidEntry(errors)
    return cleaned


def _check_code(model: type[Any], code: str) -> str:
    """A free, well-formed code for a new row; InvalidEntry or DuplicateCode otherwise."""
    if not CODE_PATTERN.match(code):
        raise InvalidEntry({"code": _l("Use 2 to 40 lowercase letters, digits or underscores.")})
    if code in RESERVED_CODES or (model is Service and code in RESERVED_SERVICE_CODES):
        raise InvalidEntry({"code": _l("This code is reserved. Choose another one.")})
    if db.session.get(model, code) is not None:
        raise DuplicateCode(code)
    return code


def _units(codes: Iterable[str]) -> list[Unit]:
    """The units with these codes, in display order; InvalidEntry for an unknown code."""
    wanted = set(codes)
    units = [unit for unit in every(Unit) if unit.code in wanted]
    if len(units) != len(wanted):
        raise InvalidEntry({"units": _l("Not a valid choice.")})
    return units


def _record(
    model: type[Any], *, actor: str, event: str, code: str, changes: Mapping[str, Any]
) -> None:
    """Audit a change with each changed field's old and new value; a new catalogue version."""
    versions.replace(VERSION_KEY)
    audit.record(
        actor=actor,
        action=f"catalog.{TABLE_NAMES[model]}_{event}",
        target=code,
        detail=json.dumps(changes, sort_keys=True, ensure_ascii=False),
    )


def create(
    model: type[CatalogRow],
    *,
    actor: str,
    code: str,
    values: Mapping[str, Any],
    unit_codes: Iterable[str] | None = None,
) -> CatalogRow:
    """Add a category, service or unit, audited; it is live once the caller's block commits.

    `unit_codes` (services only) are the units that serve it. DuplicateCode if the code
    exists, also when another admin added it a moment ago (the block then rolls back).
    """
    code = _check_code(model, code)
    cleaned = _clean(model, values, complete=True)
    units = _units(unit_codes or ()) if model is Service else []
    row = model(code=code, **cleaned)
    changes: dict[str, Any] = {name: {"old": None, "new": value} for name, value in cleaned.items()}
    if isinstance(row, Service):
        row.units = units
        changes["units"] = {"old": None, "new": [unit.code for unit in units]}
    db.session.add(row)
    try:
        db.session.flush()
    except IntegrityError:
        # Another admin added the same code a moment ago: the caller's block rolls back.
        raise DuplicateCode(code) from None
    _record(model, actor=actor, event="created", code=code, changes=changes)
    return row


def update(
    row: CatalogRow,
    *,
    actor: str,
    values: Mapping[str, Any],
    unit_codes: Iterable[str] | None = None,
) -> list[str]:
    """Change a row, audited; returns the changed fields (none: no entry).

    Nothing is changed if any value is refused. The code never changes: reports refer to it.
    """
    model = type(row)
    cleaned = _clean(model, values, complete=False)
    units = _units(unit_codes) if unit_codes is not None and isinstance(row, Service) else None
    changes: dict[str, Any] = {}
    for name, value in cleaned.items():
        old = getattr(row, name)
        if old != value:
            changes[name] = {"old": old, "new": value}
    if isinstance(row, Service) and units is not None:
        old_codes = [unit.code for unit in row.units]
        new_codes = [unit.code for unit in units]
        if sorted(old_codes) != sorted(new_codes):
            changes["units"] = {"old": old_codes, "new": new_codes}
    if not changes:
        return []
    for name in changes:
        if name == "units" and isinstance(row, Service) and units is not None:
            row.units = units
        else:
            setattr(row, name, cleaned[name])
    _record(model, actor=actor, event="updated", code=row.code, changes=changes)
    return sorted(changes)
