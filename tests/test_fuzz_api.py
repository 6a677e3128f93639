"""Schemathesis over /api/v1/openapi.json: every operation, every check, every phase, in-process.

The engine the schemathesis CLI runs, against the WSGI app (no server, no network), with
a fixed seed so a failure reproduces, bounded by FUZZ_API_EXAMPLES: one pass of every
phase. FUZZ_API_SECONDS=N instead keeps fuzzing, cycle after cycle, for N seconds.

Documented exceptions (schema-valid requests the API refuses, by design, because the
answer depends on state the schema cannot describe): see DOCUMENTED_REJECTIONS. Each is
checked to be refused for exactly that reason, never anything else.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

import pytest
import schemathesis
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import events

from tests.helpers import NO_LIMITS, gateway_key

# CI may raise these: FUZZ_API_EXAMPLES=1000, or FUZZ_API_SECONDS=120 (cycles until spent).
EXAMPLES = int(os.environ.get("FUZZ_API_EXAMPLES", "300"))
# With a time budget schemathesis repeats its phases until the budget is spent.
MAX_SECONDS = int(os.environ["FUZZ_API_SECONDS"]) if os.environ.get("FUZZ_API_SECONDS") else None
SEED = int(os.environ.get("FUZZ_API_SEED", "1226"))


def _report_refused_for_state(body: dict[str, Any]) -> bool:
    """A valid-looking report refused for what only the server knows.

    Catalogue codes exist only if the catalogue holds them (listCatalog); the incident
    date must lie in the last ten years *as of today*; text that is only white space
    or invisible characters is empty once cleaned; evidence is judged by its content.
    """
    error = body.get("error", {})
    if error.get("code") == "invalid_evidence":
        return True
    allowed = {"category", "service", "unit", "incident_date", "chronology", "files"}
    return error.get("code") == "invalid_report" and set(error.get("fields", {})) <= allowed


def _period_refused_for_state(body: dict[str, Any]) -> bool:
    """A well-formed period that has not started yet (the schema cannot know today)."""
    return body.get("error", {}).get("code") == "invalid_period"


DOCUMENTED_REJECTIONS: dict[str, Callable[[dict[str, Any]], bool]] = {
    "POST /reports": _report_refused_for_state,
    "GET /stats": _period_refused_for_state,
    "GET /stats.csv": _period_refused_for_state,
}


# High limits, not RATELIMIT_ENABLED=False: that flag sticks to the shared limiter object
# and would switch limits off for every later test in the session.
pytestmark = pytest.mark.app_config(NO_LIMITS)


@pytest.fixture
def fuzz_app(app: Any) -> Any:
    """An initialised portal without rate limits, so that every case reaches validation."""
    return app


def _failures(schema: Any) -> tuple[list[str], int]:
    """Run the engine; every failed check outside the documented exceptions, and cases run."""
    found: list[str] = []
    cases = 0
    for event in schemathesis.engine.from_schema(schema).execute():
        if isinstance(event, events.NonFatalError):
            found.append(f"engine error: {event.info.format()}"[:2000])
        if not isinstance(event, events.ScenarioFinished):
            continue
        recorder = event.recorder
        cases += len(recorder.cases)
        for case_id, checks in recorder.checks.items():
            for check in checks:
                if check.status.name != "FAILURE" or check.failure_info is None:
                    continue
                interaction = recorder.interactions.get(case_id)
                response = interaction.response if interaction else None
                if check.name == "positive_data_acceptance" and response is not None:
                    documented = DOCUMENTED_REJECTIONS.get(recorder.label)
                    try:
                        body = json.loads(response.content or b"{}")
                    except ValueError:
                        body = {}
                    if documented is not None and isinstance(body, dict) and documented(body):
                        continue
                found.append(
                    f"{recorder.label}: {check.name}: {check.failure_info.failure.title}\n"
                    f"{check.failure_info.code_sample}"[:2000]
                )
    return found, cases


def test_every_operation_passes_every_check(fuzz_app):
    # As a registered gateway: multipart intake needs a key (keyless intake has its own tests).
    key = gateway_key(fuzz_app, reports_per_hour=100_000)
    config = SchemathesisConfig.from_dict(
        {
            "headers": {"Authorization": f"Bearer {key}"},
            "seed": SEED,
            **({"max-time": MAX_SECONDS} if MAX_SECONDS else {}),
            "suppress-health-check": ["all"],
            "generation": {"max-examples": EXAMPLES, "database": "none"},
        }
    )
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", fuzz_app, config=config)
    operations = {result.ok().label for result in schema.get_all_operations()}
    documented = {
        f"{method.upper()} {path}"
        for path, item in schema.raw_schema["paths"].items()
        for method in item
    }
    # Schemathesis leaves out the operation that serves the schema itself.
    assert operations == documented - {"GET /openapi.json"}
    failures, cases = _failures(schema)
    assert cases >= 100, cases
    assert not failures, "\n\n".join(sorted(set(failures)))
