"""Load benchmark: the portal served as in production, beside its floors, in one run.

Builds a realistic database (`--reports N`, the population of bench_queue.py), serves the
portal with gunicorn and the repository's gunicorn.conf.py exactly as production does, and
serves bench/floors.py (a bare Flask app) with the same settings. wrk, a separate process,
loads each endpoint and each floor (32 clients; 64 for submissions; 4 staff for the queue)
and one table is printed: endpoint, req/s, p50, p99, errors, ratio to its floor and the
issue's target. Each floor is measured just before and just after the endpoints compared
with it and the two are averaged, so a neighbour's load on the shared machine weighs on
both sides of each ratio alike. With several workers each line also gives the busiest
worker's share of the case's CPU. Also written to bench/results.json (or --json).

    .venv/bin/python bench/run.py [--reports N] [--db sqlite|postgres] [--duration S]
        [--workers W] [--keep DIR] [--json PATH]

`--workers 1` (the default) is `make run`'s profile: one process, limits in its memory.
`--db postgres --workers 2` is docs/deploy.md's busier host on 2 cores: PostgreSQL, limits
in Redis, two processes; the floors are served with the same workers.

Rate limits are raised (not removed) on the benchmark's instance: every request still
pays the limiter, but one address may send the whole load. wrk is installed with apt-get
when missing (Debian, as root); otherwise the run stops and says so.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import requests
from common import ADMIN_EMAIL, ADMIN_PASSWORD, make_app, scratch_folder, where

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
GUNICORN = Path(sys.executable).with_name("gunicorn")
CLIENTS = 32
SUBMIT_CLIENTS = 64  # the submission load
STAFF_CLIENTS = 4  # inspectors at work at once
WARM_UP_SECONDS = 1.0  # of load before each case (not for key derivations), not counted
SAMPLE_CODES = 1000  # status lookups cycle through this many reports, spread over all
KDF_MIN_SECONDS = 4.0  # per key-derivation case: fewer seconds give too few samples to compare
SIGNIN_REPORTS = 4  # real reports (real receipts) filed through the API for sign-ins
# Every limit far above the load: the limiter still counts each request, as in production.
HIGH_LIMIT = "100000000 per minute"
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
POSTGRES_ADMIN_URL = os.environ.get(
    "BENCH_POSTGRES_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
# GlobaLeaks 5.0.15 receipts: 16 digits (~2^53), Argon2id 128 MiB, ~1.6 s per guess on
# this kind of machine (issue 14). The portal's receipt: 20 digits, 66 bits.
GLOBALEAKS_RECEIPT_BITS = 53
GLOBALEAKS_SECONDS_PER_GUESS = 1.6
RECEIPT_BITS = 66


@dataclass
class Case:
    """One line of the table: what wrk loads and what it is compared with."""

    name: str
    server: str  # "portal" or "floor"
    path: str | list[str]
    method: str = "GET"
    body: str | list[str] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    clients: int = CLIENTS
    floor: str | None = None  # the floor case's name
    target: float | None = None  # minimum ratio to the floor
    target_rps: float | None = None  # minimum requests per second
    target_p95_ms: float | None = None
    # Argon2id cases: each request takes a good fraction of a second, so a short run would
    # complete none; they run at least this long.
    min_seconds: float = 0.0


@dataclass
class Result:
    """What wrk measured for one case."""

    name: str
    clients: int
    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    errors: int
    floor: str | None = None
    floor_rps: float | None = None
    ratio: float | None = None
    target: str = ""
    met: bool | None = None
    # With several workers: the busiest one's share of the workers' CPU during the case.
    # wrk opens its connections at once and each stays with the process that accepted it,
    # so one process may serve a whole case while the other idles (docs/performance.md).
    busiest_worker: float | None = None


# --- wrk ----------------------------------------------------------------------------------


def ensure_wrk() -> str:
    """The wrk binary; installed from Debian's packages when missing and we are root."""
    found = shutil.which("wrk")
    if found:
        return found
    if shutil.which("apt-get") and os.geteuid() == 0:
        print("wrk is missing: apt-get install -y wrk", flush=True)
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "timeout": 600}
        install = ["apt-get", "install", "-y", "wrk"]
        if subprocess.run(install, check=False, **quiet).returncode != 0:
            subprocess.run(["apt-get", "update"], check=False, **quiet)
            subprocess.run(install, check=False, **quiet)
        found = shutil.which("wrk")
        if found:
            return found
    raise SystemExit("wrk is needed: apt-get install wrk (Debian/Ubuntu) or brew install wrk")


def lua_string(value: str) -> str:
    """A Lua string literal."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def lua_script(case: Case) -> str:
    """A wrk script cycling through the case's paths (and bodies), reporting its figures."""
    paths = case.path if isinstance(case.path, list) else [case.path]
    bodies = case.body if isinstance(case.body, list) else [case.body] * len(paths)
    lines = [
        "local paths = {" + ",".join(lua_string(p) for p in paths) + "}",
        "local bodies = {" + ",".join(lua_string(b) if b else '""' for b in bodies) + "}",
        "local headers = {"
        + ",".join(f"[{lua_string(k)}]={lua_string(v)}" for k, v in case.headers.items())
        + "}",
        f"local method = {lua_string(case.method)}",
        "local counter = 0",
        "local offset = 0",
        "function setup(thread) thread:set('first', math.random(#paths)) end",
        "function init(args) offset = first or 0 end",
        "function request()",
        "  counter = counter + 1",
        "  local i = (counter + offset) % #paths + 1",
        "  local body = bodies[i]",
        "  if body == '' then body = nil end",
        "  return wrk.format(method, paths[i], headers, body)",
        "end",
        "function done(summary, latency, requests)",
        "  local e = summary.errors",
        "  io.write(string.format('BENCH %d %d %d %f %f %f\\n', summary.requests,",
        "    summary.duration, e.connect + e.read + e.write + e.status + e.timeout,",
        "    latency:percentile(50), latency:percentile(95), latency:percentile(99)))",
        "end",
    ]
    return "\n".join(lines) + "\n"


def load(wrk: str, base: str, case: Case, duration: float, folder: Path) -> Result:
    """Run wrk on one case and parse the line its script prints."""
    script = folder / f"case-{secrets.token_hex(4)}.lua"
    script.write_text(lua_script(case))
    threads = min(2, case.clients)
    command = [
        wrk,
        f"-t{threads}",
        f"-c{case.clients}",
        f"-d{max(1, round(max(duration, case.min_seconds)))}s",
        "--timeout",
        "30s",
        "-s",
        str(script),
        base,
    ]
    finished = subprocess.run(
        command, capture_output=True, text=True, timeout=duration + 180, check=False
    )
    match = re.search(r"^BENCH (\d+) (\d+) (\d+) (\S+) (\S+) (\S+)$", finished.stdout, re.M)
    if match is None:
        raise SystemExit(
            f"wrk gave no figures for {case.name}:\n{finished.stdout}{finished.stderr}"
        )
    count, micros, errors = int(match[1]), int(match[2]), int(match[3])
    seconds = micros / 1e6
    return Result(
        name=case.name,
        clients=case.clients,
        requests=count,
        seconds=seconds,
        rps=count / seconds if seconds else 0.0,
        p50_ms=float(match[4]) / 1000,
        p95_ms=float(match[5]) / 1000,
        p99_ms=float(match[6]) / 1000,
        errors=errors,
        floor=case.floor,
    )


def settle(base: str, probe: str, limit: float = 30.0) -> None:
    """Wait until the server has drained what wrk left queued, so no case pays for the last.

    Only slow requests (key derivations) leave a backlog worth waiting for.
    """
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        started = time.perf_counter()
        try:
            requests.get(base + probe, timeout=limit)
        except requests.RequestException:
            time.sleep(0.5)
            continue
        if time.perf_counter() - started < 0.2:
            return


# --- servers ------------------------------------------------------------------------------


def free_port() -> int:
    """A port nobody listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class Server:
    """A gunicorn serving one app: its base URL and its master's process id."""

    base: str
    pid: int

    def worker_ticks(self) -> dict[int, int]:
        """CPU clock ticks (user + system) used so far by each of the master's workers."""
        ticks = {}
        for pid in Path(f"/proc/{self.pid}/task/{self.pid}/children").read_text().split():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue  # a worker that ended meanwhile
            ticks[int(pid)] = int(fields[11]) + int(fields[12])  # utime + stime
        return ticks


def busiest_share(before: dict[int, int], after: dict[int, int]) -> float | None:
    """The busiest worker's share of the CPU the workers used between two readings."""
    used = [after[pid] - before.get(pid, 0) for pid in after]
    return max(used) / sum(used) if len(used) > 1 and sum(used) > 0 else None


@contextmanager
def gunicorn(app_module: str, env: dict[str, str], log: Path, probe: str) -> Iterator[Server]:
    """Serve `app_module` with the production gunicorn.conf.py; yields the server."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = [str(GUNICORN), "-c", str(ROOT / "gunicorn.conf.py"), "--bind", f"127.0.0.1:{port}"]
    command += ["--pythonpath", str(BENCH), app_module]
    environment = {**os.environ, **env, "PORTAL_BIND": f"127.0.0.1:{port}"}
    with log.open("ab") as output:
        server = subprocess.Popen(command, cwd=ROOT, env=environment, stdout=output, stderr=output)
    try:
        deadline = time.monotonic() + 90
        while True:
            if server.poll() is not None:
                raise SystemExit(
                    f"{app_module} did not start: see {log}\n{log.read_text()[-2000:]}"
                )
            try:
                if requests.get(base + probe, timeout=2).status_code < 500:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise SystemExit(f"{app_module} did not answer within 90 s: see {log}")
            time.sleep(0.3)
        yield Server(base, server.pid)
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)


# --- the data set -------------------------------------------------------------------------


@contextmanager
def database(kind: str, folder: Path) -> Iterator[str]:
    """A scratch database URL: a SQLite file in `folder`, or a new PostgreSQL database."""
    if kind == "sqlite":
        yield f"sqlite:///{folder / 'bench.db'}"
        return
    import psycopg

    name = "lapor_bench_" + secrets.token_hex(4)
    admin = POSTGRES_ADMIN_URL
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def build(database_url: str, folder: Path, count: int) -> dict[str, Any]:
    """Populate the database; returns what the run needs (TOTP secret, sample ids, codes)."""
    import bench_queue
    from sqlalchemy import select

    app = make_app(database_url, folder / "instance")
    print(f"Building {count:,} reports in {where(database_url)}", flush=True)
    totp_secret, seconds = bench_queue.populate(app, count)
    print(f"  inserted in {seconds:.1f} s", flush=True)
    from portal.extensions import db
    from portal.models import Report
    from portal.services import stats

    with app.app_context():
        step = max(1, count // SAMPLE_CODES)
        ids = list(range(1, count + 1, step))[:SAMPLE_CODES]
        rows = db.session.execute(
            select(
                Report.id,
                Report.tracking_code,
                Report.status,
                Report.received_on,
                Report.status_since,
            ).where(Report.id.in_(ids))
        ).all()
        add_history(rows)
        if db.engine.dialect.name == "sqlite":
            with db.engine.connect() as connection:
                connection.exec_driver_sql("PRAGMA journal_mode=WAL")
        started = time.perf_counter()
        stats.publish_due()  # what `flask stats publish` (the timer) does before the first visitor
        db.session.commit()
        rebuild = time.perf_counter() - started
        print(f"  statistics built in {rebuild:.1f} s", flush=True)
        db.engine.dispose()
    return {
        "totp_secret": totp_secret,
        "codes": [row.tracking_code for row in rows],
        "ids": [row.id for row in rows],
        "stats_rebuild_seconds": rebuild,
    }


def add_history(rows: Any) -> None:
    """Status histories for the sampled reports: what their status pages show."""
    from portal.extensions import db
    from portal.models import StatusChange

    for row in rows:
        db.session.add(
            StatusChange(report_id=row.id, status="received", created_on=row.received_on)
        )
        if row.status != "received":
            if row.status not in ("verified", "needs_info"):
                db.session.add(
                    StatusChange(
                        report_id=row.id,
                        status="verified",
                        public_note="Laporan lengkap dan dalam kewenangan Inspektorat.",
                        created_on=row.received_on,
                    )
                )
            db.session.add(
                StatusChange(
                    report_id=row.id,
                    status=row.status,
                    public_note="Sedang ditangani; hasilnya diumumkan di halaman ini.",
                    created_on=row.status_since,
                )
            )
    db.session.commit()


def write_instance_config(folder: Path, database_url: str, limits_uri: str | None = None) -> None:
    """The served instance: the benchmark's database, limits raised, statistics from cron."""
    lines = [
        f"SQLALCHEMY_DATABASE_URI = {database_url!r}",
        "# Large instances rebuild statistics from the timer only (see portal/config.py).",
        "STATS_REFRESH_IN_REQUESTS = False",
    ]
    for name in (
        "RATELIMIT_DEFAULT",
        "RATELIMIT_REPORT_SUBMIT",
        "RATELIMIT_STATUS_LOOKUP",
        "RATELIMIT_INBOX_LOGIN",
        "RATELIMIT_STAFF_LOGIN",
    ):
        lines.append(f"{name} = {HIGH_LIMIT!r}")
    if limits_uri:
        # Limits shared by the workers, as docs/deploy.md sets them up; a prefix of this
        # run's own, so no two runs (or a portal on the same Redis) count together.
        lines.append(f"RATELIMIT_STORAGE_URI = {limits_uri!r}")
        lines.append(f"RATELIMIT_KEY_PREFIX = {'bench-' + secrets.token_hex(4)!r}")
    (folder / "instance" / "config.py").write_text("\n".join(lines) + "\n")


def served_config(folder: Path) -> dict[str, Any]:
    """The served portal's effective settings (KDF costs, slots), as its servers load them."""
    os.environ["PORTAL_INSTANCE"] = str(folder / "instance")
    from portal import create_app

    app = create_app()
    return dict(app.config)


# --- HTTP set-up: receipts, CSRF tokens, a staff session ----------------------------------

_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
REPORT_JSON = {
    "category": "pungli",
    "service": "ktp_el",
    "unit": "mpp",
    "incident_date": "2026-10-14",
    "who_asked": "broker",
    "amount_demanded": 150000,
    "paid": True,
    "promised": "KTP-el jadi hari ini",
    "person_description": "Laki-laki berkemeja batik di dekat loket 3",
    "chronology": "Saya datang jam sembilan pagi, calo menawarkan KTP-el cepat dengan bayaran.",
    "contact": "",
}


def cookie_header(session: requests.Session) -> str:
    """The session's cookies as one Cookie header, whatever their paths."""
    return "; ".join(f"{cookie.name}={cookie.value}" for cookie in session.cookies)


def csrf_session(base: str, page: str) -> tuple[str, str]:
    """A fresh browser's cookie and the CSRF token of `page`."""
    browser = requests.Session()
    found = _CSRF.search(browser.get(base + page, timeout=30).text)
    if found is None:
        raise SystemExit(f"no CSRF token on {page}")
    return cookie_header(browser), found[1]


def file_real_reports(base: str, count: int) -> list[tuple[str, str]]:
    """(tracking code, receipt) of reports filed through the API, as a citizen's app does."""
    filed = []
    for _ in range(count):
        answer = requests.post(base + "/api/v1/reports", json=REPORT_JSON, timeout=60)
        if answer.status_code != 201:
            raise SystemExit(f"filing a report answered {answer.status_code}: {answer.text[:300]}")
        body = answer.json()
        filed.append((body["tracking_code"], body["receipt"]))
    return filed


def staff_cookie(base: str, totp_secret: str) -> str:
    """A signed-in inspector's cookies (the benchmark's admin)."""
    import base64

    from portal import crypto

    browser = requests.Session()
    page = browser.get(base + "/inspectorate/login", timeout=30).text
    token = _CSRF.search(page)
    if token is None:
        raise SystemExit("no CSRF token on the staff login page")
    code = crypto.totp_code(base64.b32decode(totp_secret), time.time())
    answer = browser.post(
        base + "/inspectorate/login",
        data={
            "email": ADMIN_EMAIL,
            "password": ADMIN_PASSWORD,
            "code": code,
            "csrf_token": token[1],
        },
        allow_redirects=False,
        timeout=60,
    )
    if answer.status_code != 303:
        raise SystemExit(f"the benchmark admin could not sign in ({answer.status_code})")
    return cookie_header(browser)


# --- the cases ----------------------------------------------------------------------------


def floor_cases(ids: list[int]) -> list[Case]:
    """The floors, each measured by the same harness as the endpoints."""
    pk = [f"/pk-{{}}?id={row_id}" for row_id in ids]
    return [
        Case("floor: hello", "floor", "/hello"),
        Case("floor: one template", "floor", "/template"),
        Case("floor: PK select + template", "floor", [p.format("template") for p in pk]),
        Case("floor: PK select + JSON", "floor", [p.format("json") for p in pk]),
        Case("floor: insert", "floor", "/insert", method="POST"),
        Case(
            "floor: Argon2id + seal + insert",
            "floor",
            "/kdf-seal-insert",
            method="POST",
            body=json.dumps(REPORT_JSON),
            clients=SUBMIT_CLIENTS,
            min_seconds=KDF_MIN_SECONDS,
        ),
        Case("floor: Argon2id alone", "floor", "/kdf", method="POST", min_seconds=KDF_MIN_SECONDS),
    ]


def portal_cases(
    codes: list[str], signins: list[tuple[str, str]], inbox: tuple[str, str], staff: str
) -> list[Case]:
    """The portal's endpoints, each with its floor and the issue's target."""
    cookie, token = inbox
    signin_bodies = [
        urlencode({"csrf_token": token, "code": code, "receipt": receipt})
        for code, receipt in signins
    ]
    staff_headers = {"Cookie": staff}
    queue = "/inspectorate/queue"
    return [
        Case("GET /", "portal", "/", floor="floor: hello", target=0.5),
        Case("GET /lapor", "portal", "/lapor", floor="floor: one template", target=0.3),
        Case(
            "GET /status/<code>",
            "portal",
            [f"/status/{quote(code)}" for code in codes],
            floor="floor: PK select + template",
            target=0.5,
        ),
        Case("GET /layanan", "portal", "/layanan", floor="floor: one template", target=0.5),
        Case(
            "GET /api/v1/reports/<code>",
            "portal",
            [f"/api/v1/reports/{quote(code)}" for code in codes],
            floor="floor: PK select + JSON",
            target=0.6,
        ),
        Case(
            "GET /api/v1/catalog",
            "portal",
            "/api/v1/catalog",
            floor="floor: PK select + JSON",
            target=0.6,
        ),
        Case(
            "GET /transparansi", "portal", "/transparansi", floor="floor: one template", target=0.5
        ),
        Case(
            "GET /api/v1/stats", "portal", "/api/v1/stats", floor="floor: one template", target=0.5
        ),
        Case(
            "POST /api/v1/reports",
            "portal",
            "/api/v1/reports",
            method="POST",
            body=json.dumps(REPORT_JSON),
            headers={"Content-Type": "application/json"},
            clients=SUBMIT_CLIENTS,
            floor="floor: Argon2id + seal + insert",
            target=0.8,
            target_rps=34,
            min_seconds=KDF_MIN_SECONDS,
        ),
        Case(
            "POST /kotak-masuk/masuk (receipt sign-in)",
            "portal",
            "/kotak-masuk/masuk",
            method="POST",
            body=signin_bodies * 1,
            headers={"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie},
            floor="floor: Argon2id alone",
            target=0.8,
            min_seconds=KDF_MIN_SECONDS,
        ),
        Case(
            "staff queue, first page",
            "portal",
            queue,
            headers=staff_headers,
            clients=STAFF_CLIENTS,
            target_p95_ms=50,
        ),
        Case(
            "staff queue, in progress by deadline",
            "portal",
            queue + "?status=in_progress&sort=deadline",
            headers=staff_headers,
            clients=STAFF_CLIENTS,
            target_p95_ms=50,
        ),
        Case(
            "staff queue, unit + status",
            "portal",
            queue + "?unit=mpp&status=resolved",
            headers=staff_headers,
            clients=STAFF_CLIENTS,
            target_p95_ms=50,
        ),
        Case(
            "staff queue, overdue",
            "portal",
            queue + "?overdue=1",
            headers=staff_headers,
            clients=STAFF_CLIENTS,
            target_p95_ms=50,
        ),
    ]


def signin_paths(case: Case) -> Case:
    """Sign-in bodies need as many paths as bodies (wrk cycles both together)."""
    if isinstance(case.body, list):
        case.path = [str(case.path)] * len(case.body)
    return case


def judge(result: Result, case: Case, floors: dict[str, float]) -> None:
    """Fill the ratio to the floor and whether the case met its target."""
    checks: list[bool] = []
    targets: list[str] = []
    if case.floor:
        result.floor_rps = floors[case.floor]
        result.ratio = result.rps / result.floor_rps if result.floor_rps else None
        if case.target is not None:
            targets.append(f">= {case.target:g} x floor")
            checks.append(result.ratio is not None and result.ratio >= case.target)
    if case.target_rps is not None:
        targets.append(f">= {case.target_rps:g}/s")
        checks.append(result.rps >= case.target_rps)
    if case.target_p95_ms is not None:
        targets.append(f"p95 < {case.target_p95_ms:g} ms")
        checks.append(result.p95_ms < case.target_p95_ms)
    checks.append(result.errors == 0)
    result.target = ", ".join(targets)
    result.met = all(checks)


# --- the threat model of a receipt --------------------------------------------------------


def kdf_figures(config: dict[str, Any], kdf_seconds: float) -> dict[str, Any]:
    """Offline cost of guessing one receipt, the portal's and GlobaLeaks', in core-years.

    An attacker with a stolen database tries receipts against one report's wrapped key:
    on average half the space, each guess one Argon2id run at the stored cost.
    """
    year = 365.25 * 86400
    ours = 2 ** (RECEIPT_BITS - 1) * kdf_seconds
    theirs = 2 ** (GLOBALEAKS_RECEIPT_BITS - 1) * GLOBALEAKS_SECONDS_PER_GUESS
    costs = config["RECEIPT_KDF"]
    return {
        "receipt_kdf": costs,
        "password_kdf": config["PASSWORD_KDF"],
        "kdf_slots": config.get("KDF_SLOTS"),
        "memory_in_flight_mib": (config.get("KDF_SLOTS") or 1) * costs["memory_kib"] / 1024,
        "receipt_seconds_per_guess": kdf_seconds,
        "portal_core_years_per_receipt": ours / year,
        "globaleaks_core_years_per_receipt": theirs / year,
        "ratio_to_globaleaks": ours / theirs,
    }


def time_kdf(costs: dict[str, int], runs: int = 5) -> float:
    """Core-seconds of one Argon2id run at `costs`: the least of `runs` (the attacker's best).

    CPU time, not wall time, so a neighbour's load does not make a guess look dearer.
    """
    from argon2.low_level import Type, hash_secret_raw

    samples = []
    for _ in range(runs):
        started = time.process_time()
        hash_secret_raw(
            os.urandom(9),
            os.urandom(16),
            time_cost=costs["iterations"],
            memory_cost=costs["memory_kib"],
            parallelism=costs["lanes"],
            hash_len=32,
            type=Type.ID,
            version=19,
        )
        samples.append(time.process_time() - started)
    return min(samples)


# --- the run ------------------------------------------------------------------------------


def print_table(results: list[Result]) -> None:
    """The one table; with several workers, the busiest one's share of each case's CPU."""
    shares = any(result.busiest_worker is not None for result in results)
    header = (
        f"{'endpoint':<38} {'c':>3} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}"
        f" {'errors':>6} {'ratio':>6}" + (f" {'top w':>6}" if shares else "") + "  target"
    )
    print(header)
    print("-" * (len(header) + 24))
    for result in results:
        ratio = f"{result.ratio:.2f}" if result.ratio is not None else ""
        top = f"{result.busiest_worker:.0%}" if result.busiest_worker is not None else ""
        verdict = "" if result.met is None else ("ok" if result.met else "MISS")
        target = f"{result.target} {verdict}".strip()
        print(
            f"{result.name:<38} {result.clients:>3} {result.rps:>8.1f} {result.p50_ms:>8.1f}"
            f" {result.p95_ms:>8.1f} {result.p99_ms:>8.1f} {result.errors:>6} {ratio:>6}"
            + (f" {top:>6}" if shares else "")
            + f"  {target}"
        )
    if shares:
        print(
            "top w: the busiest worker's share of the workers' CPU during the case (50 % is an"
            " even split; near 100 %, one process served the case while the other idled)"
        )


def time_incremental_refresh(database_url: str, folder: Path, count: int) -> float:
    """Seconds to refresh statistics after a day's new reports (in-process, not a request)."""
    import bench_queue
    from sqlalchemy import func, select

    app = make_app(database_url, folder / "instance")
    from portal.deadlines import local_today
    from portal.extensions import db
    from portal.models import Report
    from portal.services import stats

    day = max(1, count // (365 * bench_queue.YEARS))
    with app.app_context():
        start = (db.session.scalar(select(func.max(Report.id))) or 0) + 1
        columns = ", ".join(bench_queue.COLUMNS)
        db.session.execute(
            __import__("sqlalchemy").text(
                f"INSERT INTO report ({columns}) SELECT {start} + id,"
                f" 'BENCH-DAY-' || ({start} + id), 'received', channel, category_code,"
                " service_code, unit_code, incident_month,"
                " amount_demanded_rounded, :today, :today, due_on, NULL, NULL, NULL, priority,"
                " content_ct, contact_ct, key_sealed, key_wrapped, receipt_salt, receipt_kdf"
                " FROM report WHERE id <= :day"
            ),
            {"today": local_today(), "day": day},
        )
        db.session.commit()
        started = time.perf_counter()
        # The daily timer: a day's reports change nothing published until their quarter
        # ends (then only that quarter is read: bench/bench_stats.py times it).
        stats.publish_due()
        db.session.commit()
        seconds = time.perf_counter() - started
        db.engine.dispose()
    return seconds


def main() -> None:
    """Build, serve, load, print, write."""
    import argparse

    global KDF_MIN_SECONDS  # read by the case lists that run() builds

    options = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    options.add_argument("--reports", type=int, default=1_000_000)
    options.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    options.add_argument("--duration", type=float, default=10.0, help="seconds per case")
    options.add_argument(
        "--workers",
        type=int,
        default=1,
        help="gunicorn processes (PORTAL_WORKERS) for the portal and the floors alike; more"
        " than one puts the limits in Redis (--redis), as docs/deploy.md does",
    )
    options.add_argument("--redis", default=REDIS_URL, help="Redis for limits with --workers > 1")
    options.add_argument(
        "--keep",
        type=Path,
        help="keep the scratch folder here; a later run with the same --keep reuses its"
        " SQLite database instead of building one",
    )
    options.add_argument("--json", type=Path, default=BENCH / "results.json")
    options.add_argument(
        "--kdf-seconds",
        type=float,
        default=KDF_MIN_SECONDS,
        help="at least this many seconds per key-derivation case (the smoke test takes 1)",
    )
    options.add_argument(
        "--only",
        action="append",
        help="run only the case of this name (as the table prints it, e.g. 'GET /';"
        " repeatable), with its floor; results.json is then left as it is unless --json"
        " names another file",
    )
    arguments = options.parse_args()
    if arguments.only and arguments.json == BENCH / "results.json":
        arguments.json = None
    KDF_MIN_SECONDS = arguments.kdf_seconds

    wrk = ensure_wrk()
    with (
        scratch_folder(arguments.keep, prefix="lapor-load-") as folder,
        database(arguments.db, folder) as database_url,
    ):
        run(wrk, folder, database_url, arguments)


def run(wrk: str, folder: Path, database_url: str, arguments: Any) -> None:
    """The benchmark proper, on a scratch folder and database."""
    import floors

    built_file = folder / "built.json"
    reuse = arguments.keep is not None and arguments.db == "sqlite"
    if reuse and built_file.exists():
        # A kept SQLite database from an earlier run: its reports, sessions and the
        # reports that run filed stay; what it built is read back instead of built again.
        built = json.loads(built_file.read_text())
        print(f"Reusing the database in {folder} (delete it to build anew)", flush=True)
    else:
        built = build(database_url, folder, arguments.reports)
        if reuse:
            built_file.write_text(json.dumps(built))
    floors.create_table(database_url)
    write_instance_config(folder, database_url, arguments.redis if arguments.workers > 1 else None)
    config = served_config(folder)
    receipt = config["RECEIPT_KDF"]
    env = {
        "PORTAL_INSTANCE": str(folder / "instance"),
        "BENCH_DATABASE_URL": str(config["SQLALCHEMY_DATABASE_URI"]),
        "BENCH_RECEIPT_KDF": f"{receipt['memory_kib']},{receipt['iterations']},{receipt['lanes']}",
        "BENCH_KDF_SLOTS": str(config.get("KDF_SLOTS") or os.cpu_count() or 1),
        "PORTAL_WORKERS": str(arguments.workers),
    }
    log = folder / "servers.log"
    wrk_folder = Path(tempfile.mkdtemp(prefix="lapor-wrk-"))
    results: list[Result] = []
    try:
        with (
            gunicorn("floors:app", env, log, "/hello") as floor_server,
            gunicorn("wsgi:app", env, log, "/healthz") as portal_server,
        ):
            portal_base = portal_server.base
            signins = file_real_reports(portal_base, SIGNIN_REPORTS)
            inbox = csrf_session(portal_base, "/kotak-masuk")
            staff = staff_cookie(portal_base, built["totp_secret"])
            servers = {"floor": floor_server, "portal": portal_server}
            floor_list = floor_cases(built["ids"])
            cases = [
                signin_paths(case) for case in portal_cases(built["codes"], signins, inbox, staff)
            ]
            if arguments.only:
                cases = [case for case in cases if case.name in arguments.only]
                wanted = {case.floor for case in cases}
                floor_list = [case for case in floor_list if case.name in wanted]
            print(
                f"\nLoading: {arguments.duration:g} s per case, each floor just before and after"
                " its endpoints",
                flush=True,
            )
            probes = {"floor": "/hello", "portal": "/healthz"}

            def measure(case: Case) -> Result:
                server = servers[case.server]
                if not case.min_seconds:
                    # Warm, as a server in service is: its first requests fill the stored
                    # pages and the connection pool, and are not what the case measures.
                    load(wrk, server.base, case, WARM_UP_SECONDS, wrk_folder)
                ticks = server.worker_ticks()
                result = load(wrk, server.base, case, arguments.duration, wrk_folder)
                result.busiest_worker = busiest_share(ticks, server.worker_ticks())
                if case.min_seconds:
                    settle(server.base, probes[case.server])
                print(f"  {case.name}: {result.rps:.1f}/s, {result.errors} errors", flush=True)
                return result

            # Each floor just before and just after the endpoints compared with it, so the
            # two sides of a ratio are minutes apart at most, not the whole run.
            before, after, by_case = [], [], {}
            for floor_case in floor_list:
                before.append(measure(floor_case))
                for case in cases:
                    if case.floor == floor_case.name:
                        by_case[case.name] = measure(case)
                after.append(measure(floor_case))
            for case in cases:
                if case.name not in by_case:  # no floor: the staff queue's p95
                    by_case[case.name] = measure(case)
            measured = [(case, by_case[case.name]) for case in cases]
    finally:
        shutil.rmtree(wrk_folder, ignore_errors=True)
    floor_rps: dict[str, float] = {}
    for first, second in zip(before, after, strict=True):
        mean = Result(
            name=first.name,
            clients=first.clients,
            requests=first.requests + second.requests,
            seconds=first.seconds + second.seconds,
            rps=(first.rps + second.rps) / 2,
            p50_ms=(first.p50_ms + second.p50_ms) / 2,
            p95_ms=(first.p95_ms + second.p95_ms) / 2,
            p99_ms=max(first.p99_ms, second.p99_ms),
            errors=first.errors + second.errors,
            target=f"before {first.rps:.0f}/s, after {second.rps:.0f}/s",
            busiest_worker=max(
                (share for share in (first.busiest_worker, second.busiest_worker) if share),
                default=None,
            ),
        )
        floor_rps[first.name] = mean.rps
        results.append(mean)
    for case, result in measured:
        judge(result, case, floor_rps)
        results.append(result)
    incremental = time_incremental_refresh(database_url, folder, arguments.reports)
    figures = kdf_figures(config, time_kdf(receipt))

    served = f"{arguments.workers} worker{'s' if arguments.workers > 1 else ''} x 8 threads, " + (
        "limits in Redis" if arguments.workers > 1 else "limits in process memory"
    )
    print(
        f"\n{arguments.reports:,} reports, {where(database_url).split('?')[0]}, "
        f"gunicorn.conf.py as shipped ({served}), wrk from a separate process,"
        f" {os.cpu_count()} cores"
    )
    print_table(results)
    print(
        f"\nstatistics: full rebuild {built['stats_rebuild_seconds']:.2f} s; refresh after a"
        f" day's reports {incremental:.2f} s (target < 2 s, from the timer, never in a request)"
    )
    print(
        "receipt KDF {m} KiB, t={t}, p={p}: {ms:.1f} ms of one core per guess here; one 66-bit"
        " receipt costs {ours:.3g} core-years offline (GlobaLeaks, 2^53 x 1.6 s: {theirs:.3g};"
        " ratio {ratio:.0f}x, target >= 100x)".format(
            m=receipt["memory_kib"],
            t=receipt["iterations"],
            p=receipt["lanes"],
            ms=figures["receipt_seconds_per_guess"] * 1000,
            ours=figures["portal_core_years_per_receipt"],
            theirs=figures["globaleaks_core_years_per_receipt"],
            ratio=figures["ratio_to_globaleaks"],
        )
    )
    print(
        f"memory in flight for derivations: {figures['memory_in_flight_mib']:.0f} MiB"
        f" ({figures['kdf_slots']} slots); staff passwords: {config['PASSWORD_KDF']}"
    )
    report = {
        "reports": arguments.reports,
        "database": arguments.db,
        "workers": arguments.workers,
        "duration_seconds": arguments.duration,
        "cores": os.cpu_count(),
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "rows": [asdict(result) for result in results],
        "stats_rebuild_seconds": built["stats_rebuild_seconds"],
        "stats_incremental_refresh_seconds": incremental,
        "kdf": figures,
    }
    if arguments.json is not None:
        arguments.json.write_text(json.dumps(report, indent=2, default=str) + "\n")
        print(f"\nwritten to {arguments.json}")


if __name__ == "__main__":
    main()
