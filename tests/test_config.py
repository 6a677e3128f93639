"""Settings from the environment, the instance folder's refusals and modes, real servers."""

from __future__ import annotations

import json
import logging
import os
import secrets
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from portal import config, create_app, instance
from portal.cli import UNGUARDED
from tests.helpers import VALID_JSON, make_app
from tests.helpers.serving import (
    ROOT,
    SERVER_TIMEOUT,
    TEXT_KEY,
    fetch,
    gunicorn,
    run_command,
    server_environment,
    serving,
    setup_instance,
)

ONION = "http://" + "a" * 56 + ".onion"
# Fixed, not random: pytest-xdist workers must collect the same test ids.
HEX_KEY = "9f3c" * 16


# --- helpers: real commands and real servers -------------------------------------------


FLASK_RUN = [sys.executable, "-m", "flask", "--app", "wsgi", "run", "--port", "0"]


def exit_of(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run a server that is expected to refuse to start; bounded in time."""
    return subprocess.run(  # noqa: S603 (our own server, fixed arguments)
        argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=SERVER_TIMEOUT, check=False
    )


def mode(path: Path) -> int:
    """A file's permission bits."""
    return stat.S_IMODE(path.stat().st_mode)


def refusal_line(done: subprocess.CompletedProcess[str]) -> str:
    """The portal's one line among a command's output; asserts there is exactly one."""
    ours = [line for line in done.stderr.splitlines() if line.startswith("lapor-pungli: ")]
    assert len(ours) == 1, done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    return ours[0]


# --- parsing each environment variable ------------------------------------------------


@pytest.mark.parametrize(
    ("variable", "text", "key", "expected"),
    [
        (
            "DATABASE_URL",
            "postgresql://lapor:pw@db.internal/lapor",
            "SQLALCHEMY_DATABASE_URI",
            "postgresql+psycopg://lapor:pw@db.internal/lapor",
        ),
        ("DATABASE_URL", "postgres://db/lapor", "SQLALCHEMY_DATABASE_URI", None),
        ("DATABASE_URL", "sqlite:////srv/lapor/portal.db", "SQLALCHEMY_DATABASE_URI", None),
        ("RATELIMIT_STORAGE_URI", "redis://127.0.0.1:6379/2", "RATELIMIT_STORAGE_URI", None),
        ("RATELIMIT_KEY_PREFIX", "kab-serang", "RATELIMIT_KEY_PREFIX", None),
        ("SECRET_KEY", TEXT_KEY, "SECRET_KEY", TEXT_KEY.encode()),
        ("SECRET_KEY", HEX_KEY, "SECRET_KEY", bytes.fromhex(HEX_KEY)),
        ("PUBLIC_BASE_URL", "https://lapor.example.go.id/", "PUBLIC_BASE_URL", None),
        ("PORTAL_ONION_LOCATION", ONION + "/", "ONION_LOCATION", ONION),
        ("SESSION_COOKIE_SECURE", "true", "SESSION_COOKIE_SECURE", True),
        ("SESSION_COOKIE_SECURE", "0", "SESSION_COOKIE_SECURE", False),
        ("HSTS", "Yes", "HSTS", True),
        ("PROXY_COUNT", "2", "PROXY_COUNT", 2),
        ("STATS_REFRESH_IN_REQUESTS", "off", "STATS_REFRESH_IN_REQUESTS", False),
        ("PORTAL_LOG_LEVEL", "warning", "LOG_LEVEL", "WARNING"),
    ],
)
def test_each_variable_reaches_the_config_typed(
    instance_folder, monkeypatch, variable, text, key, expected
):
    from portal.extensions import limiter

    # Flask-Limiter keeps the first key prefix it is given, for the life of the process.
    monkeypatch.setattr(limiter, "_key_prefix", limiter._key_prefix)
    monkeypatch.setenv(variable, text)
    app = create_app()
    if expected is None:
        expected = {
            "postgres://db/lapor": "postgresql+psycopg://db/lapor",
            "https://lapor.example.go.id/": "https://lapor.example.go.id",
        }.get(text, text)
    assert app.config[key] == expected
    assert not instance_folder.exists(), "loading the config must never create the instance"


@pytest.mark.parametrize(
    ("variable", "text", "expects"),
    [
        ("DATABASE_URL", "mysql://root:hunter2@db/lapor", "postgresql://"),
        ("DATABASE_URL", "not a url", "postgresql://"),
        ("RATELIMIT_STORAGE_URI", "memcached://cache:11211", "redis://"),
        ("RATELIMIT_KEY_PREFIX", "two words", "letters, digits"),
        ("SECRET_KEY", "hunter2 hunter2", "32 bytes"),
        ("PUBLIC_BASE_URL", "javascript:alert(1)", "https://"),
        ("PUBLIC_BASE_URL", "https://lapor.example.go.id/?utm=1", "https://"),
        ("PORTAL_ONION_LOCATION", "http://short.onion", ".onion"),
        ("PORTAL_ONION_LOCATION", ONION + "/lapor", ".onion"),
        ("SESSION_COOKIE_SECURE", "maybe", "true or false"),
        ("HSTS", "2", "true or false"),
        ("PROXY_COUNT", "one", "0 to 5"),
        ("PROXY_COUNT", "-1", "0 to 5"),
        ("PROXY_COUNT", "99", "0 to 5"),
        ("STATS_REFRESH_IN_REQUESTS", "sometimes", "true or false"),
        ("PORTAL_LOG_LEVEL", "LOUD", "INFO"),
    ],
)
def test_a_bad_value_is_refused_naming_the_variable(
    instance_folder, monkeypatch, variable, text, expects
):
    monkeypatch.setenv(variable, text)
    with pytest.raises(config.ConfigError) as refused:
        create_app()
    message = str(refused.value)
    assert message.startswith(variable)
    assert expects in message
    assert "\n" not in message
    if variable == "SECRET_KEY":
        assert text not in message, "a secret must never be echoed"
    if variable == "DATABASE_URL":
        assert "hunter2" not in message


def test_the_secret_key_can_come_from_a_file(instance_folder, tmp_path, monkeypatch):
    key_file = tmp_path / "credential"
    key_file.write_text(HEX_KEY + "\n")
    monkeypatch.setenv("SECRET_KEY_FILE", str(key_file))
    assert create_app().config["SECRET_KEY"] == bytes.fromhex(HEX_KEY)
    key_file.write_text("short")
    with pytest.raises(
        config.ConfigError, match=r"^SECRET_KEY_FILE=.*5 bytes long.*32 bytes"
    ) as refused:
        create_app()
    assert "short" not in str(refused.value)
    key_file.unlink()
    with pytest.raises(config.ConfigError, match="cannot be read"):
        create_app()
    monkeypatch.setenv("SECRET_KEY", TEXT_KEY)
    with pytest.raises(config.ConfigError, match="both set"):
        create_app()


def test_the_log_level_applies_to_the_portal_log(instance_folder, monkeypatch):
    monkeypatch.setenv("PORTAL_LOG_LEVEL", "error")
    app = make_app(instance_folder)
    assert app.logger.getEffectiveLevel() == logging.ERROR
    monkeypatch.delenv("PORTAL_LOG_LEVEL")
    assert make_app(instance_folder).logger.getEffectiveLevel() == logging.INFO


def test_an_empty_variable_counts_as_unset(instance_folder, monkeypatch):
    monkeypatch.setenv("HSTS", "")
    monkeypatch.setenv("PROXY_COUNT", " ")
    app = make_app(instance_folder)
    assert app.config["HSTS"] is False
    assert app.config["PROXY_COUNT"] == 0


def test_instance_config_values_are_type_checked_too(instance_folder):
    # HSTS = "False" in instance/config.py would be true: refused, naming the key.
    instance_folder.mkdir()
    (instance_folder / "config.py").write_text('HSTS = "False"\n')
    with pytest.raises(config.ConfigError, match="HSTS must be True or False"):
        create_app()
    (instance_folder / "config.py").write_text("PROXY_COUNT = True\n")
    with pytest.raises(config.ConfigError, match="PROXY_COUNT"):
        create_app()
    (instance_folder / "config.py").write_text('CITY_PREFIX = "srg"\n')
    with pytest.raises(config.ConfigError, match="CITY_PREFIX must be 2 to 6 capital letters"):
        create_app()
    (instance_folder / "config.py").write_text('SECRET_KEY = "too short"\n')
    with pytest.raises(config.ConfigError, match="SECRET_KEY"):
        create_app()


@pytest.mark.parametrize("key", [TEXT_KEY, HEX_KEY])
def test_secret_key_from_the_environment_serves_every_kind_of_page(
    instance_folder, monkeypatch, key
):
    """A text SECRET_KEY used to reach code that wants bytes: every page answered 500."""
    monkeypatch.setenv("SECRET_KEY", key)
    app = make_app(instance_folder)
    with app.app_context():
        from portal.services import setup as setup_service

        setup_service.initialise(admin_email="a@example.test", admin_password="x" * 16)
    client = app.test_client()
    for path in ("/", "/lapor", "/transparansi", "/layanan", "/inspectorate/login"):
        assert client.get(path).status_code == 200, path
    filed = client.post("/api/v1/reports", json=VALID_JSON)
    assert filed.status_code == 201, filed.get_data(as_text=True)
    code = filed.get_json()["tracking_code"]
    assert client.get(f"/status/{code}").status_code == 200
    assert not (instance_folder / config.INSTANCE_KEY_FILE).exists(), "the configured key is used"


# --- the instance folder ---------------------------------------------------------------


def test_commands_refuse_a_missing_instance_in_one_line(tmp_path):
    missing = tmp_path / "instanse"  # the typo that used to start an empty portal
    env = server_environment(PORTAL_INSTANCE=str(missing))
    # The real `flask` command line; every other command is walked in-process below.
    done = run_command("stats", "refresh", env=env)
    assert done.returncode == instance.EXIT_NOT_READY, done.stderr
    line = refusal_line(done)
    assert str(missing) in line and "does not exist" in line and "setup" in line
    assert not missing.exists(), "no command but setup may create the instance"
    # --help still works, so an operator can read what the command would do.
    assert run_command("stats", "refresh", "--help", env=env).returncode == 0
    assert not missing.exists()


def _leaves(command, path=()):
    """Every runnable command under `command`, with the words that invoke it."""
    import click

    if isinstance(command, click.Group):
        for name, sub in command.commands.items():
            yield from _leaves(sub, (*path, name))
    else:
        yield path, command


def test_every_command_but_setup_refuses_a_missing_instance(instance_folder):
    """Including commands added later: the guard covers whatever portal.cli registers."""
    app = create_app({"RATELIMIT_STORAGE_URI": "memory://"})
    runner = app.test_cli_runner()
    checked = []
    for name, command in app.cli.commands.items():
        if name in UNGUARDED:
            continue
        for words, leaf in _leaves(command, (name,)):
            if any(parameter.required for parameter in leaf.params):
                # Click refuses the missing argument first; the guard still wraps it.
                assert getattr(leaf.callback, "_instance_guarded", False), words
                continue
            refused = runner.invoke(args=list(words))
            assert refused.exit_code == instance.EXIT_NOT_READY, (words, refused.output)
            assert "does not exist" in refused.output
            checked.append(words)
    assert ("stats", "refresh") in checked and ("audit", "verify") in checked
    assert not instance_folder.exists()
    # Migrations need a database, not an instance folder: `db` is never refused by the guard.
    assert "instance folder" not in runner.invoke(args=["db", "heads"]).output


def test_commands_refuse_an_instance_that_is_not_initialised(instance_folder):
    app = create_app({"RATELIMIT_STORAGE_URI": "memory://"})
    runner = app.test_cli_runner()
    instance_folder.mkdir()
    refused = runner.invoke(args=["stats", "refresh"])
    assert refused.exit_code == instance.EXIT_NOT_READY
    assert "secret_key" in refused.output or "SECRET_KEY" in refused.output
    assert not (instance_folder / "portal.db").exists(), "checking must not create the database"

    # A folder with a key but without a database: still refused, still nothing created.
    instance.create(app)
    (instance_folder / "portal.db").unlink()
    refused = runner.invoke(args=["audit", "verify"])
    assert refused.exit_code == instance.EXIT_NOT_READY
    assert "portal.db does not exist" in refused.output
    assert not (instance_folder / "portal.db").exists()

    # An empty database (setup never ran): refused, naming setup.
    instance.create(app)
    refused = runner.invoke(args=["audit", "head"])
    assert refused.exit_code == instance.EXIT_NOT_READY
    assert "not initialised" in refused.output and "setup" in refused.output


def test_commands_refuse_a_database_they_cannot_reach(instance_folder):
    url = "postgresql://postgres@127.0.0.1:5432/lapor_no_such_database"
    app = make_app(instance_folder, SQLALCHEMY_DATABASE_URI=url)
    refused = app.test_cli_runner().invoke(args=["audit", "head"])
    assert refused.exit_code == instance.EXIT_NOT_READY
    assert "cannot be read" in refused.output and "lapor_no_such_database" in refused.output
    assert "Traceback" not in refused.output and len(refused.output.strip().splitlines()) == 1


def test_servers_refuse_a_missing_instance(tmp_path):
    missing = tmp_path / "missing"
    env = server_environment(PORTAL_INSTANCE=str(missing))
    for argv in (gunicorn("wsgi:app"), FLASK_RUN):
        done = exit_of(argv, env)
        assert done.returncode == instance.EXIT_NOT_READY, done.stderr
        assert "does not exist" in refusal_line(done)
    assert not missing.exists()


def test_servers_refuse_a_bad_setting_in_one_line(tmp_path):
    env = server_environment(PORTAL_INSTANCE=str(tmp_path / "i"), PROXY_COUNT="one")
    done = exit_of([*FLASK_RUN[:5], "setup"], env)
    assert done.returncode == instance.EXIT_NOT_READY, done.stderr
    assert refusal_line(done).startswith("lapor-pungli: PROXY_COUNT='one' is not usable")
    # gunicorn.conf.py loads the settings in the master, before any worker: its own line.
    done = exit_of(gunicorn("wsgi:app"), env)
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert "PROXY_COUNT='one' is not usable" in done.stderr
    assert "Booting worker" not in done.stderr


def test_setup_makes_the_folder_and_files_private(tmp_path):
    folder = tmp_path / "instance"
    previous = os.umask(0o022)  # the usual umask: files would be world-readable
    try:
        env = server_environment(PORTAL_INSTANCE=str(folder))
        setup_instance(env)
        assert mode(folder) == 0o700
        assert mode(folder / config.INSTANCE_KEY_FILE) == 0o600
        assert mode(folder / "portal.db") == 0o600
        # SQLite makes its -wal and -shm files with the database's mode.
        with sqlite3.connect(folder / "portal.db") as connection:
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("CREATE TABLE probe (x)")
            companions = [folder / "portal.db-wal", folder / "portal.db-shm"]
            assert all(path.exists() for path in companions)
            assert [mode(path) for path in companions] == [0o600, 0o600]
        # An instance made by an older release is tightened by setup --if-needed.
        folder.chmod(0o755)
        (folder / "portal.db").chmod(0o644)
        done = run_command("setup", "--if-needed", env=env)
        assert done.returncode == 0, done.stderr
        assert mode(folder) == 0o700 and mode(folder / "portal.db") == 0o600
    finally:
        os.umask(previous)


def test_setup_if_needed_makes_the_folder_of_a_second_server(tmp_path, postgres_url):
    """A second server on a shared database: setup --if-needed makes only its folder."""
    shared = {"DATABASE_URL": postgres_url, "SECRET_KEY": TEXT_KEY}
    setup_instance(server_environment(PORTAL_INSTANCE=str(tmp_path / "one"), **shared))
    second = tmp_path / "two"
    env = server_environment(PORTAL_INSTANCE=str(second), **shared)
    assert run_command("audit", "verify", env=env).returncode == instance.EXIT_NOT_READY
    done = run_command("setup", "--if-needed", env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "", "no second set of one-time secrets"
    assert mode(second) == 0o700
    assert not (second / config.INSTANCE_KEY_FILE).exists(), "SECRET_KEY is shared, not made"
    # The instance check passes now (audit verify would also need the copied audit_key).
    assert run_command("stats", "refresh", env=env).returncode == 0


# --- end to end: every setting from the environment, on a real server -------------------


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    """A random rate-limit key prefix on the local Redis; its keys are deleted afterwards."""
    import redis

    prefix = f"lp-test-{secrets.token_hex(4)}"
    client = redis.Redis.from_url("redis://127.0.0.1:6379/0")
    try:
        client.ping()
    except redis.RedisError as error:
        pytest.fail(f"Redis is needed at 127.0.0.1:6379: {error}")
    yield prefix
    keys = list(client.scan_iter(match=f"*{prefix}*"))
    if keys:
        client.delete(*keys)
    client.close()


def limiter_keys(prefix: str) -> list[str]:
    """The rate-limit keys the servers wrote under `prefix`."""
    import redis

    client = redis.Redis.from_url("redis://127.0.0.1:6379/0", decode_responses=True)
    try:
        return sorted(client.scan_iter(match=f"*{prefix}*"))
    finally:
        client.close()


def _check_pages(base: str, *, onion: str, public_base: str) -> None:
    """Home, the form, a filed report's status page and the API, with each setting's effect."""
    home = fetch(base, "/")
    assert home.status == 200, home.text
    assert home.header("Onion-Location") == onion + "/"
    assert "max-age=" in str(home.header("Strict-Transport-Security"))
    form = fetch(base, "/lapor")
    assert form.status == 200
    cookie = form.header("Set-Cookie") or ""
    assert "lp_session=" in cookie and "Secure" in cookie, cookie
    filed = fetch(base, "/api/v1/reports", method="POST", body=VALID_JSON)
    assert filed.status == 201, filed.text
    code = json.loads(filed.text)["tracking_code"]
    status = fetch(base, f"/status/{code}")
    assert status.status == 200 and code in status.text
    assert status.header("Onion-Location") == f"{onion}/status/{code}"
    api = fetch(base, f"/api/v1/reports/{code}")
    assert api.status == 200 and json.loads(api.text)["status"] == "received"
    feed = fetch(base, "/publikasi/feed.atom")
    assert feed.status == 200
    assert f'href="{public_base}/publikasi/feed.atom"' in feed.text


@pytest.mark.parametrize("server", ["gunicorn-postgresql-text-key", "flask-run-sqlite-hex-key"])
def test_a_real_server_serves_with_every_setting_from_the_environment(
    request, tmp_path, redis_prefix, server
):
    public_base = "https://lapor.example.go.id"
    on_postgres = server.startswith("gunicorn")
    database = (
        request.getfixturevalue("postgres_url")
        if on_postgres
        else f"sqlite:///{tmp_path / 'elsewhere.db'}"
    )
    env = server_environment(
        PORTAL_INSTANCE=str(tmp_path / "instance"),
        DATABASE_URL=database,
        SECRET_KEY=TEXT_KEY if on_postgres else HEX_KEY,
        RATELIMIT_STORAGE_URI="redis://127.0.0.1:6379/0",
        RATELIMIT_KEY_PREFIX=redis_prefix,
        PUBLIC_BASE_URL=public_base + "/",
        PORTAL_ONION_LOCATION=ONION,
        SESSION_COOKIE_SECURE="true",
        HSTS="true",
        PROXY_COUNT="1",
        STATS_REFRESH_IN_REQUESTS="false",
        PORTAL_LOG_LEVEL="INFO",  # gunicorn announces its port at INFO
    )
    setup_instance(env)
    assert not (tmp_path / "instance" / "portal.db").exists(), "DATABASE_URL was used"
    assert not (tmp_path / "instance" / config.INSTANCE_KEY_FILE).exists(), "SECRET_KEY was used"
    argv = gunicorn("wsgi:app") if on_postgres else FLASK_RUN
    with serving(argv, env, tmp_path / "server.log") as base:
        _check_pages(base, onion=ONION, public_base=public_base)
        # PROXY_COUNT=1: the address is the proxy's X-Forwarded-For, so two citizens behind
        # one proxy are counted apart (keyed hashes in Redis under the prefix, not addresses).
        before = set(limiter_keys(redis_prefix))
        assert before, "the rate limits went to Redis under RATELIMIT_KEY_PREFIX"
        for address in ("198.51.100.1", "198.51.100.2"):
            reply = fetch(base, "/status/SRG-AAAA-BBBB-CC", headers={"X-Forwarded-For": address})
            assert reply.status == 404
        added = set(limiter_keys(redis_prefix)) - before
        lookups = {key for key in added if "status-lookup" in key}
        assert len(lookups) == 2, added
        assert not any("198.51.100" in key for key in limiter_keys(redis_prefix))
    log = (tmp_path / "server.log").read_text()
    assert "Traceback" not in log and " 500 " not in log, log
