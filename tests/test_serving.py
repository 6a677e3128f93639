"""The production server: gunicorn's profile, its refusals, its log, SQLite in WAL mode."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import text

from portal import config, serving
from portal.extensions import db
from tests.helpers.ports import _free_port
from tests.helpers.servers import (
    Server,
    flask_command,
    make_instance,
    run_gunicorn_to_exit,
    server_env,
    start_gunicorn,
)

# --- the profile from the environment -------------------------------------------------


def test_defaults_are_one_process_with_threads_behind_a_proxy() -> None:
    profile = serving.profile_from_environment({})
    assert profile == serving.ServerProfile(
        bind=("127.0.0.1:8000",), workers=1, threads=8, timeout=60
    )


def test_settings_are_read_from_the_environment() -> None:
    profile = serving.profile_from_environment(
        {
            "PORTAL_BIND": "127.0.0.1:9000, [::1]:9000,unix:/run/lapor/portal.sock",
            "PORTAL_WORKERS": "4",
            "PORTAL_THREADS": "16",
            "PORTAL_TIMEOUT": "120",
            "PORTAL_LOG_LEVEL": "WARNING",
        }
    )
    assert profile.log_level == "warning"
    assert profile.bind == ("127.0.0.1:9000", "[::1]:9000", "unix:/run/lapor/portal.sock")
    assert (profile.workers, profile.threads, profile.timeout) == (4, 16, 120)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("PORTAL_WORKERS", "two"),
        ("PORTAL_WORKERS", "0"),
        ("PORTAL_WORKERS", "-1"),
        ("PORTAL_WORKERS", "1000"),
        ("PORTAL_THREADS", "1.5"),
        ("PORTAL_THREADS", "0"),
        ("PORTAL_TIMEOUT", "1"),
        ("PORTAL_BIND", "8000"),
        ("PORTAL_BIND", "localhost:99999"),
        ("PORTAL_BIND", "http://127.0.0.1:8000"),
        ("PORTAL_BIND", "unix:portal.sock"),
        ("PORTAL_BIND", " , "),
        ("PORTAL_LOG_LEVEL", "verbose"),
    ],
)
def test_a_bad_setting_is_named_in_the_refusal(variable: str, value: str) -> None:
    with pytest.raises(serving.ProfileError, match=variable):
        serving.profile_from_environment({variable: value})


def test_gunicorn_refuses_a_bad_setting_with_one_line(tmp_path: Path) -> None:
    env = server_env(make_instance(tmp_path / "instance"), PORTAL_THREADS="lots")
    done = run_gunicorn_to_exit(env)
    assert done.returncode != 0
    assert "PORTAL_THREADS must be a whole number from 1 to 256, not 'lots'" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_setting_the_portal_refuses_stops_gunicorn_before_it_forks(tmp_path: Path) -> None:
    env = server_env(make_instance(tmp_path / "instance"), SECRET_KEY="too short")
    done = run_gunicorn_to_exit(env)
    assert done.returncode == 1
    assert "The portal's settings do not load" in done.stderr and "SECRET_KEY" in done.stderr
    assert "Traceback" not in done.stderr
    assert "Booting worker" not in done.stderr


# --- several workers need shared rate-limit storage ------------------------------------


@pytest.mark.parametrize(
    ("settings", "args"),
    [
        ({"PORTAL_WORKERS": "3"}, ()),
        ({}, ("--workers", "2")),  # a command-line override is caught too
        ({"PORTAL_WORKERS": "2", "RATELIMIT_STORAGE_URI": "memory://"}, ()),
    ],
)
def test_several_workers_on_in_process_limits_are_refused(
    tmp_path: Path, settings: dict[str, str], args: tuple[str, ...]
) -> None:
    env = server_env(make_instance(tmp_path / "instance"), **settings)
    done = run_gunicorn_to_exit(env, *args)
    assert done.returncode == 1
    assert "Refusing to start" in done.stderr
    assert "each process's memory" in done.stderr
    assert "RATELIMIT_STORAGE_URI" in done.stderr
    assert "Listening at" not in done.stderr
    assert "Booting worker" not in done.stderr


def test_the_refusal_reads_the_instance_config_too(tmp_path: Path) -> None:
    folder = make_instance(tmp_path / "instance", 'RATELIMIT_STORAGE_URI = "memory://"\n')
    env = server_env(folder, PORTAL_WORKERS="2", RATELIMIT_STORAGE_URI="")
    done = run_gunicorn_to_exit(env)
    assert done.returncode == 1
    assert "Refusing to start 2 workers" in done.stderr


@pytest.mark.parametrize(
    ("workers", "bind", "expected"),
    [
        (2, ("127.0.0.1:8000",), True),
        (4, ("127.0.0.1:8000", "[::1]:8000"), True),
        (1, ("127.0.0.1:8000",), False),  # one process: nothing to spread
        (2, ("127.0.0.1:0",), False),  # any free port: each worker would get its own
        (2, ("unix:/run/lapor/gunicorn.sock",), False),
        (2, ("127.0.0.1:8000", "unix:/run/lapor/gunicorn.sock"), False),
    ],
)
def test_a_socket_per_worker_only_where_it_spreads_connections(
    workers: int, bind: tuple[str, ...], expected: bool
) -> None:
    profile = serving.ServerProfile(bind=bind, workers=workers, threads=8, timeout=60)
    assert profile.socket_per_worker is expected


def _tcp_sockets(port: int, state: str) -> list[int]:
    """Inodes of this host's IPv4 TCP sockets on local `port` in `state` (hex, /proc/net/tcp)."""
    inodes = []
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == state:
            inodes.append(int(fields[9]))
    return inodes


def _socket_inodes(pid: int) -> set[int]:
    """Inodes of the sockets process `pid` holds open."""
    found = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue  # closed meanwhile
        if target.startswith("socket:["):
            found.add(int(target[len("socket:[") : -1]))
    return found


def test_several_workers_serve_on_redis_limits_and_share_a_burst(tmp_path: Path) -> None:
    """Two workers on Redis limits: both boot, each on a socket of its own, and a burst of
    keep-alive connections lands on both.

    On one shared socket the first worker awake could accept a whole burst and keep it,
    leaving the other process idle (docs/performance.md measured one case in six so).
    """
    port = _free_port()
    folder = make_instance(tmp_path / "instance")
    env = server_env(
        folder,
        PORTAL_WORKERS="2",
        PORTAL_THREADS="2",
        PORTAL_BIND=f"127.0.0.1:{port}",
        RATELIMIT_STORAGE_URI="redis://127.0.0.1:6379/0",
    )
    flask_command(env, "setup", "--if-needed", "--generate-password")
    server = start_gunicorn(env, tmp_path / "server.log")
    connections = []
    try:
        assert server.request("GET", "/status")[0] == 200
        deadline = time.monotonic() + 20
        while len(_tcp_sockets(port, "0A")) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert server.log().count("Booting worker") == 2
        assert "Refusing" not in server.log()
        assert "(a socket per worker)" in server.log()
        assert len(_tcp_sockets(port, "0A")) == 2  # 0A: LISTEN, one socket per worker
        # A burst, as a load generator or a proxy opens them: all connected, then each
        # used once and kept open.
        for _ in range(16):
            connections.append(socket.create_connection(("127.0.0.1", port), timeout=10))
        for connection in connections:
            connection.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        for connection in connections:
            assert connection.recv(65536).startswith(b"HTTP/1.1 ")
        established = set(_tcp_sockets(port, "01"))  # 01: ESTABLISHED, the server's ends
        master = server.process.pid
        workers = [
            int(pid) for pid in Path(f"/proc/{master}/task/{master}/children").read_text().split()
        ]
        held = [len(_socket_inodes(pid) & established) for pid in workers]
        assert len(held) == 2 and sum(held) == 16
        assert min(held) >= 1, held  # all 16 on one of two sockets: 1 in 32,768 by chance
    finally:
        for connection in connections:
            connection.close()
        assert server.stop() == 0


# --- the `make run` profile -------------------------------------------------------------

# (instance folder, server environment, what setup printed, the running server)
Embedded = tuple[Path, dict[str, str], str, Server]


@pytest.fixture(scope="module")
def embedded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Embedded]:
    """An instance set up as `make run` does it, served as `make run` serves it (shared)."""
    tmp_path = tmp_path_factory.mktemp("embedded")
    folder = make_instance(tmp_path / "instance")
    env = server_env(folder, PORTAL_WORKERS="1")
    printed = flask_command(env, "setup", "--if-needed", "--generate-password")
    server = start_gunicorn(env, tmp_path / "server.log")
    try:
        yield folder, env, printed, server
    finally:
        server.stop()


def test_make_run_prints_the_first_admins_secrets_once(embedded: Embedded) -> None:
    _folder, env, printed, _server = embedded
    assert "one-time admin password" in printed
    assert "TOTP secret" in printed
    assert "recovery key" in printed
    # The second `make run` serves the same instance and prints nothing secret.
    assert flask_command(env, "setup", "--if-needed", "--generate-password") == ""


def test_make_run_serves_one_process_with_threads_and_no_access_log(embedded: Embedded) -> None:
    folder, _env, _printed, server = embedded
    marker = "/status/SRG-ZZZZ-ZZZZ-ZZ?probe=MARKER"
    status, headers, _body = server.request("GET", "/lapor")
    assert status == 200
    assert headers["Server"].startswith("gunicorn")
    server.request("GET", marker)
    log = server.log()
    assert "Using worker: gthread" in log
    assert log.count("Booting worker") == 1
    assert "MARKER" not in log and "/lapor" not in log
    # Threads: clients stalled half-way through their requests (a slow phone, or an
    # attacker) do not hold up the next visitor, as they would with one sync worker.
    stalled = [socket.create_connection((server.host, server.port), timeout=10) for _ in range(3)]
    try:
        for connection in stalled:
            connection.sendall(b"GET /lapor HTTP/1.1\r\nHost: portal\r\n")
        started = time.monotonic()
        assert server.request("GET", "/status")[0] == 200
        assert time.monotonic() - started < 5
    finally:
        for connection in stalled:
            connection.close()
    # The database the server made is in WAL mode (persistent in the file).
    with sqlite3.connect(folder / "portal.db") as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_the_server_log_names_no_client_address_nor_request(embedded: Embedded) -> None:
    _folder, _env, _printed, server = embedded
    # A malformed request from another loopback address, carrying a tracking code.
    with socket.create_connection(
        (server.host, server.port), timeout=10, source_address=("127.0.0.77", 0)
    ) as connection:
        connection.sendall(b"GET /status/SRG-AAAA-BBBB-CC HTTP/1.1 junk\r\n\r\n")
        connection.recv(4096)
    deadline = time.monotonic() + 10
    while "Invalid request" not in server.log() and time.monotonic() < deadline:
        time.sleep(0.1)
    log = server.log()
    assert "Invalid request" in log
    assert "127.0.0.77" not in log
    assert "SRG-AAAA" not in log


def test_a_second_worker_is_refused_later_too(embedded: Embedded) -> None:
    _folder, _env, _printed, server = embedded
    server.process.send_signal(signal.SIGTTIN)
    deadline = time.monotonic() + 10
    while "Refusing to add a worker" not in server.log() and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(1)  # a worker gunicorn would boot shows within this
    log = server.log()
    assert "Refusing to add a worker" in log and "each process's memory" in log
    assert log.count("Booting worker") == 1
    assert server.request("GET", "/status")[0] == 200


# --- SQLite in WAL mode -----------------------------------------------------------------


def test_sqlite_connections_get_wal_and_safety_pragmas(app: Flask) -> None:
    with app.app_context():
        connection = db.session.connection()
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
        busy_ms = config.SQLITE_BUSY_TIMEOUT_SECONDS * 1000
        assert connection.execute(text("PRAGMA busy_timeout")).scalar() == busy_ms
        assert connection.execute(text("PRAGMA synchronous")).scalar() == 1  # NORMAL


def test_readers_go_on_while_a_writer_holds_its_transaction(app: Flask) -> None:
    with app.app_context():
        writer = db.engine.connect()
        try:
            writer.exec_driver_sql("BEGIN IMMEDIATE")
            writer.exec_driver_sql("UPDATE staff SET email = email")
            started = time.monotonic()
            with db.engine.connect() as reader:
                assert reader.execute(text("SELECT count(*) FROM staff")).scalar() == 1
            assert time.monotonic() - started < 1  # no wait for the writer
        finally:
            writer.rollback()
            writer.close()


def test_a_second_writer_waits_for_the_first_instead_of_failing(app: Flask) -> None:
    with app.app_context():
        engine = db.engine
        writer = engine.connect()
        writer.exec_driver_sql("BEGIN IMMEDIATE")
        release = threading.Timer(0.5, lambda: (writer.commit(), writer.close()))
        release.start()
        try:
            with engine.begin() as second:
                second.exec_driver_sql("UPDATE staff SET email = email")
        finally:
            release.join(timeout=10)


def test_references_are_enforced_on_sqlite(app: Flask) -> None:
    from sqlalchemy.exc import IntegrityError

    with app.app_context(), pytest.raises(IntegrityError), db.engine.begin() as connection:
        connection.exec_driver_sql(
            "INSERT INTO service_unit (service_code, unit_code) VALUES ('nope', 'nope')"
        )


# --- shared storage warnings ------------------------------------------------------------


def test_a_shared_database_on_in_process_limits_is_warned_about() -> None:
    pg = "postgresql+psycopg://portal@db/lapor"
    assert serving.shared_database_warning(
        {"SQLALCHEMY_DATABASE_URI": pg, "RATELIMIT_STORAGE_URI": "memory://"}
    )
    assert not serving.shared_database_warning(
        {"SQLALCHEMY_DATABASE_URI": pg, "RATELIMIT_STORAGE_URI": "redis://127.0.0.1:6379/0"}
    )
    assert not serving.shared_database_warning(
        {
            "SQLALCHEMY_DATABASE_URI": "sqlite:////srv/portal.db",
            "RATELIMIT_STORAGE_URI": "memory://",
        }
    )
