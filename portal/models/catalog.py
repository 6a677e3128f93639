"""The catalogue the report form offers: categories, services and units (places)."""

from __future__ import annotations

from flask_babel import get_locale
from sqlalchemy import BigInteger, Column, ForeignKey, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

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

    def localized(self, stem: str) -> str:
        """`<stem>_en` for English visitors (Indonesian when it is empty), else `<stem>_id`."""
        locale = get_locale()
        indonesian = str(getattr(self, f"{stem}_id") or "")
        if locale is not None and locale.language == "en":
            return str(getattr(self, f"{stem}_en") or "") or indonesian
        return indonesian


# Where each service is delivered: edited on the service's admin page, shown on the public
# catalogue and on each unit's poster.
service_unit = Table(
    "service_unit",
    db.metadata,
    Column("service_code", ForeignKey("service.code", ondelete="CASCADE"), primary_key=True),
    Column("unit_code", ForeignKey("unit.code", ondelete="CASCADE"), primary_key=True),
)


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
    # What charging for it costs an official (UU 24/2013 Pasal 95B for population documents).
    penalty_basis: Mapped[str] = mapped_column(String(200), default="")
    # Shown in the public fee catalogue; "Other service" is offered by the form only.
    listed: Mapped[bool] = mapped_column(default=True)
    units: Mapped[list[Unit]] = relationship(
        secondary=service_unit, back_populates="services", order_by="(Unit.position, Unit.code)"
    )

    @property
    def standard_time(self) -> str:
        """The standard completion time in the visitor's language."""
        return self.localized("standard_time")

    @property
    def requirements(self) -> list[str]:
        """The requirements in the visitor's language, one per line."""
        return [
            line.strip() for line in self.localized("requirements").splitlines() if line.strip()
        ]


class Unit(Bilingual, db.Model):  # type: ignore[name-defined]
    """A place where a service is delivered: office counter, MPP, kecamatan, ..."""

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    name_id: Mapped[str] = mapped_column(String(160))
    name_en: Mapped[str] = mapped_column(String(160))
    kind: Mapped[str] = mapped_column(String(40))
    position: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = mapped_column(default=True)
    address: Mapped[str] = mapped_column(String(300), default="")
    hours_id: Mapped[str] = mapped_column(String(200), default="")
    hours_en: Mapped[str] = mapped_column(String(200), default="")
    services: Mapped[list[Service]] = relationship(
        secondary=service_unit, back_populates="units", order_by="(Service.position, Service.code)"
    )

    @property
    def hours(self) -> str:
        """Opening hours in the visitor's language."""
        return self.localized("hours")
