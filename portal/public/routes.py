"""Views anyone may open: home, status by tracking code, language switch."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app, redirect, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from portal import pages
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
    return _status_page(form.code.data or "", form)


@bp.get("/status/<code>")
@counted(lookup_limit, scope=LOOKUP_SCOPE)
def status_page(code: str) -> ResponseReturnValue:
    """A shareable status page for one tracking code (for media and the reporter)."""
    found = _lookup(code)
    if found is None:
        return _not_found(StatusForm(data={"code": code}))
    # The page shows `found`, the code as typed (the form, the language links) and the
    # visitor's CSRF token, nothing else: rendered once per language and per what it
    # shows, so a status change is a new key and a media spike costs one render per code.
    return pages.cached(
        ("status", current_locale(), request.path, found),
        lambda: render_template(
            "public/status.html", form=StatusForm(data={"code": code}), found=found
        ),
        store=pages.STATUS_STORE,
    )


def _status_page(text: str, form: StatusForm) -> ResponseReturnValue:
    """The lookup form's answer: the status, or the form again with why not."""
    found = _lookup(text)
    if found is None:
        return _not_found(form)
    return render_template("public/status.html", form=form, found=found)


def _lookup(text: str) -> PublicStatus | None:
    """The public status for a code as typed; the same work for unknown and known codes."""
    try:
        code = parse_tracking_code(text, current_app.config["CITY_PREFIX"])
    except InvalidIdentifier:
        code = None
    # An unparseable code still costs one indexed lookup, so timing does not tell them apart.
    return public_status(code or TrackingCode("-"))


def _not_found(form: StatusForm) -> ResponseReturnValue:
    form.code.errors = [_("No report has this tracking code. Check it and try again.")]
    return render_template("public/status.html", form=form, found=None), 404


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
