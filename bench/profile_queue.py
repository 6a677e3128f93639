"""CPU per whole rendered queue page, in process, with an optional pyinstrument profile.

    .venv/bin/python bench/profile_queue.py --keep DIR [--requests R] [--profile N] [--lang en]

Reuses (or first builds) the database of bench_queue.py in DIR (`bench_queue.py --keep DIR`
makes the same one), signs in as its admin and requests each staff queue view R times
(default 50) with Flask's test client: no HTTP server, no network. Prints the least, the
median and the 95th percentile of the CPU milliseconds (time.process_time) per request,
robust to a busy machine in a way wall time is not (the least most of all). With
--profile N the Nth view's pyinstrument profile follows. The HTTP p95 target (issue 14:
p95 < 50 ms with 4 staff clients in one process) needs about 4 x this CPU to fit in 50 ms.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_queue
from common import cpu_samples, make_app

VIEWS = [
    ("first page", "/inspectorate/queue"),
    ("in progress by deadline", "/inspectorate/queue?status=in_progress&sort=deadline"),
    ("unit + status (mpp, resolved)", "/inspectorate/queue?unit=mpp&status=resolved"),
    ("overdue", "/inspectorate/queue?overdue=1"),
    ("staff start page (floor)", "/inspectorate/"),
]
TOTP_STEP = 30  # seconds; a code is accepted once, so a second sign-in waits for the next


def main() -> None:
    """Build or reuse the database, measure each view, print."""
    options = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    options.add_argument("--keep", type=Path, required=True, help="bench_queue.py's --keep DIR")
    options.add_argument("--reports", type=int, default=1_000_000, help="when building")
    options.add_argument("--requests", type=int, default=50)
    options.add_argument("--profile", type=int, help="print the profile of this view (0-4)")
    options.add_argument("--lang", choices=("id", "en"), default="id")
    arguments = options.parse_args()

    folder: Path = arguments.keep
    folder.mkdir(parents=True, exist_ok=True)
    app = make_app(
        f"sqlite:///{folder / 'bench.db'}",
        folder / "instance",
        QUEUE_PAGE_SIZE=bench_queue.PAGE_SIZE,
        RATELIMIT_DEFAULT="100000000 per minute",  # every request still pays the limiter
    )
    totp_file = folder / "totp_secret"
    if not totp_file.exists():
        totp_secret, _seconds = bench_queue.populate(app, arguments.reports)
        totp_file.write_text(totp_secret)
    for attempt in range(3):
        try:
            browser = bench_queue.signed_in_client(app, totp_file.read_text())
            break
        except SystemExit:
            if attempt == 2:
                raise
            time.sleep(TOTP_STEP + 0.5 - time.time() % TOTP_STEP)
    browser.get(f"/bahasa/{arguments.lang}")
    count = arguments.requests
    # The least is the steadiest figure on a shared host: a neighbour only ever adds.
    print(f"{'view':<32} {'rows':>4} {'CPU ms least':>13} {'median':>8} {'p95':>8}")
    for name, path in VIEWS:
        samples, response = cpu_samples(browser, path, count)
        p95 = samples[min(count - 1, math.ceil(count * 0.95) - 1)]
        rows = response.get_data(as_text=True).count('<th scope="row"')
        least, median = samples[0], statistics.median(samples)
        print(f"{name:<32} {rows:>4} {least:>13.2f} {median:>8.2f} {p95:>8.2f}")
    if arguments.profile is not None:
        from pyinstrument import Profiler

        path = VIEWS[arguments.profile][1]
        profiler = Profiler(interval=0.001)
        with profiler:
            for _ in range(count):
                browser.get(path)
        print(profiler.output_text(color=False, unicode=False))


if __name__ == "__main__":
    main()
