"""The core install (`pip install envlock`, no extras) is the offline gate, and says which extra the rest needs.

One real virtual environment with envlock installed from a wheel of this checkout and only its
core requirements; the commands run there as a user's pre-commit hook or pull-request job runs them.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import RepoBuilder
from tests.support.registries import conda_env

ROOT = Path(__file__).resolve().parent.parent
CORE_REQUIREMENTS = {"click", "pyyaml", "packaging"}


@pytest.fixture(scope="module")
def core_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv with `pip install <this checkout>` and nothing from any extra."""
    base = tmp_path_factory.mktemp("core")
    source = base / "src"  # a copy, so building the wheel leaves no build/ or egg-info in the checkout
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(ROOT / "envlock", source / "envlock", ignore=shutil.ignore_patterns("__pycache__"))
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    pip = [sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "-q",
           "--disable-pip-version-check"]
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps",
                    "--wheel-dir", str(base / "dist"), str(source)], check=True)
    subprocess.run([*pip, *sorted(CORE_REQUIREMENTS), *map(str, (base / "dist").glob("envlock-*.whl"))], check=True)
    return venv


def core(venv: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(venv / "bin" / "envlock"), *args], capture_output=True, text=True, timeout=120)


def test_the_core_requires_only_click_pyyaml_and_packaging(core_venv: Path) -> None:
    script = ("import importlib.metadata as m, json; "
              "print(json.dumps([m.requires('envlock'), "
              "sorted(d.metadata['Name'].lower() for d in m.distributions())]))")
    requires, installed = json.loads(subprocess.run([str(core_venv / "bin" / "python"), "-c", script],
                                                    capture_output=True, text=True, check=True).stdout)
    unconditional = {r.split(">")[0].split("=")[0].strip().lower() for r in requires if "extra ==" not in r}
    assert unconditional == CORE_REQUIREMENTS
    extras = {r.split("extra ==")[1].strip().strip("'\"") for r in requires if "extra ==" in r}
    assert {"lock", "azure", "all"} <= extras
    assert set(installed) == CORE_REQUIREMENTS | {"envlock"}  # nothing else came along


def test_the_gate_runs_on_the_core_install(core_venv: Path, repo: RepoBuilder, tmp_path: Path) -> None:
    repo.env("train", conda=conda_env())
    assert repo.run("lock").exit_code == 0  # locked with the full install, as a developer would
    (repo.root / "jobs").mkdir()
    (repo.root / "jobs" / "train.yml").write_text(
        "$schema: https://azuremlschemas.azureedge.net/latest/commandJob.schema.json\n"
        "command: python train.py\nenvironment: azureml:train:1\ncompute: azureml:cpu\n")

    check = core(core_venv, "-C", str(repo.root), "check", "--strict")
    assert check.returncode == 0, check.stderr
    preflight = core(core_venv, "preflight", "--offline", "-C", str(repo.root))
    assert preflight.returncode == 0, preflight.stderr
    assert "1 environment reference(s)" in preflight.stderr

    lock_file = repo.root / "environments/train/conda-lock.yml"
    copy = tmp_path / "before.yml"
    shutil.copy(lock_file, copy)
    same = core(core_venv, "-C", str(repo.root), "diff", "train", str(copy))
    assert same.returncode == 0 and "no differences" in same.stdout, same.stderr
    document = yaml.safe_load(copy.read_text())
    document["package"] = [p for p in document["package"] if p["name"] != "numpy"]
    copy.write_text(yaml.safe_dump(document))
    changed = core(core_venv, "-C", str(repo.root), "diff", str(copy), "train", "--json")
    assert changed.returncode == 1, changed.stderr
    assert [(c["name"], c["change"]) for c in json.loads(changed.stdout)] == [("numpy", "added")]

    from envlock.lockfile import read_lock

    lock = read_lock("train", lock_file.parent)
    assert lock is not None
    explicit = tmp_path / "explicit.txt"
    explicit.write_text("@EXPLICIT\n" + "\n".join(p.url for p in lock.for_platform("linux-64")) + "\n")
    verify = core(core_venv, "verify", "--lock", str(lock_file), "--from", str(explicit))
    assert verify.returncode == 0, verify.stderr

    # the embedded registry needs no extra either
    (repo.root / "jobs" / "train.yml").write_text("command: python train.py\nenvironment: azureml:train@latest\n")
    register = core(core_venv, "-C", str(repo.root), "register", "-o", str(repo.root / "registered.json"))
    assert register.returncode == 0, register.stderr
    pin = core(core_venv, "-C", str(repo.root), "pin", "--from", str(repo.root / "registered.json"))
    assert pin.returncode == 0, pin.stderr
    assert "environment: azureml:train:1" in (repo.root / "jobs" / "train.yml").read_text()
    assert core(core_venv, "-C", str(repo.root), "preflight").returncode == 0


def test_commands_of_an_extra_name_it(core_venv: Path, repo: RepoBuilder) -> None:
    repo.env("train", conda=conda_env())
    before = repo.snapshot()
    lock = core(core_venv, "-C", str(repo.root), "lock")
    assert lock.returncode == 2
    assert "envlock lock needs envlock[lock]" in lock.stderr and "pip install 'envlock[lock]'" in lock.stderr
    assert "Traceback" not in lock.stderr
    workspace = core(core_venv, "-C", str(repo.root), "versions", "train", "--registry", "azureml://registries/r")
    assert workspace.returncode == 2 and "envlock[azure]" in workspace.stderr
    assert repo.snapshot() == before
