"""The portal's log: tracebacks that diagnose a failure without repeating what anyone sent.

A traceback is kept whole (files, lines, functions and the source line of each frame:
code, never data) but exception messages are not: `int("...")`, a KeyError, a database
error's DETAIL can all carry a form value, a tracking code or an address. Each message is
kept only where its kind describes code (TypeError, AttributeError ...), a database error
is reduced to its statement (placeholders only) and driver's error class, and everything
written then goes through `scrub_text`, which masks addresses, codes, receipts, e-mail
addresses and query strings wherever they appear.
"""

from __future__ import annotations

import ipaddress
import logging
import re
import sys
import traceback
from typing import Any

from flask import Flask, has_request_context, request
from flask.logging import default_handler, wsgi_errors_stream

# gunicorn's error-log layout, with the logger's name: one look for both.
LOG_FORMAT = "[%(asctime)s] [%(process)d] [%(levelname)s] %(name)s: %(message)s"
DATE_FORMAT = "%Y-%m-%d %H:%M:%S %z"

# Exceptions whose message Python or a library builds from names and types in the code,
# not from values: kept (and still scrubbed), because they say what went wrong.
CODE_MESSAGE_TYPES: tuple[type[BaseException], ...] = (
    TypeError,
    AttributeError,
    NameError,
    ImportError,
    NotImplementedError,
    RecursionError,
)
# A chain longer than this is cut: enough to see the cause, bounded if it loops.
MAX_CHAIN = 8
MAX_STATEMENT = 600

# A tracking code as printed (SRG-7K3Q-9XMD-2P) or run together; long tokens with a digit
# (codes typed without dashes, hashes, tokens) go too: no word of prose looks like one.
_TRACKING_CODE = re.compile(r"\b[A-Z]{2,6}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{2,}\b", re.I)
_LONG_TOKEN = re.compile(r"\b(?=[0-9A-Z]*\d)(?=[0-9A-Z]*[A-Z])[0-9A-Z]{12,}\b", re.I)
# Receipts (20 digits, grouped or not) and any other long number.
_LONG_NUMBER = re.compile(r"\b\d{4}(?:[- ]?\d{4}){2,}\b|\b\d{8,}\b")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# A query string after a path or URL; SQL placeholders (`= ?`, `(?, ?)`) follow a space
# or a bracket and are left alone.
_QUERY = re.compile(r"(?<=[\w/\]])\?[^\s\"'<>]+")
_IPV4 = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.])")
_IPV6 = re.compile(r"(?<![\w:])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?![\w:])")


def _mask_address(match: re.Match[str]) -> str:
    """Mask the token if it is an IP address, else keep it (`12:30:45` is a time)."""
    try:
        ipaddress.ip_address(match.group(0))
    except ValueError:
        return match.group(0)
    return "<address>"


def scrub_text(text: str) -> str:
    """Mask what may identify a person or a report in free text; keep the rest readable."""
    text = _QUERY.sub("?<query>", text)
    text = _EMAIL.sub("<email>", text)
    text = _IPV4.sub(_mask_address, text)
    text = _IPV6.sub(_mask_address, text)
    text = _TRACKING_CODE.sub("<code>", text)
    text = _LONG_NUMBER.sub("<number>", text)
    return _LONG_TOKEN.sub("<token>", text)


def _qualified(kind: type[BaseException]) -> str:
    """`module.Name`, without the module for built-ins, as Python prints it."""
    module = kind.__module__
    return kind.__qualname__ if module == "builtins" else f"{module}.{kind.__qualname__}"


def _database_detail(error: BaseException) -> str | None:
    """A SQLAlchemy error reduced to what diagnoses it: driver error, SQLSTATE, statement."""
    from sqlalchemy.exc import StatementError

    if not isinstance(error, StatementError):
        return None
    original = error.orig
    parts = []
    if original is not None:
        parts.append(f"({_qualified(type(original))})")
        sqlstate = getattr(original, "sqlstate", None)
        diagnosis = getattr(original, "diag", None)
        if sqlstate:
            # PostgreSQL: the SQLSTATE and the schema names; its message and DETAIL
            # quote the offending values ("Key (email)=(...) already exists").
            parts.append(f"SQLSTATE {sqlstate}")
            for field in ("table_name", "column_name", "constraint_name"):
                value = getattr(diagnosis, field, None)
                if value:
                    parts.append(f"{field}={value}")
        elif type(original).__module__.startswith("sqlite3"):
            # SQLite's messages name tables, columns and constraints, not values.
            parts.append(str(original).splitlines()[0] if str(original) else "")
    statement = " ".join(str(error.statement or "").split())
    if len(statement) > MAX_STATEMENT:
        statement = statement[:MAX_STATEMENT] + " ..."
    parts.append(f"[SQL: {statement}]")
    return " ".join(part for part in parts if part)


def safe_message(error: BaseException) -> str:
    """What the log says about one exception: its kind and a message that carries no data."""
    kind = _qualified(type(error))
    detail = _database_detail(error)
    if detail is None and isinstance(error, CODE_MESSAGE_TYPES):
        detail = str(error)
    if detail is None:
        return f"{kind} (message withheld: it may carry request data)"
    return f"{kind}: {scrub_text(detail)}" if detail else kind


def safe_traceback(error: BaseException) -> str:
    """The whole chain of tracebacks, as Python prints it, with every message made safe."""
    chain: list[tuple[BaseException, str]] = []
    seen: set[int] = set()
    current: BaseException | None = error
    link = ""
    while current is not None and id(current) not in seen and len(chain) < MAX_CHAIN:
        seen.add(id(current))
        chain.append((current, link))
        if current.__cause__ is not None:
            link = "The above exception was the direct cause of the following exception:"
            current = current.__cause__
        elif current.__context__ is not None and not current.__suppress_context__:
            link = "During handling of the above exception, another exception occurred:"
            current = current.__context__
        else:
            current = None
    lines: list[str] = []
    for exception, following in reversed(chain):
        frames = traceback.extract_tb(exception.__traceback__)
        lines.append("Traceback (most recent call last):\n")
        # File, line, function and source line: code, never a value (no locals).
        lines.extend(traceback.format_list(frames))
        lines.append(safe_message(exception) + "\n")
        if following:
            lines.append(f"\n{following}\n\n")
    return "".join(lines).rstrip("\n")


class ScrubFilter(logging.Filter):
    """Rewrite each record in place so no handler ever sees raw messages or tracebacks."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Scrub the message and replace the exception by its safe traceback; never drop."""
        if getattr(record, "_portal_scrubbed", False):
            return True
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = safe_traceback(record.exc_info[1])
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = scrub_text(record.exc_text)
        record.msg = scrub_text(_message(record))
        record.args = ()
        record._portal_scrubbed = True
        return True


def _message(record: logging.LogRecord) -> str:
    """The record's text, without what its known emitters would put there about a request."""
    if isinstance(record.msg, str) and record.msg.startswith("Error handling request %s"):
        # gunicorn, when an exception escapes the app: the arguments are method, path, query.
        return "Error handling request (path withheld)"
    try:
        message = record.getMessage()
    except (TypeError, ValueError):
        message = str(record.msg)
    if message.startswith("Exception on ") and has_request_context():
        # Flask's own log_exception names the path (a tracking code, a query string).
        return f"Unhandled exception at {request.endpoint} [{request.method}]"
    if "Traceback (most recent call last)" in message:
        # A traceback already rendered into the text (Werkzeug's "Error on request"), with
        # its messages: replaced by the safe one while the exception is being handled.
        head = message.split("Traceback (most recent call last)", 1)[0].rstrip()
        current = sys.exc_info()[1]
        tail = safe_traceback(current) if current is not None else "(traceback withheld)"
        return f"{head}\n{tail}"
    return message


class PortalHandler(logging.StreamHandler):
    """The portal's handler: standard error (or gunicorn's error log, inside a request)."""


def formatter() -> logging.Formatter:
    """The one layout of the portal's and gunicorn's error log."""
    return logging.Formatter(LOG_FORMAT, DATE_FORMAT)


def configure(app: Flask) -> None:
    """Send the app's log through the scrubbing filter, at LOG_LEVEL, to standard error.

    Under gunicorn, `wsgi.errors` is gunicorn's error log (stderr with `errorlog = "-"`),
    whose own handlers get the same filter and layout, so its "Error handling request"
    lines cannot carry a query string either.
    """
    from portal.config import log_level

    scrub = ScrubFilter()
    logger = app.logger
    logger.removeHandler(default_handler)
    logger.setLevel(log_level(app.config))
    if not any(isinstance(handler, PortalHandler) for handler in logger.handlers):
        ours = PortalHandler(wsgi_errors_stream)
        ours.setFormatter(formatter())
        ours.addFilter(scrub)
        logger.addHandler(ours)
    _add_filter_once(logger, scrub)
    werkzeug = logging.getLogger("werkzeug")  # `flask run`'s request lines
    _add_filter_once(werkzeug, scrub)
    for handler in werkzeug.handlers:
        _add_filter_once(handler, scrub)
    configure_server_log()


def configure_server_log(name: str = "gunicorn.error") -> None:
    """Give gunicorn's error log the filter and the layout; safe to call again.

    Each worker calls it when it loads the app. gunicorn.conf.py may call it from
    `on_starting` too, so that the master's own lines share the layout.
    """
    scrub = ScrubFilter()
    server = logging.getLogger(name)
    _add_filter_once(server, scrub)
    for handler in server.handlers:
        _add_filter_once(handler, scrub)
        handler.setFormatter(formatter())


def _add_filter_once(target: Any, scrub: ScrubFilter) -> None:
    """Add the filter unless one is already there (apps are made many times in tests)."""
    if not any(isinstance(existing, ScrubFilter) for existing in target.filters):
        target.addFilter(scrub)
