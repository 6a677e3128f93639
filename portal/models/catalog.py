"""The catalogue the report form offers: categories, services and units (places)."""

from __future__ import annotations

from flask_babel import get_locale
from sqlalchemy import BigInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from portal.extensions import db


class Bilingual:
    """Rows named in Indonesian and English; `name` picks the visitor's language."""

    name_id: Mapped[str]
    name_en: Mapped[str]

    @property
    def name(self) -> str:
        """The name in the current locale, Indonesian when no locale is active."""
        locale = get_locale()
        return self.name_en if locale is not None and locale.language == "en" else self.name_id


class Category(Bilingual, db.Model):  # type: ignore[name-defined]
    """What kind of wrongdoing a report is about (pungli, calo, ...)."""

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    name_id: Mapped[str] = mapped_column(String(120))
    name_en: Mapped[str] = mapped_column(String(120))
    position: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = mapped_column(default=True)


class Service(Bilingual, db.Model):  # type: ignore[name-defined]
    """A public service (KTP-el, KK, ...) with its official fee and legal basis."""

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    name_id: Mapped[str] = mapped_column(String(120))
    name_en: Mapped[str] = mapped_column(String(120))
    fee_rupiah: Mapped[int] = mapped_column(BigInteger, default=0)
    legal_basis: Mapped[str] = mapped_column(String(200))
    standard_time_id: Mapped[str] = mapped_column(String(200), default="")
    standard_time_en: Mapped[str] = mapped_column(String(200), default="")
    requirements_id: Mapped[str] = mapped_column(Text, default="")
    requirements_en: Mapped[str] = mapped_column(Text, default="")
    position: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = mapped_column(default=True)


class Unit(Bilingual, db.Model):  # type: ignore[name-defined]
    """A place where a service is delivered: office counter, MPP, kecamatan, ..."""

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    name_id: Mapped[str] = mapped_column(String(160))
    name_en: Mapped[str] = mapped_column(String(160))
    kind: Mapped[str] = mapped_column(String(40))
    position: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = mapped_column(default=True)
