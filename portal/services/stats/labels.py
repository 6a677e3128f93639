"""The breakdowns' keys and their labels in both languages, as a quarter publishes them."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from flask_babel import force_locale, format_date
from sqlalchemy import select

from portal.extensions import db
from portal.labels import CHANNEL_LABELS, STATUS_LABELS
from portal.models import Category, Channel, Service, Status, Unit
from portal.months import month_key
from portal.services.stats.figures import REFERRAL_LABELS
from portal.services.stats.periods import Period

# Per breakdown: (key, Indonesian label, English label, listed even at zero).
KeyOrder = dict[str, list[tuple[str, str, str, bool]]]


def _labels(locale: str, texts: Mapping[Any, Any]) -> dict[str, str]:
    """Lazy labels (keyed by value or by enum member) rendered in one language."""
    with force_locale(locale):
        return {str(key): str(text) for key, text in texts.items()}


def _catalogue(
    model: type[Category] | type[Service] | type[Unit],
) -> list[tuple[str, str, str, bool]]:
    """(code, Indonesian name, English name, active) of a catalogue, in its order."""
    rows = db.session.execute(
        select(model.code, model.name_id, model.name_en, model.active).order_by(
            model.position, model.code
        )
    )
    return [(code, name_id, name_en, bool(active)) for code, name_id, name_en, active in rows]


def _month_labels(months: Sequence[date]) -> dict[str, tuple[str, str]]:
    """Month keys with their names in both languages."""
    labels: dict[str, tuple[str, str]] = {}
    for month in months:
        with force_locale("id"):
            name_id = format_date(month, "MMMM yyyy")
        with force_locale("en"):
            name_en = format_date(month, "MMMM yyyy")
        labels[month_key(month)] = (name_id, name_en)
    return labels


def key_order(period: Period) -> KeyOrder:
    """Every breakdown's keys in publishing order, as the catalogue and labels stand now.

    Fixed lists (statuses, categories, services, channels, outside bodies) are listed even
    at zero; units only when the period has reports there (a city has many of them). A
    quarter keeps this on publication, so renaming or retiring an entry later changes
    only quarters published after it.
    """
    statuses = [status.value for status in Status]
    status_id, status_en = _labels("id", STATUS_LABELS), _labels("en", STATUS_LABELS)
    channels = [channel.value for channel in Channel]
    channel_id, channel_en = _labels("id", CHANNEL_LABELS), _labels("en", CHANNEL_LABELS)
    referral_id, referral_en = _labels("id", REFERRAL_LABELS), _labels("en", REFERRAL_LABELS)
    months = _month_labels(period.months)
    return {
        "status": [(key, status_id[key], status_en[key], True) for key in statuses],
        "category": [(c, i, e, active) for c, i, e, active in _catalogue(Category)],
        "service": [(c, i, e, active) for c, i, e, active in _catalogue(Service)],
        "unit": [(c, i, e, False) for c, i, e, _ in _catalogue(Unit)],
        "channel": [(key, channel_id[key], channel_en[key], True) for key in channels],
        "month": [(key, name_id, name_en, True) for key, (name_id, name_en) in months.items()],
        "referral": [(key, referral_id[key], referral_en[key], True) for key in REFERRAL_LABELS],
    }


def stored_order(text: str | None, period: Period) -> KeyOrder:
    """A publication's kept key order (or, for one published before it was kept, today's)."""
    if text is None:
        return key_order(period)
    data = json.loads(text)
    return {
        name: [(str(key), str(i), str(e), bool(always)) for key, i, e, always in rows]
        for name, rows in data.items()
    }


def merged_order(orders: Sequence[KeyOrder]) -> KeyOrder:
    """A year's key order: its newest quarter's, then keys only older quarters had."""
    result: KeyOrder = {}
    for order in reversed(orders):
        for name, rows in order.items():
            listed = result.setdefault(name, [])
            known = {row[0] for row in listed}
            listed.extend(row for row in rows if row[0] not in known)
    return result
