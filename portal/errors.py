"""Error pages: translated HTML for people, JSON under /api; never a stack trace."""

from __future__ import annotations

from flask import Flask, Response, jsonify, make_response, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import (
    HTTPException,
    InternalServerError,
    MethodNotAllowed,
    ServiceUnavailable,
)

from portal.crypto import DerivationBusy


def messages() -> dict[int, str]:
    """Plain-language messages per HTTP status, in the current language."""
    return {
        400: _("The request could not be understood. Please check what you entered."),
        403: _("You do not have access to this page."),
        404: _("This page does not exist."),
        405: _("This page cannot be used that way."),
        413: _("What you sent is too large."),
        415: _("Send JSON with the header Content-Type: application/json."),
        429: _("Too many attempts. Please wait a while and try again."),
        500: _("Something went wrong on our side. Nothing you sent was kept half-way."),
        503: _("The service is not available right now. Please try again later."),
    }


def api_error(
    status: int, code: str, message: str, fields: dict[str, list[str]] | None = None
) -> tuple[Response, int]:
    """The API's one error shape: {"error": {"code", "message", "fields"}}."""
    return jsonify({"error": {"code": code, "message": message, "fields": fields or {}}}), status


def _wants_json() -> bool:
    return request.path.startswith("/api/")


def handle_http(error: HTTPException) -> tuple[Response, int]:
    """Render any HTTP error in the visitor's language."""
    status = error.code or 500
    known = messages()
    message = known.get(status) or known[400 if status < 500 else 500]
    if isinstance(error, CSRFError):
        message = _("The form expired or was sent from elsewhere. Please open it again.")
    if _wants_json():
        code = (error.name or "error").lower().replace(" ", "_")
        response, _status = api_error(status, code, message)
    else:
        response = make_response(
            render_template("errors/error.html", status=status, message=message)
        )
    if isinstance(error, MethodNotAllowed) and error.valid_methods:
        # RFC 9110: a 405 must say which methods the resource supports.
        response.headers["Allow"] = ", ".join(sorted(error.valid_methods))
    return response, status


def handle_unexpected(error: Exception) -> tuple[Response, int]:
    """Log the failure with its traceback and endpoint, nothing the visitor sent; a calm 500.

    The endpoint and method, not the path: a path holds tracking codes and a query string.
    portal.logs makes the traceback safe (messages that can carry values are withheld).
    """
    from flask import current_app

    current_app.logger.error(
        "Unhandled %s at %s [%s]",
        type(error).__name__,
        request.endpoint,
        request.method,
        exc_info=error,
    )
    return handle_http(InternalServerError())


def handle_busy(error: DerivationBusy) -> tuple[Response | str, int, dict[str, str]]:
    """No key-derivation slot came free in time: 503 with Retry-After; nothing was saved."""
    message = _("The portal is busy right now and nothing was saved. Please try again in a moment.")
    headers = {"Retry-After": str(error.retry_after)}
    if _wants_json():
        return *api_error(503, "busy", message), headers
    return render_template("errors/error.html", status=503, message=message), 503, headers


def handle_database_down(error: Exception) -> tuple[Response, int]:
    """The database is unreachable or full: a translated 503, and nothing acknowledged.

    Every write commits before its answer is rendered, so a failure here means nothing
    was stored and no tracking code or receipt is shown.
    """
    from flask import current_app

    from portal.extensions import db

    try:
        # The failed request's transaction: its atomic() block already rolled back, but a
        # failure outside any block (a read) leaves the session to be reset here.
        db.session.rollback()
    except Exception:  # the connection may be gone; the answer matters more
        current_app.logger.warning("Rollback failed after a database error")
    current_app.logger.error(
        "Database unavailable (%s) at %s", type(error).__name__, request.endpoint
    )
    return handle_http(ServiceUnavailable())


def register(app: Flask) -> None:
    """Install the handlers, and the scrubbing log they write to."""
    from sqlalchemy.exc import InterfaceError, OperationalError

    from portal import logs

    logs.configure(app)
    app.register_error_handler(OperationalError, handle_database_down)
    app.register_error_handler(InterfaceError, handle_database_down)
    app.register_error_handler(HTTPException, handle_http)
    app.register_error_handler(DerivationBusy, handle_busy)
    app.register_error_handler(Exception, handle_unexpected)
