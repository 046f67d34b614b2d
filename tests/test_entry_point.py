"""The `envlock` entry point ends without the interpreter's teardown: what it must still do."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import RepoBuilder


def _python(code: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=cwd, timeout=120)


def test_exit_handlers_run_and_the_output_is_flushed(tmp_path: Path) -> None:
    code = ("import atexit, sys\n"
            "atexit.register(lambda: print('exit handler ran', file=sys.stderr))\n"
            "sys.argv = ['envlock', '--version']\n"
            "from envlock.cli import main\n"
            "main()\n")
    result = _python(code, tmp_path)
    assert result.returncode == 0
    assert result.stdout.startswith("envlock, version ")
    assert "exit handler ran" in result.stderr


def test_a_message_given_to_sys_exit_is_printed_and_exits_1(tmp_path: Path) -> None:
    code = ("import sys\n"
            "from envlock import cli\n"
            "def failing(**_):\n"
            "    sys.exit('stopped: no more to say')\n"
            "cli.cli = failing\n"
            "cli.main()\n")
    result = _python(code, tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip() == "stopped: no more to say"


def test_the_exit_code_and_a_long_json_answer_survive_a_pipe(repo: RepoBuilder) -> None:
    # More JSON than a pipe buffer holds: all of it arrives, and findings still exit 1.
    for index in range(400):
        repo.env(f"env{index:03d}", conda="channels: [conda-forge]\ndependencies:\n  - python=3.10\n")
    result = subprocess.run([sys.executable, "-m", "envlock", "-C", str(repo.root), "check", "--json"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 1
    findings = json.loads(result.stdout)
    assert len(result.stdout) > 65536
    assert {f["environment"] for f in findings} == {f"env{index:03d}" for index in range(400)}
