"""The repository's own example environments: their checked-in locks pass the gate."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from envlock.cli import cli

ROOT = Path(__file__).resolve().parent.parent


def test_checked_in_example_locks_pass_check() -> None:
    result = CliRunner().invoke(cli, ["-C", str(ROOT), "check", "--json", "training", "gpu-train", "scoring-api"])
    found = json.loads(result.stdout)
    errors = [f for f in found if f["severity"] == "error"]
    assert errors == [], errors
    assert result.exit_code == 0
