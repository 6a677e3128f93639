"""The load benchmark runs end to end on a small data set: table printed, no errors.

A real run (bench/run.py): gunicorn serving the portal and the floors, wrk loading them.
Ratios are not asserted: the machine is shared and noisy; `make bench` measures them.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("workers", [1, 2], ids=["one process", "two processes, Redis"])
def test_bench_smoke_prints_the_table_with_no_errors(tmp_path: Path, workers: int) -> None:
    """200 reports, a second per endpoint: every line measured, none with errors.

    With two workers (limits in Redis, as docs/deploy.md serves them) each line also says
    how the workers shared its CPU, so a case one process served alone can be told apart.
    """
    results = tmp_path / "results.json"
    finished = subprocess.run(  # noqa: S603 - our own script, our arguments
        [
            sys.executable,
            str(ROOT / "bench" / "run.py"),
            "--reports",
            "200",
            "--duration",
            "1",
            # Ratios are not checked here: the derivation cases need no more samples either.
            "--kdf-seconds",
            "1",
            "--workers",
            str(workers),
            "--json",
            str(results),
            "--keep",
            str(tmp_path / "scratch"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=ROOT,
    )
    assert finished.returncode == 0, finished.stdout[-3000:] + finished.stderr[-3000:]
    assert "endpoint" in finished.stdout and "ratio" in finished.stdout
    report = json.loads(results.read_text())
    rows = {row["name"]: row for row in report["rows"]}
    for name in (
        "floor: hello",
        "floor: Argon2id + seal + insert",
        "GET /status/<code>",
        "POST /api/v1/reports",
        "POST /kotak-masuk/masuk (receipt sign-in)",
        "staff queue, first page",
    ):
        assert name in rows
        assert name in finished.stdout
    assert [row["name"] for row in report["rows"] if row["errors"]] == []
    # The portal answered under load (a single row may complete nothing in one second
    # on a saturated machine, so the rows are summed).
    assert sum(row["requests"] for name, row in rows.items() if name.startswith("GET")) > 0
    assert report["kdf"]["ratio_to_globaleaks"] > 0
    assert report["stats_incremental_refresh_seconds"] >= 0
    shares = [row["busiest_worker"] for row in report["rows"]]
    if workers == 1:
        assert shares == [None] * len(shares)
        assert "top w" not in finished.stdout
    else:
        assert "top w" in finished.stdout
        # The busiest of two workers did at least half of a case's work, at most all of it.
        assert all(0.5 <= share <= 1 for share in shares if share is not None)
        assert shares[0] is not None  # the hello floor kept a worker busy
