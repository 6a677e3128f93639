"""Browser fixtures: the portal served as `make run` serves it, and headless Debian Chromium.

The server is a real gunicorn subprocess over a fresh instance made by `flask setup`, with
cheap KDF costs set the way an operator sets anything: in the instance's config.py.
Chromium is Debian's (`/usr/bin/chromium`, installed by .ci/run when missing); Playwright
never downloads a browser here.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("PORTAL_TEST_CHROMIUM", "/usr/bin/chromium")
# Quiet, offline, unprivileged: no update checks, no sync, no sandbox (CI runs as root).
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
]
# Git-ignored; printed at the end of the run so a reviewer can open it.
SCREENSHOTS = Path(os.environ.get("PORTAL_SCREENSHOTS", ROOT / "browser-screenshots"))
SERVER_START_SECONDS = 30


def _bin(name: str) -> str:
    """A console script of this virtualenv (flask, gunicorn)."""
    return str(Path(sys.executable).parent / name)


def _die_with_parent() -> None:
    """In the server's process: end when the test run ends, even if it was killed.

    A finalizer does not run when pytest itself is killed (a CI timeout); Linux's
    PR_SET_PDEATHSIG then still stops the server instead of leaving it serving.
    """
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Portal:
    """A running portal: its address, instance folder and what setup printed once."""

    url: str
    instance: Path
    setup: dict[str, str]
    log: Path
    # Journeys hand facts to each other here (tracking codes, receipts, staff accounts).
    state: dict[str, Any] = field(default_factory=dict)

    def database(self) -> Path:
        """The SQLite file of the instance."""
        return self.instance / "portal.db"


def _wait_until_serving(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + SERVER_START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"gunicorn exited early:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(url + "/", timeout=2) as response:  # noqa: S310
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            time.sleep(0.2)
    pytest.fail(f"gunicorn did not answer within {SERVER_START_SECONDS} s:\n{log.read_text()}")


@pytest.fixture(scope="session")
def portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Portal]:
    """`flask setup` in a fresh instance, then gunicorn as `make run` starts it."""
    instance = tmp_path_factory.mktemp("browser-instance")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    (instance / "config.py").write_text(
        "# Cheap key derivation for the browser tests only; production keeps the defaults.\n"
        'RECEIPT_KDF = {"memory_kib": 8, "iterations": 1, "lanes": 1}\n'
        'PASSWORD_KDF = {"memory_kib": 8, "iterations": 1, "lanes": 1}\n'
        f"PUBLIC_BASE_URL = {url!r}\n"
        # Every journey files reports from one address; the real limit is tested elsewhere.
        'RATELIMIT_REPORT_SUBMIT = "100 per hour"\n'
        'RATELIMIT_STATUS_LOOKUP = "300 per minute"\n'
        'RATELIMIT_DEFAULT = "3000 per minute"\n'
    )
    env = {**os.environ, "PORTAL_INSTANCE": str(instance)}
    for variable in ("DATABASE_URL", "RATELIMIT_STORAGE_URI", "PUBLIC_BASE_URL", "SECRET_KEY"):
        env.pop(variable, None)
    made = subprocess.run(  # noqa: S603 (our own fixed command line)
        [_bin("flask"), "--app", "wsgi", "setup", "--json", "--generate-password"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    setup = json.loads(made.stdout.strip().splitlines()[-1])
    log = instance / "gunicorn.log"
    with log.open("wb") as out:
        process = subprocess.Popen(  # noqa: S603 (our own fixed command line)
            [
                _bin("gunicorn"),
                "-c",
                "gunicorn.conf.py",
                "--workers",
                "1",
                "--threads",
                "4",
                "--bind",
                f"127.0.0.1:{port}",
                "wsgi:app",
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
    try:
        _wait_until_serving(url, process, log)
        yield Portal(url=url, instance=instance, setup=setup, log=log)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    """Headless Debian Chromium, driven by Playwright."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (.ci/run does it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    """A fresh folder for this run's screenshots."""
    if SCREENSHOTS.exists():
        shutil.rmtree(SCREENSHOTS)
    SCREENSHOTS.mkdir(parents=True)
    return SCREENSHOTS


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Say where the screenshots are, and the accessibility notes worth a look."""
    from tests.browser import pages

    if pages.REPORT.pages:
        terminalreporter.section("browser journeys")
        for line in pages.REPORT.summary(SCREENSHOTS):
            terminalreporter.write_line(line)
