"""The catalogue of categories, services and units: seeding and lookups."""

from __future__ import annotations

from typing import TypeVar

from wtforms.fields.choices import SelectChoice

from portal import seed
from portal.extensions import db
from portal.models import Category, Service, Unit

CatalogRow = TypeVar("CatalogRow", Category, Service, Unit)


def seed_catalog() -> None:
    """Insert the Kota Serang catalogue rows that are missing; never overwrite edits."""
    for position, (code, name_id, name_en) in enumerate(seed.CATEGORIES):
        if db.session.get(Category, code) is None:
            db.session.add(Category(code=code, name_id=name_id, name_en=name_en, position=position))
    for position, (code, name_id, name_en, time_id, time_en) in enumerate(seed.SERVICES):
        if db.session.get(Service, code) is None:
            db.session.add(
                Service(
                    code=code,
                    name_id=name_id,
                    name_en=name_en,
                    fee_rupiah=0,
                    legal_basis=seed.ADMINDUK_BASIS,
                    standard_time_id=time_id,
                    standard_time_en=time_en,
                    position=position,
                )
            )
    for position, (code, name_id, name_en, kind) in enumerate(seed.UNITS):
        if db.session.get(Unit, code) is None:
            db.session.add(
                Unit(code=code, name_id=name_id, name_en=name_en, kind=kind, position=position)
            )


def active(model: type[CatalogRow]) -> list[CatalogRow]:
    """Active rows of one catalogue table, in display order."""
    query = db.select(model).where(model.active.is_(True)).order_by(model.position, model.code)
    return list(db.session.scalars(query))


def choices(model: type[CatalogRow]) -> list[SelectChoice]:
    """Options of active rows, for a select field."""
    return [SelectChoice(row.code, row.name) for row in active(model)]


def find_active(model: type[CatalogRow], code: str) -> CatalogRow | None:
    """The active row with this code, or None."""
    row = db.session.get(model, code)
    return row if row is not None and row.active else None
