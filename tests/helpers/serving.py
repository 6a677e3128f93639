"""Real servers (gunicorn, flask run) started from settings in the environment."""

from __future__ import annotations

import http.client
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from portal import config

ROOT = Path(__file__).resolve().parents[2]


TEXT_KEY = "a text secret key, as an operator types one in a unit file"


# Every variable the portal reads, cleared from the servers' environment so that only
# what a test sets is in effect.
PORTAL_VARIABLES = [setting.variable for setting in config.ENVIRONMENT] + ["PORTAL_INSTANCE"]


SERVER_TIMEOUT = 45  # seconds a server may take to start, or a command to finish


_LISTENING = re.compile(r"(?:Listening at:|Running on) https?://\S*?:(\d+)")


def server_environment(**settings: str) -> dict[str, str]:
    """This process's environment without any portal setting, plus `settings`."""
    environment = {k: v for k, v in os.environ.items() if k not in PORTAL_VARIABLES}
    environment.pop("FLASK_RUN_FROM_CLI", None)
    environment.update(settings)
    return environment


def run_command(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`python -m flask --app wsgi <args>` from the repository, bounded in time."""
    return subprocess.run(  # noqa: S603 (our own command, fixed arguments)
        [sys.executable, "-m", "flask", "--app", "wsgi", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=SERVER_TIMEOUT,
        check=False,
    )


def setup_instance(env: dict[str, str]) -> dict[str, str]:
    """Initialise an instance with the real `setup` command; its one-time secrets."""
    done = run_command("setup", "--generate-password", "--json", env=env)
    assert done.returncode == 0, done.stderr
    secrets_out: dict[str, str] = json.loads(done.stdout)
    return secrets_out


def gunicorn(*args: str) -> list[str]:
    """The production server with the repository's gunicorn.conf.py, on a free port."""
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "-c",
        str(ROOT / "gunicorn.conf.py"),
        "--bind",
        "127.0.0.1:0",
        "--workers",
        "1",
        *args,
    ]


@contextmanager
def serving(argv: list[str], env: dict[str, str], log: Path) -> Iterator[str]:
    """Start a server bound to port 0, yield its base URL; it is always stopped.

    Its standard output and error go to `log`, where the port is read from its banner.
    """
    with log.open("w") as output:
        process = subprocess.Popen(  # noqa: S603 (our own server, fixed arguments)
            argv, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + SERVER_TIMEOUT
        port = None
        while port is None:
            found = _LISTENING.search(log.read_text())
            if found:
                port = int(found.group(1))
                break
            assert process.poll() is None, f"server exited: {log.read_text()}"
            assert time.monotonic() < deadline, f"server did not start: {log.read_text()}"
            time.sleep(0.1)
        base = f"127.0.0.1:{port}"
        while True:  # the banner comes before the worker has loaded the app
            try:
                fetch(base, "/static/does-not-exist")
                break
            except OSError:
                assert process.poll() is None, f"server exited: {log.read_text()}"
                assert time.monotonic() < deadline, f"server never answered: {log.read_text()}"
                time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


class Reply:
    """An HTTP answer: status, headers (all values per name), body as text."""

    def __init__(self, response: http.client.HTTPResponse) -> None:
        self.status = response.status
        self.headers = response.headers
        self.text = response.read().decode("utf-8", "replace")

    def header(self, name: str) -> str | None:
        """One header's value, or None."""
        value = self.headers.get(name)
        return None if value is None else str(value)


def fetch(
    base: str,
    path: str,
    *,
    method: str = "GET",
    body: Any = None,
    headers: dict[str, str] | None = None,
) -> Reply:
    """One request to the real server, bounded by a timeout."""
    connection = http.client.HTTPConnection(base, timeout=30)
    try:
        data = None
        sent = dict(headers or {})
        if body is not None:
            data = json.dumps(body).encode()
            sent["Content-Type"] = "application/json"
        connection.request(method, path, body=data, headers=sent)
        return Reply(connection.getresponse())
    finally:
        connection.close()
