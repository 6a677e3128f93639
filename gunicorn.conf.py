"""Gunicorn settings, read from the environment (portal/serving.py parses and checks them).

`make run` serves one process with threads on 127.0.0.1:$PORT; `make serve` and systemd
(docs/deploy.md) take PORTAL_BIND, PORTAL_WORKERS, PORTAL_THREADS, PORTAL_TIMEOUT and
PORTAL_LOG_LEVEL.
Before forking, the server refuses several workers on in-process rate-limit storage.
"""

import logging
import os
import sys

# gunicorn reads this file before it puts the app's folder on sys.path.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from portal import serving

try:
    _profile = serving.profile_from_environment()
except serving.ProfileError as error:
    # One clear line instead of a traceback; gunicorn exits non-zero when a config fails.
    sys.stderr.write(f"Error: {error}\n")
    sys.exit(2)

bind = list(_profile.bind)
workers = _profile.workers
threads = _profile.threads
worker_class = "gthread"
timeout = _profile.timeout
graceful_timeout = 30
# nginx keeps idle upstream connections for less than this (docs/deploy.md, upstream).
keepalive = 5
# Several workers: a listening socket each, so the kernel spreads connections over them
# (serving.ServerProfile.socket_per_worker says why and when).
reuse_port = _profile.socket_per_worker
# gunicorn 27's control socket lives at one path per user: two servers on one host would
# fight over it, and signals (HUP to reload, TERM to stop) already do what systemd needs.
control_socket_disable = True

# No access log: it would hold client addresses (DESIGN.md, invariant 1). If one is ever
# needed, its format must not contain %(h)s, %(a)s, %(r)s, %(U)s or %(q)s.
accesslog = None
access_log_format = "%(s)s %(b)s %(L)s"
errorlog = "-"
loglevel = _profile.log_level

logging.getLogger("gunicorn.error").addFilter(serving.ScrubServerLog())


# Whether rate limits live in this process's memory: set before forking, read by the
# TTIN guard below.
_in_process_limits = False


def on_starting(server):
    """Refuse a profile that would miscount rate limits, before anything is forked."""
    try:
        settings = serving.effective_config()
    except Exception as error:  # a bad setting: one line, as for the refusal below
        raise RuntimeError(f"The portal's settings do not load: {error}") from error
    global _in_process_limits
    _in_process_limits = serving.in_process_storage(
        str(settings.get("RATELIMIT_STORAGE_URI") or "memory://")
    )
    refusal = serving.refuse_unsafe_profile(server.cfg.workers, settings)
    if refusal:
        # gunicorn prints a RuntimeError raised here as one "Error: ..." line and exits 1.
        raise RuntimeError(refusal)
    warning = serving.shared_database_warning(settings)
    if warning:
        server.log.warning(warning)


def when_ready(server):
    """With a socket per worker the master holds none and names no address: say where."""
    if reuse_port:
        for address in _profile.bind:
            server.log.info("Listening at: http://%s (a socket per worker)", address)


def nworkers_changed(server, new_value, old_value):
    """Refuse a second worker later too (SIGTTIN), for the reason given at start."""
    if old_value is not None and new_value > 1 and _in_process_limits:
        server._num_workers = old_value  # the setter already stored new_value
        reason = serving.in_process_limits_reason(new_value)
        server.log.error("Refusing to add a worker: %s", reason)
