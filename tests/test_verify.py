"""`envlock verify` and reading locks back: logs with AML's prefixes, unchecked sides, the interpreter,
locks of either kind told apart by content and read through conda-lock's models, Python 3.10."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

from envlock.kinds import Kind
from envlock.lockfile import Lock, LockedPackage, parse_lock_text, read_lock, render_lock_files
from tests.conftest import RepoBuilder
from tests.support.registries import conda_env


def locked_train(repo: RepoBuilder) -> Lock:
    repo.env("train", conda=conda_env())
    assert repo.run("lock").exit_code == 0
    lock = read_lock("train", repo.root / "environments/train")
    assert lock is not None
    return lock


def test_an_aml_build_log_with_timestamps_and_conda_downloads(repo: RepoBuilder, tmp_path: Path) -> None:
    lock = locked_train(repo)
    stamp = "2024-09-05T15:26:38: "
    lines = [f"{stamp}Step 7/17 : RUN conda env create -p /azureml-envs/azureml_x -f conda.yaml",
             f"{stamp}Collecting package metadata (repodata.json): ...working... done",
             f"{stamp}", f"{stamp}Downloading and Extracting Packages"]
    lines += [f"{stamp}{p.name}-{p.version:<12} | 1.2 MB    | ########## | 100% "
              for p in lock.for_platform("linux-64")]
    lines += [f"{stamp}Preparing transaction: ...working... done", f"{stamp}Successfully installed pip-24.0"]
    log = tmp_path / "20_image_build_log.txt"
    log.write_text("\n".join(lines) + "\n")
    ok = repo.run("verify", "train", "--from", str(log), "--json")
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.stdout)["conda_checked"] is True

    log.write_text("\n".join(line for line in lines if "| numpy-" not in f"| {line[len(stamp):]}") + "\n")
    missing = repo.run("verify", "train", "--from", str(log), "--json")
    assert missing.exit_code == 1
    assert [(c["manager"], c["package"], c["change"]) for c in json.loads(missing.stdout)["changes"]] == [
        ("conda", "numpy", "missing")]


def test_never_matches_when_a_side_could_not_be_checked(repo: RepoBuilder, tmp_path: Path) -> None:
    locked_train(repo)
    freeze = tmp_path / "freeze.txt"
    freeze.write_text("pip==24.0\n")  # a conda lock with no pip packages, checked against pip freeze alone
    result = repo.run("verify", "train", "--from", str(freeze))
    assert result.exit_code == 1
    assert "matches where it could be checked" in result.stderr
    assert "not checked: conda packages" in result.stderr
    assert repo.run("verify", "train", "--from", str(freeze), "--pip-only").exit_code == 0


def test_the_interpreter_is_checked_against_the_lock(repo: RepoBuilder, tmp_path: Path) -> None:
    text = "# envlock-target: python 3.9 on linux-64\n# envlock-image: img\n\nsix==1.16.0\n"
    lock_file = tmp_path / "requirements.txt"
    lock_file.write_text(text)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    result = repo.run("verify", "--lock", str(lock_file), "--python", str(venv / "bin" / "python"), "--json")
    assert result.exit_code == 1
    host = ".".join(str(n) for n in sys.version_info[:3])
    assert [(c["manager"], c["package"], c["change"], c["locked"], c["installed"]) for c in
            json.loads(result.stdout)["changes"]] == [
        ("pip", "six", "missing", "1.16.0", None), ("python", "interpreter", "differs", "3.9", host)]


def test_a_requirements_lock_reads_back_every_line_it_writes(tmp_path: Path) -> None:
    url = "git+https://github.com/org/tool.git@" + "a" * 40
    packages = (LockedPackage("pip", "idna", "3.7", "linux-64", "https://files/idna.whl", "b" * 64),
                LockedPackage("pip", "tool", "0.3.1", "linux-64", url, None))
    lock = Lock("api", Kind.BUILD_CONTEXT, "img", ("linux-64",), (), packages, "c" * 64, (("uv", "0.4"),),
                python="3.12")
    written, files = render_lock_files(lock, tmp_path)
    text = next(iter(files.values()))
    assert f"tool @ {url}\n" in text
    again = parse_lock_text("api", "requirements.txt", text)
    assert [(p.name, p.url if p.url.startswith("git+") else p.version) for p in again.packages] == [
        ("idna", "3.7"), ("tool", url)]
    assert again.lock_sha256 == written.lock_sha256 and again.python == "3.12"


def test_a_lock_is_known_by_its_content_not_its_name(repo: RepoBuilder) -> None:
    lock = locked_train(repo)
    numpy = next(p for p in lock.for_platform("linux-64") if p.name == "numpy")
    text = (repo.root / "environments/train/conda-lock.yml").read_text()
    old = repo.root / "training-old.yml"
    old.write_text(text.replace(f"version: {numpy.version}\n", "version: 1.0.0\n", 1))
    result = repo.run("diff", str(old), "train", "--json")
    assert result.exit_code == 1, result.output
    assert [(c["manager"], c["name"], c["change"], c["before"]) for c in json.loads(result.stdout)] == [
        ("conda", "numpy", "changed", f"1.0.0={numpy.build}")]


def test_a_conda_lock_is_read_through_conda_locks_models(repo: RepoBuilder) -> None:
    locked_train(repo)
    path = repo.root / "environments/train/conda-lock.yml"
    text = path.read_text()
    path.write_text(text.replace("\nversion: 1\n", "\nversion: 7\n"))
    future = repo.run("verify", "--lock", str(path))
    assert future.exit_code == 2
    assert "conda-lock.yml (field 'version'): conda-lock format version 7; envlock reads version 1" in future.stderr
    path.write_text(text.replace("  platform: linux-64\n", "", 1))
    invalid = repo.run("diff", "train", "train")
    assert invalid.exit_code == 2
    assert "(field 'package.0.platform'): not valid for conda-lock: Field required" in invalid.stderr
    assert "fix: regenerate it with envlock lock train" in invalid.stderr


# Modules from the standard library that Python 3.10 lacks.
NEWER_STDLIB = {"tomllib", "wsgiref.types"}


def module_level_imports(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in tree.body:  # module level only: an import inside a function runs only when it is called
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_verify_imports_on_python_3_10(repo: RepoBuilder, tmp_path: Path) -> None:
    """No Python 3.10 on this machine: run verify, then check every envlock module it loaded parses with
    Python 3.10's grammar and imports no standard-library module 3.10 lacks at module level."""
    lock = locked_train(repo)
    explicit = tmp_path / "explicit.txt"
    explicit.write_text("@EXPLICIT\n" + "\n".join(p.url for p in lock.for_platform("linux-64")) + "\n")
    # main() ends the process itself; what it imported is reported from an exit handler, which it runs
    script = (
        "import atexit, sys, json\n"
        "from envlock.cli import main\n"
        f"sys.argv = ['envlock', '-C', {str(repo.root)!r}, 'verify', 'train', '--from', {str(explicit)!r}]\n"
        "atexit.register(lambda: print(json.dumps({'modules': sorted(m.__file__ for n, m in sys.modules.items()\n"
        "    if n.startswith('envlock') and m is not None and m.__file__)})))\n"
        "main()\n"
    )
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=repo.root)
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout.strip().splitlines()[-1])
    assert any(path.endswith("commands/verify.py") for path in report["modules"])
    for module in report["modules"]:
        tree = ast.parse(Path(module).read_text(), filename=module, feature_version=(3, 10))
        assert not module_level_imports(tree) & NEWER_STDLIB, module
