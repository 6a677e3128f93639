"""Dependencies are declared, locked with hashes, and used: what `make` installs is what runs."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==([^\s;\\]+)")

# Needed to serve but never imported by the portal's code (each with its reason in
# requirements.in): the catalogue compiler, the server, SQLAlchemy's PostgreSQL driver,
# limits' Redis client.
RUNTIME_NOT_IMPORTED = {"babel", "gunicorn", "psycopg", "redis"}
# Tools run as commands, not imported by the tests.
# Tools run as commands, and pytest-xdist, a plugin pyproject.toml turns on (-n).
DEV_NOT_IMPORTED = {"mypy", "pip-tools", "pytest-xdist", "ruff"}


def canonical(name: str) -> str:
    """A distribution name as pip compares them (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def direct(path: Path) -> dict[str, str]:
    """Name -> version of each pinned requirement in an `.in` file."""
    pins: dict[str, str] = {}
    for line in path.read_text().splitlines():
        match = _PIN.match(line.strip())
        if match:
            pins[canonical(match.group(1))] = match.group(3)
    return pins


def locked(path: Path) -> dict[str, tuple[str, int]]:
    """Name -> (version, number of hashes) of each requirement in a lock file."""
    entries: dict[str, tuple[str, int]] = {}
    current = ""
    for line in path.read_text().splitlines():
        match = _PIN.match(line)
        if match:
            current = canonical(match.group(1))
            entries[current] = (match.group(3), 0)
        elif line.strip().startswith("--hash=sha256:") and current:
            version, hashes = entries[current]
            entries[current] = (version, hashes + 1)
        elif line.strip() and not line.startswith((" ", "#")):
            pytest.fail(f"{path.name}: a line pip-compile did not write: {line!r}")
    return entries


def imported_distributions(folder: Path) -> set[str]:
    """The installed distributions whose modules the Python files under `folder` import."""
    modules: set[str] = set()
    for source in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.Import):
                modules.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                modules.add(node.module.split(".")[0])
    owners = importlib.metadata.packages_distributions()
    found: set[str] = set()
    for module in modules - set(sys.stdlib_module_names) - {"portal", "tests", "wsgi"}:
        found.update(canonical(name) for name in owners.get(module, []))
    return found


@pytest.mark.parametrize("lock", ["requirements.txt", "requirements-dev.txt"])
def test_every_locked_package_is_pinned_with_hashes(lock: str) -> None:
    entries = locked(ROOT / lock)
    assert entries, f"{lock} locks nothing"
    unhashed = sorted(name for name, (_version, hashes) in entries.items() if hashes == 0)
    assert not unhashed, f"{lock}: no hash for {unhashed}: run `make lock`"


@pytest.mark.parametrize(
    ("source", "lock"),
    [("requirements.in", "requirements.txt"), ("requirements-dev.in", "requirements-dev.txt")],
)
def test_the_lock_holds_each_direct_dependency_at_its_pinned_version(
    source: str, lock: str
) -> None:
    pins = direct(ROOT / source)
    entries = locked(ROOT / lock)
    stale = {
        name: (version, entries.get(name, ("missing", 0))[0])
        for name, version in pins.items()
        if entries.get(name, ("", 0))[0] != version
    }
    assert not stale, f"{source} and {lock} disagree (pinned, locked): {stale}; run `make lock`"


def test_tests_run_on_the_versions_production_runs() -> None:
    runtime = locked(ROOT / "requirements.txt")
    dev = locked(ROOT / "requirements-dev.txt")
    missing = sorted(set(runtime) - set(dev))
    differ = sorted(name for name in runtime if name in dev and runtime[name][0] != dev[name][0])
    assert not missing and not differ, (missing, differ)


def test_every_package_the_portal_imports_is_a_declared_runtime_dependency() -> None:
    declared = set(direct(ROOT / "requirements.in"))
    used = imported_distributions(ROOT / "portal") | imported_distributions(ROOT / "wsgi.py")
    assert not used - declared, f"imported but not in requirements.in: {sorted(used - declared)}"


def test_every_declared_dependency_is_used() -> None:
    runtime = set(direct(ROOT / "requirements.in"))
    used_at_runtime = imported_distributions(ROOT / "portal")
    unused = runtime - used_at_runtime - RUNTIME_NOT_IMPORTED
    assert not unused, f"requirements.in lists packages nothing imports: {sorted(unused)}"
    dev_only = set(direct(ROOT / "requirements-dev.in")) - runtime
    used_by_tests = imported_distributions(ROOT / "tests") | imported_distributions(ROOT / "bench")
    unused_dev = dev_only - used_by_tests - DEV_NOT_IMPORTED
    assert not unused_dev, f"requirements-dev.in lists packages nothing uses: {sorted(unused_dev)}"
