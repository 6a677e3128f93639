"""Backups taken the way an operator takes one."""

from __future__ import annotations

from pathlib import Path


def take_backup(app, folder: Path) -> Path:
    result = app.test_cli_runner().invoke(args=["backup", "--output", str(folder)])
    assert result.exit_code == 0, result.output
    [archive] = folder.glob("*.tar")
    return archive
