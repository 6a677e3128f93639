"""What the benchmarks share: how reports spread, the scratch database, timing and tables.

Imported by bench_queue.py and bench_stats.py. They run as scripts (`python bench/...`,
see `make bench`), which puts this folder first on sys.path, so `import common` finds it;
this module puts the repository root there too, for the portal package.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask import Flask
from sqlalchemy.engine import Connection

from portal.identifiers import CROCKFORD

# Cheap key derivation: the benchmarks measure queries, not Argon2.
CHEAP_KDF = {"memory_kib": 8, "iterations": 1, "lanes": 1}
ADMIN_EMAIL = "bench-admin@inspektorat.example"
ADMIN_PASSWORD = "benchmark password, not secret"
SEED = 20260817  # the same reports on every run
CHUNK = 20_000  # reports per executemany
RECEIPT_KDF_TEXT = "argon2id$m=65536,t=3,p=4"

# Weighted choices: (value, weight). Roughly how reports spread in practice.
UNITS = [
    ("mpp", 30),
    ("disdukcapil", 30),
    ("dpmptsp", 6),
    ("keliling", 4),
    ("kec_serang", 5),
    ("kec_kasemen", 3),
    ("kec_walantaka", 3),
    ("kec_curug", 3),
    ("kec_cipocok_jaya", 3),
    ("kec_taktakan", 3),
    ("kel_serang", 2),
    ("kel_kasemen", 2),
    ("lainnya", 6),
]
CATEGORIES = [
    ("pungli", 35),
    ("calo", 25),
    ("gratifikasi", 8),
    ("penundaan", 10),
    ("prosedur", 8),
    ("tidak_dilayani", 4),
    ("diskriminasi", 2),
    ("perilaku", 4),
    ("sarana", 2),
    ("saran", 2),
]
SERVICES = [
    ("ktp_el", 40),
    ("kk", 25),
    ("akta_kelahiran", 12),
    ("akta_kematian", 5),
    ("pindah_datang", 8),
    ("kia", 5),
    ("akta_perkawinan", 2),
    ("pengakuan_anak", 1),
    ("lainnya", 2),
]
CHANNELS = [("web", 70), ("api", 10), ("walk_in", 8), ("phone", 5), ("whatsapp", 5), ("sms", 2)]


def weighted(rng: random.Random, table: list[tuple[str, int]], count: int) -> list[str]:
    """`count` values drawn from a weighted table."""
    values, weights = zip(*table, strict=True)
    return rng.choices(values, weights=weights, k=count)


def dimensions(rng: random.Random, count: int) -> tuple[list[str], list[str], list[str], list[str]]:
    """Units, categories, services and channels of `count` reports, drawn in that order."""
    return (
        weighted(rng, UNITS, count),
        weighted(rng, CATEGORIES, count),
        weighted(rng, SERVICES, count),
        weighted(rng, CHANNELS, count),
    )


# Every pair of Crockford symbols (10 bits), for building tracking codes quickly.
_PAIRS = [first + second for first in CROCKFORD for second in CROCKFORD]


def tracking_code(row_id: int) -> str:
    """A unique, random-looking code per id (an odd multiplier permutes 50-bit numbers)."""
    value = (row_id * 0x2545F4914F6CD) & ((1 << 50) - 1)
    a, b = _PAIRS[value >> 40], _PAIRS[(value >> 30) & 1023]
    c, d, e = _PAIRS[(value >> 20) & 1023], _PAIRS[(value >> 10) & 1023], _PAIRS[value & 1023]
    return f"SRG-{a}{b}-{c}{d}-{e}"


def contents(rng: random.Random) -> list[bytes]:
    """Ciphertext stand-ins of realistic length: the benchmarked pages never read them."""
    return [rng.randbytes(rng.randint(300, 1200)) for _ in range(64)]


def key_material(rng: random.Random) -> tuple[bytes, bytes, bytes, str]:
    """Stand-ins for (key_sealed, key_wrapped, receipt_salt, receipt_kdf)."""
    return rng.randbytes(92), rng.randbytes(60), rng.randbytes(16), RECEIPT_KDF_TEXT


def date_values(dates_as_text: bool) -> Callable[[date | None], Any]:
    """A converter of dates to what the driver takes (ISO text for SQLite), cached per day."""
    cache: dict[date, Any] = {}

    def value(day: date | None) -> Any:
        if day is None:
            return None
        if day not in cache:
            cache[day] = day.isoformat() if dates_as_text else day
        return cache[day]

    return value


def make_app(database_url: str, instance: Path, **config: Any) -> Flask:
    """A portal instance on the benchmark database, with cheap key derivation."""
    os.environ["PORTAL_INSTANCE"] = str(instance)
    from portal import create_app
    from portal import instance as instance_folder

    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": database_url,
            "RECEIPT_KDF": CHEAP_KDF,
            "PASSWORD_KDF": CHEAP_KDF,
            **config,
        }
    )
    instance_folder.create(app)  # the folder and secret key, as `flask setup` makes them
    return app


def initialise() -> Any:
    """Set the instance up with the benchmark's admin (inside an app context)."""
    from portal.services import setup as setup_service

    return setup_service.initialise(admin_email=ADMIN_EMAIL, admin_password=ADMIN_PASSWORD)


def insert_statement(table: str, columns: Sequence[str], sqlite: bool) -> str:
    """An INSERT for executemany, with the driver's parameter marker."""
    marker = "?" if sqlite else "%s"
    names = ", ".join(columns)
    values = ", ".join([marker] * len(columns))
    return f"INSERT INTO {table} ({names}) VALUES ({values})"


def scratch_sqlite(connection: Connection) -> None:
    """A scratch database: no journal, no fsync, a big cache while loading."""
    connection.exec_driver_sql("PRAGMA journal_mode=OFF")
    connection.exec_driver_sql("PRAGMA synchronous=OFF")
    connection.exec_driver_sql("PRAGMA cache_size=-1000000")


def settle_postgres(tables: Sequence[str]) -> None:
    """After a bulk load into PostgreSQL: move the id sequences past the rows, VACUUM ANALYZE.

    PostgreSQL plans from statistics and answers counts from the index alone only on pages
    VACUUM marked all-visible; autovacuum does both in production. No other transaction may
    be open, or VACUUM cannot mark the pages.
    """
    from portal.extensions import db

    with db.engine.begin() as connection:
        for table in tables:
            connection.exec_driver_sql(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), max(id)) FROM {table}"
            )
    db.session.commit()
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        for table in tables:
            connection.exec_driver_sql(f"VACUUM ANALYZE {table}")


def where(database_url: str) -> str:
    """The database URL without the credentials."""
    return database_url.split("@")[-1]


@dataclass
class Timing:
    """One benchmark line."""

    name: str
    median_ms: float
    p90_ms: float
    runs: int
    rows: int  # what the action returned on its last run (0 unless a count)


def measure(name: str, action: Callable[[], Any], repeat: int, warmup: int = 2) -> Timing:
    """Median and 90th percentile (nearest rank) of `repeat` runs after `warmup` runs."""
    result = None
    for _ in range(warmup):
        result = action()
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        result = action()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    p90 = samples[min(len(samples) - 1, math.ceil(len(samples) * 0.9) - 1)]
    rows = result if isinstance(result, int) else 0
    return Timing(name, statistics.median(samples), p90, repeat, rows)


def print_table(
    timings: Sequence[Timing],
    *,
    count: str,
    widths: tuple[int, int, int],
    ratios: Sequence[tuple[str, float, int, int]],
) -> None:
    """The timings, one line each.

    `count` names the Timing field shown after the case ("rows" or "runs"); `widths` are
    those of the case, count and p90 columns; each ratio is (heading, floor ms, width,
    decimals) and shows the median divided by that floor.
    """
    name_width, count_width, p90_width = widths
    header = f"{'case':<{name_width}} {count:>{count_width}} {'median ms':>10} "
    header += f"{'p90 ms':>{p90_width}}"
    header += "".join(f" {heading:>{width}}" for heading, _, width, _ in ratios)
    print(header)
    print("-" * len(header))
    for timing in timings:
        line = f"{timing.name:<{name_width}} {getattr(timing, count):>{count_width}} "
        line += f"{timing.median_ms:>10.2f} {timing.p90_ms:>{p90_width}.2f}"
        for _, floor, width, decimals in ratios:
            line += f" {timing.median_ms / floor:>{width}.{decimals}f}"
        print(line)


def parser(description: str | None, keep_help: str) -> argparse.ArgumentParser:
    """The options both benchmarks take."""
    options = argparse.ArgumentParser(description=(description or "").splitlines()[0])
    options.add_argument("--reports", type=int, default=1_000_000)
    options.add_argument("--repeat", type=int, default=15)
    options.add_argument("--database", help="an empty PostgreSQL database URL (default: SQLite)")
    options.add_argument("--keep", type=Path, help=keep_help)
    return options


@contextmanager
def scratch_folder(keep: Path | None, prefix: str) -> Iterator[Path]:
    """The folder for the database: `keep` if given (and kept), else a temporary one."""
    folder = keep or Path(tempfile.mkdtemp(prefix=prefix))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        yield folder
    finally:
        if not keep:
            shutil.rmtree(folder, ignore_errors=True)


def cpu_samples(client: Any, path: str, requests: int) -> tuple[list[float], Any]:
    """CPU milliseconds of each of `requests` GETs of `path` (after 5 unmeasured), sorted,
    and the last response; stops the run on any answer but 200."""
    for _ in range(5):
        client.get(path)
    samples = []
    response = None
    for _ in range(requests):
        started = time.process_time()
        response = client.get(path)
        samples.append((time.process_time() - started) * 1000)
        if response.status_code != 200:
            raise SystemExit(f"{path} answered {response.status_code}")
    return sorted(samples), response
