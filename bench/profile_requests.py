"""Per-request CPU of the public pages and API reads, in process, with a pyinstrument profile.

    .venv/bin/python bench/profile_requests.py [--reports N] [--requests R] [--profile PATH]

Builds a small throw-away instance (N reports, default 2,000, the population of
bench_queue.py), then requests each endpoint R times with Flask's test client (no HTTP
server, no network) and prints the median CPU milliseconds per request beside the bare
Flask floors of bench/floors.py measured the same way. With --profile PATH the
endpoint's pyinstrument profile is printed too (PATH: one of the paths below, e.g. "/").
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import cpu_samples, make_app, scratch_folder

HIGH_LIMITS = {
    "RATELIMIT_DEFAULT": "1000000 per minute",
    "RATELIMIT_STATUS_LOOKUP": "1000000 per minute",
}


FLOOR_PATHS = ("/hello", "/template", "/pk-template", "/pk-json")


def cpu_ms(client, path: str, requests: int) -> float:
    """Median CPU milliseconds of one request to `path`."""
    return statistics.median(cpu_samples(client, path, requests)[0])


def main() -> None:
    """Build, measure, print."""
    options = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    options.add_argument("--reports", type=int, default=2_000)
    options.add_argument("--requests", type=int, default=300)
    options.add_argument("--profile", help="print the pyinstrument profile of this path")
    arguments = options.parse_args()

    import os

    import bench_queue
    from sqlalchemy import select

    with scratch_folder(None, prefix="lapor-profile-") as folder:
        app = make_app(f"sqlite:///{folder / 'bench.db'}", folder / "instance", **HIGH_LIMITS)
        bench_queue.populate(app, arguments.reports)
        from portal.extensions import db
        from portal.models import Report
        from portal.services import stats
        from portal.transaction import atomic

        with app.app_context():
            code = db.session.scalar(select(Report.tracking_code).where(Report.id == 1))
            with atomic():
                stats.publish_due()  # what the daily timer does before the first visitor
        paths = [
            "/",
            "/layanan",
            "/lapor",
            f"/status/{code}",
            f"/api/v1/reports/{code}",
            "/api/v1/catalog",
            "/transparansi",
            "/api/v1/stats",
        ]
        # No cookies, as wrk: every request is a first visit (a new session, a new token).
        portal = app.test_client(use_cookies=False)
        os.environ["BENCH_DATABASE_URL"] = f"sqlite:///{folder / 'bench.db'}"
        import floors

        bare = floors.app.test_client()
        print(f"\n{'request':<32} {'CPU ms':>8}")
        for path in FLOOR_PATHS:
            print(f"{'floor ' + path:<32} {cpu_ms(bare, path, arguments.requests):>8.2f}")
        for path in paths:
            label = path.replace(code, "<code>")
            print(f"{label:<32} {cpu_ms(portal, path, arguments.requests):>8.2f}")
        if arguments.profile:
            from pyinstrument import Profiler

            path = arguments.profile.replace("<code>", code)
            profiler = Profiler(interval=0.0002)
            with profiler:
                for _ in range(arguments.requests):
                    portal.get(path)
            print(profiler.output_text(color=False, unicode=False))


if __name__ == "__main__":
    main()
