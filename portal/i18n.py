"""Locale selection and display helpers: Bahasa Indonesia by default, English on request."""

from __future__ import annotations

import functools
from datetime import date
from pathlib import Path
from typing import Any

from babel import Locale
from babel.support import NullTranslations
from flask import Flask, current_app, g, request
from flask_babel import Babel, format_date, get_locale, get_translations
from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup

from portal import labels
from portal.models.base import today

LOCALE_COOKIE = "lang"
TRANSLATIONS = Path(__file__).resolve().parent.parent / "translations"


def select_locale() -> Locale:
    """The visitor's chosen language (cookie), else the default.

    Pages never guess from Accept-Language: Indonesian is the default for everyone.
    API clients may ask for English with Accept-Language.
    """
    languages = current_app.config["LANGUAGES"]
    chosen = request.cookies.get(LOCALE_COOKIE, "")
    if chosen not in languages:
        chosen = current_app.config["BABEL_DEFAULT_LOCALE"]
        if request.path.startswith("/api/"):
            chosen = request.accept_languages.best_match(languages) or chosen
    return _locale(str(chosen))


@functools.lru_cache(maxsize=8)
def _locale(code: str) -> Locale:
    """One parsed Locale per language: Flask-Babel takes it as it is (parsing a code
    anew costs ~40 us a request, most of it in Locale.__str__)."""
    return Locale.parse(code)


def current_locale() -> str:
    """The active language code, for `<html lang>`."""
    locale = get_locale()
    return locale.language if locale is not None else "id"


def format_month(value: date | None) -> str:
    """A month as "Maret 2026" / "March 2026"."""
    return format_date(value, "MMMM yyyy") if value else ""


def format_rupiah(amount: int | None) -> str:
    """Rupiah with Indonesian digit grouping: Rp150.000."""
    if amount is None:
        return ""
    return "Rp" + f"{amount:,}".replace(",", ".")


def choice_label(field: Any) -> str:
    """The label of the option a select or radio field holds, or ""."""
    for choice in field.iter_choices():
        if choice.selected:
            return str(choice.label)
    return ""


def today_iso() -> str:
    """Today's date for the `max` of date inputs."""
    return today().isoformat()


def _translations() -> NullTranslations:
    """This request's translations, looked up once and kept on `g` for the request.

    Templates call gettext dozens of times per page; Flask-Babel finds the catalogue anew
    on every call (context, domain, locale, cache: ~8 us each, most of a page's render).
    Kept with the locale it was found for (Flask-Babel's own per-request attribute), so
    `force_locale` (e-mails to staff, bilingual statistics) still switches it.
    """
    babel_context = g.get("_flask_babel")
    locale = getattr(babel_context, "babel_locale", None)
    kept = g.get("_portal_translations")
    if kept is not None and locale is not None and kept[0] is locale:
        return kept[1]
    found = get_translations()
    g._portal_translations = (get_locale(), found)
    return found


@pass_context
def _template_gettext(context: Context, string: str, /, **variables: Any) -> str:
    """Templates' `_()`: Jinja's newstyle gettext, without its two `Context.call` layers.

    The same result (an escaped format string, filled with escaped variables); a
    translation used without variables, most of a page's dozens, is formatted once.
    """
    translated = _translations().ugettext(string)
    if not context.eval_ctx.autoescape:
        return translated % variables
    if variables:
        return Markup(translated) % variables  # noqa: S704 (our catalogue, as Jinja trusts it)
    return _formatted(translated)


@functools.lru_cache(maxsize=4096)
def _formatted(translated: str) -> Markup:
    """A translation as newstyle gettext gives it without variables ("%%" becomes "%")."""
    return Markup(translated) % {}  # noqa: S704 (our catalogue, as Jinja trusts it)


def init_app(app: Flask, babel: Babel) -> None:
    """Bind Flask-Babel with our selector and translation folder; expose helpers."""
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(TRANSLATIONS))
    babel.init_app(app, locale_selector=select_locale)
    # Flask-Babel's own callables, with the catalogue found once per request.
    app.jinja_env.install_gettext_callables(  # type: ignore[attr-defined]
        gettext=lambda text: _translations().ugettext(text),
        ngettext=lambda one, many, n: _translations().ungettext(one, many, n),
        pgettext=lambda context, text: _translations().upgettext(context, text),
        npgettext=lambda context, one, many, n: _translations().unpgettext(context, one, many, n),
        newstyle=True,
    )
    app.jinja_env.globals.update(
        _=_template_gettext,
        gettext=_template_gettext,
        current_locale=current_locale,
        status_label=labels.status_label,
        channel_label=labels.channel_label,
        priority_label=labels.priority_label,
        outcome_label=labels.outcome_label,
        sanction_label=labels.sanction_label,
        outside_body_label=labels.outside_body_label,
        publication_state_label=labels.publication_state_label,
        withdrawal_label=labels.withdrawal_label,
        role_label=labels.role_label,
        format_date=format_date,
        format_month=format_month,
        format_rupiah=format_rupiah,
        today_iso=today_iso,
        choice_label=choice_label,
    )
