"""The bad-input corpus (tests/support/bad_inputs.py): every row exits as listed, says file, line,
field and fix, shows no traceback and changes nothing, in the repository or outside it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.bad_inputs import ROWS, Row, arrange, run_row


@pytest.mark.parametrize("entry", ROWS, ids=[r.id for r in ROWS])
def test_bad_input(entry: Row, tmp_path: Path) -> None:
    outcome = run_row(entry, tmp_path)
    assert not outcome.traceback, outcome.output
    assert outcome.exit_code == entry.code, outcome.output
    assert not outcome.missing_words, (outcome.missing_words, outcome.output)
    assert not outcome.changed and not outcome.outside_changed, (outcome.changed, outcome.output)


def test_the_real_command_line_answers_a_bad_input_the_same_way(tmp_path: Path) -> None:
    entry = next(r for r in ROWS if r.id == "pip-newline-option-lock")
    arrange(tmp_path / "repo", tmp_path / "outside", entry)
    result = subprocess.run([sys.executable, "-m", "envlock", "-C", str(tmp_path / "repo"), *entry.args],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr
    assert all(word in result.stderr for word in entry.words) and "Traceback" not in result.stderr
