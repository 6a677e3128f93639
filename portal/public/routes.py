"""Views anyone may open: home, status by tracking code, language switch."""

from __future__ import annotations

import secrets
from typing import cast
from urllib.parse import urlsplit

from flask import (
    current_app,
    get_template_attribute,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from markupsafe import Markup

from portal import memo, pages
from portal.i18n import LOCALE_COOKIE, current_locale
from portal.identifiers import InvalidIdentifier, TrackingCode, parse_tracking_code
from portal.public import bp
from portal.public.forms import StatusForm
from portal.security import LOOKUP_SCOPE, counted, lookup_limit
from portal.services.reports import PublicStatus, public_status

LOCALE_COOKIE_DAYS = 365


@bp.get("/")
def home() -> ResponseReturnValue:
    """Landing page: what the portal is, how to report, how to check a status."""
    # The same for everyone in a language but the form's CSRF token: rendered once.
    return pages.cached(
        ("home", current_locale(), request.path, request.method),
        lambda: render_template("public/home.html", status_form=StatusForm()),
    )


@bp.get("/status")
def status_form() -> ResponseReturnValue:
    """The status lookup form."""
    return render_template("public/status.html", form=StatusForm())


@bp.post("/status")
@counted(lookup_limit, scope=LOOKUP_SCOPE)
def status_lookup() -> ResponseReturnValue:
    """Look up by form (POST keeps the code out of the browser history and URLs)."""
    form = StatusForm()
    if not form.validate():
        return render_template("public/status.html", form=form), 400
    found = public_status(_canonical(form.code.data or "") or TrackingCode("-"))
    if found is None:
        return _not_found(form)
    return render_template("public/status.html", form=form, card=_card(found))


@bp.get("/status/<code>")
@counted(lookup_limit, scope=LOOKUP_SCOPE)
def status_page(code: str) -> ResponseReturnValue:
    """A shareable status page for one tracking code (for media and the reporter)."""
    canonical = _canonical(code)
    if canonical is not None and canonical != code:
        # One address per report: typed in lower case or with spaces, a code is sent to
        # its canonical page (the one that is stored, and the one worth sharing).
        return redirect(url_for("public.status_page", code=canonical), 308)
    found = public_status(canonical or TrackingCode("-"))
    if found is None:
        return _not_found(StatusForm(data={"code": code}))
    # The page shows `found` and the visitor's CSRF token, nothing else: stored per
    # language and per what it shows, so a status change is a new key and nothing is
    # ever stale.
    return pages.cached(
        ("status", current_locale(), found), lambda: _status_html(found), store=pages.STATUS_STORE
    )


# The page around a status card is the same for every code but for the code itself (in
# the form and the language links): made once per language with these in its place, so
# a code's first view renders its card only. Canonical codes are letters, digits and
# dashes, which neither HTML nor URL escaping changes, so one placeholder serves both.
_CODE = f"CODE{secrets.token_hex(8).upper()}"
_CARD = f"<!--card-{secrets.token_hex(8)}-->"
_FRAMES = ("portal.status_frames", 8)


def _status_html(found: PublicStatus) -> str:
    """The status page of `found`, CSRF token left out (pages.cached puts it in)."""

    def frame() -> str:
        code = found.tracking_code
        marker = Markup(_CARD)  # noqa: S704 - a constant of ours, an HTML comment
        return pages.tokenless(
            lambda: render_template(
                "public/status.html", form=StatusForm(data={"code": code}), card=marker
            )
        ).replace(code, _CODE)

    page = memo.app_cache(*_FRAMES).get((current_locale(),), frame)
    return page.replace(_CODE, found.tracking_code).replace(_CARD, _card(found))


def _card(found: PublicStatus) -> Markup:
    """The status card of `found`: the macro alone, without the page around it."""
    card = get_template_attribute("public/_status_card.html", "card")
    return cast(Markup, card(found))  # an autoescaped macro returns Markup


def _canonical(text: str) -> TrackingCode | None:
    """The code as the portal writes it, or None if `text` cannot be a tracking code."""
    try:
        return parse_tracking_code(text, current_app.config["CITY_PREFIX"])
    except InvalidIdentifier:
        return None


def _not_found(form: StatusForm) -> ResponseReturnValue:
    # An unparseable code costs the same indexed lookup: timing does not tell them apart.
    form.code.errors = [_("No report has this tracking code. Check it and try again.")]
    return render_template("public/status.html", form=form), 404


def local_path(target: str) -> str:
    """`target` if it is a path on this site, else "/": never a redirect to another host.

    Browsers drop tabs and line breaks from URLs, so "/\t/evil.example" would become
    "//evil.example"; any control character or whitespace, a backslash, or anything
    that parses with a scheme or a host is refused.
    """
    if (
        not target.startswith("/")
        or target.startswith("//")
        or "\\" in target
        or any(char.isspace() or ord(char) < 0x20 or 0x7F <= ord(char) < 0xA0 for char in target)
    ):
        return "/"
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else "/"


@bp.get("/bahasa/<lang>")
def switch_language(lang: str) -> ResponseReturnValue:
    """Remember the chosen language in a cookie and go back; works without JavaScript."""
    response = redirect(local_path(request.args.get("next", "/")))
    if lang in current_app.config["LANGUAGES"]:
        response.set_cookie(
            LOCALE_COOKIE,
            lang,
            max_age=LOCALE_COOKIE_DAYS * 86400,
            httponly=True,
            samesite="Lax",
            secure=current_app.config["SESSION_COOKIE_SECURE"],
        )
    return response
