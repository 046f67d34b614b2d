"""The README's walkthrough works as written: its lines run in one shell, from the repository root."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def walkthrough_lines() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"<!-- walkthrough:start -->\n```sh\n(.*?)```\n<!-- walkthrough:end -->", readme, re.S)
    assert block, "README.md lost its walkthrough block"
    return [line for line in block.group(1).splitlines() if line.strip() and not line.lstrip().startswith("#")]


def test_the_readme_walkthrough(tmp_path: Path) -> None:
    target = tmp_path / "my-aml-repo"
    script = ["set -u"]
    for line in walkthrough_lines():
        line = line.replace("/tmp/my-aml-repo", str(target))
        expected = 1 if "exits 1" in line else 0
        command = line.split("  #")[0].strip()
        script.append(f"{command}\nrc=$?; if [ $rc -ne {expected} ]; then echo {shlex.quote('FAILED: ' + command)} "
                      f"\"(exit $rc)\"; exit 1; fi")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    env.pop("ENVLOCK_REGISTRY", None)
    result = subprocess.run(["bash", "-c", "\n".join(script)], cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "environment: azureml:training:1   # floats" in (target / "jobs/train.yml").read_text()
    assert (target / "build/training/conda.yaml").is_file()
    assert "file://" not in (target / "environments/training/conda-lock.yml").read_text()
