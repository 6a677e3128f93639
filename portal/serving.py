"""The production server's profile (gunicorn): settings from the environment, checked.

gunicorn.conf.py reads its bind address, workers, threads and timeout from here, and asks
`refuse_unsafe_profile` before it forks: rate limits kept in process memory are exact only
while one process serves.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

from flask import Flask

from portal import config

DEFAULT_BIND = "127.0.0.1:8000"
# One process, several threads: the in-process rate-limit storage stays exact, and threads
# wait on the database and the network while Argon2id runs in its own bounded slots.
DEFAULT_WORKERS = 1
DEFAULT_THREADS = 8
# Seconds a request may take before gunicorn restarts its worker. A statistics rebuild
# on a large instance takes longer: such instances rebuild from a timer (docs/deploy.md).
DEFAULT_TIMEOUT = 60

LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
MAX_WORKERS = 64
MAX_THREADS = 256

_HOST_PORT = re.compile(r"^(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(?P<port>[0-9]{1,5})$")


class ProfileError(ValueError):
    """A server setting in the environment that cannot be used; the message says which."""


@dataclass(frozen=True)
class ServerProfile:
    """What gunicorn runs with."""

    bind: tuple[str, ...]
    workers: int
    threads: int
    timeout: int
    log_level: str = "info"

    @property
    def socket_per_worker(self) -> bool:
        """Whether each worker listens on its own socket (gunicorn's `reuse_port`).

        On one shared socket the first worker awake accepts a whole burst of connections,
        and keep-alive connections stay where they were accepted: with two workers, one
        process then serves everything while the other idles (docs/performance.md). With a
        socket each (SO_REUSEPORT), the kernel spreads new connections over the processes.
        Only for several workers on fixed TCP ports: a unix socket cannot be shared this
        way, and port 0 (any free port) would give each worker a different one.
        """
        return self.workers > 1 and all(
            (match := _HOST_PORT.match(address)) is not None and int(match["port"]) > 0
            for address in self.bind
        )


def _whole_number(environ: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise ProfileError(f"{name} must be a whole number from {low} to {high}, not {raw!r}")
    return int(raw)


def _bind_addresses(raw: str) -> tuple[str, ...]:
    """Parse `host:port[,host:port...]` or `unix:/path`; refuse anything else."""
    addresses = tuple(part.strip() for part in raw.split(",") if part.strip())
    if not addresses:
        raise ProfileError("PORTAL_BIND is empty: give host:port (e.g. 127.0.0.1:8000)")
    for address in addresses:
        if address.startswith("unix:"):
            if not address[len("unix:") :].startswith("/"):
                raise ProfileError(f"PORTAL_BIND {address!r}: a unix socket needs an absolute path")
            continue
        match = _HOST_PORT.match(address)
        if not match or int(match["port"]) > 65535:
            raise ProfileError(
                f"PORTAL_BIND {address!r} is not host:port (e.g. 127.0.0.1:8000, [::1]:8000)"
                " or unix:/absolute/path"
            )
    return addresses


def profile_from_environment(environ: Mapping[str, str] | None = None) -> ServerProfile:
    """Read PORTAL_BIND, _WORKERS, _THREADS, _TIMEOUT and _LOG_LEVEL, with defaults."""
    env = os.environ if environ is None else environ
    return ServerProfile(
        bind=_bind_addresses(env.get("PORTAL_BIND", "") or DEFAULT_BIND),
        workers=_whole_number(env, "PORTAL_WORKERS", DEFAULT_WORKERS, 1, MAX_WORKERS),
        threads=_whole_number(env, "PORTAL_THREADS", DEFAULT_THREADS, 1, MAX_THREADS),
        timeout=_whole_number(env, "PORTAL_TIMEOUT", DEFAULT_TIMEOUT, 5, 3600),
        log_level=_log_level(env.get("PORTAL_LOG_LEVEL", "")),
    )


def _log_level(raw: str) -> str:
    level = raw.strip().lower() or "info"
    if level not in LOG_LEVELS:
        raise ProfileError(f"PORTAL_LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, not {raw!r}")
    return level


def effective_config() -> Mapping[str, object]:
    """The portal's settings as the app will see them (defaults, instance, environment)."""
    app = Flask("portal", instance_path=config.instance_path(), instance_relative_config=True)
    config.load(app, None)
    return app.config


def in_process_storage(storage_uri: str) -> bool:
    """Whether rate limits would live in each process's own memory."""
    return storage_uri.strip().lower().startswith("memory://")


def in_process_limits_reason(workers: int) -> str:
    """Why `workers` processes cannot share rate limits kept in process memory."""
    return (
        "rate limits are kept in each process's memory (RATELIMIT_STORAGE_URI=memory://), so "
        f"every worker would count on its own and a limit of 10 reports an hour would let "
        f"{10 * workers} through. Set RATELIMIT_STORAGE_URI to a shared store (e.g. "
        "redis://127.0.0.1:6379/0), or serve with one worker and several threads "
        "(PORTAL_WORKERS=1, PORTAL_THREADS=8)."
    )


def refuse_unsafe_profile(workers: int, settings: Mapping[str, object]) -> str | None:
    """Why this many workers cannot serve with these settings, or None if they can."""
    storage = str(settings.get("RATELIMIT_STORAGE_URI") or "memory://")
    if workers > 1 and in_process_storage(storage):
        return f"Refusing to start {workers} workers: {in_process_limits_reason(workers)}"
    return None


def shared_database_warning(settings: Mapping[str, object]) -> str | None:
    """A warning when a database other servers may share meets in-process limits."""
    database = str(settings.get("SQLALCHEMY_DATABASE_URI", ""))
    storage = str(settings.get("RATELIMIT_STORAGE_URI") or "memory://")
    if not database.startswith("sqlite") and in_process_storage(storage):
        return (
            "Rate limits are kept in this process's memory: if another app server shares this "
            "database, each server counts on its own. Set RATELIMIT_STORAGE_URI (Redis) before "
            "adding a second server."
        )
    return None


class ScrubServerLog(logging.Filter):
    """Keep client addresses and request lines out of gunicorn's error log.

    gunicorn names the client (`Invalid request from ip=...: ... 'GET /status/SRG-...'`) when
    a request is malformed, and the path when a worker fails; a path may carry a tracking
    code. Addresses, quoted request text and paths are blanked; the rest stays for diagnosis.
    """

    _ADDRESS = re.compile(r"ip=\S+")
    _QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")
    _REQUEST = re.compile(r"^Error handling request \S.*$")

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record in place; never drop it."""
        message = record.getMessage()
        scrubbed = self._ADDRESS.sub("ip=-", message)
        scrubbed = self._QUOTED.sub("'-'", scrubbed)
        scrubbed = self._REQUEST.sub("Error handling request (path withheld)", scrubbed)
        if scrubbed != message:
            record.msg, record.args = scrubbed, None
        return True
