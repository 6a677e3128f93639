"""The floors: a bare Flask app doing only the unavoidable work of each kind of endpoint.

bench/run.py serves this app with the same gunicorn settings as the portal, in the same
run, so each portal endpoint is compared with what the same machine, server and database
do at best: a hello, one template, a primary-key select with a template or JSON, one
insert, and Argon2id (alone, and with sealing and an insert) at the portal's receipt cost.

Configured by the environment bench/run.py sets: BENCH_DATABASE_URL (the benchmark's
database, whose report table the selects read), BENCH_RECEIPT_KDF ("m,t,p" in KiB,
passes, lanes) and BENCH_KDF_SLOTS (derivations at once, as the portal's KDF_SLOTS).
"""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from argon2.low_level import Type, hash_secret_raw
from flask import Flask, jsonify, render_template, request
from flask.typing import ResponseReturnValue
from sqlalchemy import create_engine, event, text

from portal import crypto

FLOOR_TABLE = "bench_floor"
# One row read by the selects: the columns a status page shows.
_SELECT = text(
    "SELECT tracking_code, status, category_code, service_code, unit_code, received_on,"
    " status_since FROM report WHERE id = :id"
)
_INSERT = text(f"INSERT INTO {FLOOR_TABLE} (code, body) VALUES (:code, :body)")
_BODY = os.urandom(800)  # about a sealed report's size

app = Flask(__name__, template_folder="templates")
_engine = create_engine(os.environ.get("BENCH_DATABASE_URL", "sqlite://"), pool_pre_ping=True)
_memory, _passes, _lanes = (
    int(part) for part in os.environ.get("BENCH_RECEIPT_KDF", "8,1,1").split(",")
)
_slots = threading.BoundedSemaphore(int(os.environ.get("BENCH_KDF_SLOTS", os.cpu_count() or 1)))
_public_key = crypto.generate_keypair()[1]


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    """The portal's SQLite settings (WAL, NORMAL sync, busy timeout) on every connection."""
    cursor = connection.cursor()
    for pragma in (
        "PRAGMA journal_mode=WAL",
        "PRAGMA busy_timeout=5000",
        "PRAGMA foreign_keys=ON",
        "PRAGMA synchronous=NORMAL",
    ):
        cursor.execute(pragma)
    cursor.close()


if _engine.dialect.name == "sqlite":
    event.listen(_engine, "connect", _sqlite_pragmas)


def _derive(secret: bytes) -> bytes:
    """Argon2id at the receipt cost, in one of the bounded slots, as the portal derives."""
    with _slots:
        return hash_secret_raw(
            secret,
            os.urandom(16),
            time_cost=_passes,
            memory_cost=_memory,
            parallelism=_lanes,
            hash_len=32,
            type=Type.ID,
            version=19,
        )


def _row() -> dict[str, Any]:
    """The report row named by ?id=, as a dict."""
    with _engine.connect() as connection:
        found = connection.execute(_SELECT, {"id": int(request.args.get("id", "1"))}).mappings()
        row = found.first()
    return {key: str(value) for key, value in (row or {}).items()}


@app.get("/hello")
def hello() -> ResponseReturnValue:
    """Floor of any endpoint: routing and a response."""
    return "Hello"


@app.get("/template")
def template() -> ResponseReturnValue:
    """Floor of a page: one template of a portal page's size, no database."""
    return render_template("floor.html", row=None, items=range(30))


@app.get("/pk-template")
def pk_template() -> ResponseReturnValue:
    """Floor of a status page: one row by primary key, one template."""
    return render_template("floor.html", row=_row(), items=range(30))


@app.get("/pk-json")
def pk_json() -> ResponseReturnValue:
    """Floor of a JSON read: one row by primary key, as JSON."""
    return jsonify(_row())


@app.post("/insert")
def insert() -> ResponseReturnValue:
    """Floor of a write: one row inserted and committed."""
    with _engine.begin() as connection:
        connection.execute(_INSERT, {"code": os.urandom(8).hex(), "body": _BODY})
    return "", 201


@app.post("/kdf")
def kdf() -> ResponseReturnValue:
    """Floor of a receipt sign-in: one Argon2id derivation at the receipt cost."""
    _derive(os.urandom(9))
    return "", 200


@app.post("/kdf-seal-insert")
def kdf_seal_insert() -> ResponseReturnValue:
    """Floor of a submission: Argon2id, seal and wrap a data key, encrypt, insert."""
    key = crypto.random_key()
    wrapping = _derive(os.urandom(9))  # no connection held while deriving, as the portal
    aad = b"report/key/floor"
    body = crypto.encrypt(key, request.get_data() or _BODY, b"report/content/floor")
    sealed = crypto.seal(_public_key, key, aad)
    wrapped = crypto.encrypt(wrapping, key, aad)
    with _engine.begin() as connection:
        connection.execute(_INSERT, {"code": os.urandom(8).hex(), "body": body + sealed + wrapped})
    return jsonify({"ok": True}), 201


def create_table(database_url: str) -> None:
    """Make the table the insert floors write to (bench/run.py, before serving)."""
    engine = create_engine(database_url)
    with engine.begin() as connection:
        kind = "SERIAL" if engine.dialect.name == "postgresql" else "INTEGER"
        blob = "BYTEA" if engine.dialect.name == "postgresql" else "BLOB"
        connection.exec_driver_sql(
            f"CREATE TABLE IF NOT EXISTS {FLOOR_TABLE}"
            f" (id {kind} PRIMARY KEY, code VARCHAR(32) NOT NULL, body {blob} NOT NULL)"
        )
    engine.dispose()
