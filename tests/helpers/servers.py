"""Real servers for tests: gunicorn started the way `make run` / `make serve` start it."""

from __future__ import annotations

import http.client
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
GUNICORN = [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py"), "wsgi:app"]
FLASK = [sys.executable, "-m", "flask", "--app", "wsgi"]
_LISTENING = re.compile(r"Listening at: http://([0-9.]+):(\d+)")

# Settings the test's own environment must not leak into a server it starts.
_SERVER_VARIABLES = re.compile(r"^(PORTAL_|DATABASE_URL$|RATELIMIT_|SECRET_KEY$|PORT$)")

# Cheap Argon2id for the servers' instance (as TEST_KDF in conftest); lanes=1 also keeps
# clear of cryptography 50.0.2's deadlock when two threads derive at once.
INSTANCE_CONFIG = """
RECEIPT_KDF = {"memory_kib": 8, "iterations": 1, "lanes": 1}
PASSWORD_KDF = {"memory_kib": 8, "iterations": 1, "lanes": 1}
"""


def server_env(folder: Path, **variables: str) -> dict[str, str]:
    """The environment of a server on instance `folder`, with `variables` added."""
    env = {k: v for k, v in os.environ.items() if not _SERVER_VARIABLES.match(k)}
    env["PORTAL_INSTANCE"] = str(folder)
    env.update(variables)
    return env


def make_instance(folder: Path, extra_config: str = "") -> Path:
    """An instance folder with cheap KDF costs (and `extra_config`) in its config.py."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.py").write_text(INSTANCE_CONFIG + extra_config)
    return folder


def flask_command(env: dict[str, str], *args: str, timeout: float = 60) -> str:
    """Run `flask --app wsgi ARGS` as an operator would; returns what it printed."""
    done = subprocess.run(  # noqa: S603 (a fixed command line)
        [*FLASK, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@dataclass
class Server:
    """A running gunicorn: its address and its error log."""

    process: subprocess.Popen[bytes]
    log_path: Path
    host: str = ""
    port: int = 0
    stopped: bool = field(default=False)

    def log(self) -> str:
        """Everything the server wrote so far (gunicorn's error log, the app's log)."""
        return self.log_path.read_text(errors="replace")

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        """One HTTP request; (status, headers, body). Bounded by a 30 s timeout."""
        connection = http.client.HTTPConnection(self.host, self.port, timeout=30)
        try:
            connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            connection.close()

    def stop(self) -> int:
        """TERM, then KILL after 10 s; returns the exit code."""
        if not self.stopped:
            self.stopped = True
            if self.process.poll() is None:
                self.process.send_signal(signal.SIGTERM)
                try:
                    self.process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait(timeout=10)
        return self.process.returncode


def start_gunicorn(env: dict[str, str], log_path: Path, *args: str, timeout: float = 60) -> Server:
    """Start gunicorn on a free port (bind port 0) and wait until it answers `/`."""
    env = {"PORTAL_BIND": "127.0.0.1:0", **env}
    with log_path.open("wb") as log:
        process = subprocess.Popen(  # noqa: S603 (a fixed command line)
            [*GUNICORN, *args],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    server = Server(process, log_path)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise AssertionError(f"gunicorn exited with {process.returncode}:\n{server.log()}")
            match = _LISTENING.search(server.log())
            if match:
                server.host, server.port = match.group(1), int(match.group(2))
                try:
                    if server.request("GET", "/")[0] == 200:
                        return server
                except OSError:
                    pass
            time.sleep(0.1)
        raise AssertionError(f"gunicorn did not answer within {timeout} s:\n{server.log()}")
    except BaseException:
        server.stop()
        raise


def run_gunicorn_to_exit(
    env: dict[str, str], *args: str, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Start gunicorn expecting it to refuse; returns its exit code and output."""
    env = {"PORTAL_BIND": "127.0.0.1:0", **env}
    try:
        return subprocess.run(  # noqa: S603 (a fixed command line)
            [*GUNICORN, *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except subprocess.TimeoutExpired as error:
        raise AssertionError(f"gunicorn kept running: {error.stderr!r}") from error


def form_fields(html: str) -> dict[str, Any]:
    """The hidden inputs of a page (CSRF token, submission id), by name."""
    fields: dict[str, Any] = {}
    for tag in re.findall(r"<input[^>]*>", html):
        name = re.search(r'name="([^"]+)"', tag)
        value = re.search(r'value="([^"]*)"', tag)
        if name and 'type="hidden"' in tag:
            fields[name.group(1)] = value.group(1) if value else ""
    return fields
