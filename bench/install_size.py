"""What installing envlock costs: size and package count of the core and of [all], against the
all-in-one install of 0.1 (before the split), and the pre-commit hook's first run from a clean cache.

Each install is a real `pip install` of a wheel built from a git revision of this repository into a
fresh virtual environment; sizes are the bytes of the files in its site-packages. The hook is run
by pre-commit (installed from PyPI into its own venv) on a small locked repository, with an empty
PRE_COMMIT_HOME, so the time includes cloning, creating the hook's venv and installing into it.

    .venv/bin/python bench/install_size.py          # prints the table, writes bench/install_size.md
    (bench/run_bench.py calls bench_install for `make bench`)
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from envlock import __version__  # noqa: E402

# the last commit with every dependency in the core install (the parent of the install split)
ALL_IN_ONE_REV = "bfe6018"
Row = Callable[[str, str, str, "float | None", str], None]


@dataclass(frozen=True)
class Install:
    label: str
    megabytes: float
    packages: int  # distributions in site-packages other than envlock itself
    seconds: float


def _quiet(command: list[str]) -> None:
    """Run a command; its output (pip's notes on the machine's index configuration) only on failure."""
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{result.stdout}{result.stderr}")


def _git(*args: str) -> str:
    return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True, check=True).stdout


def wheel_of(revision: str, work: Path) -> Path:
    """A wheel of envlock as committed at `revision`."""
    source = work / f"src-{revision}"
    source.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", revision], capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(source)], input=archive, check=True)
    dist = work / f"dist-{revision}"
    _quiet([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--wheel-dir", str(dist), str(source)])
    return next(dist.glob("envlock-*.whl"))


def measure_install(label: str, wheel: Path, extras: str, work: Path) -> Install:
    venv = work / f"venv-{label.replace(' ', '-').replace('[', '').replace(']', '')}"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    requirement = f"envlock{extras} @ {wheel.as_uri()}"
    started = time.perf_counter()
    _quiet([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "-q",
            "--disable-pip-version-check", requirement])
    seconds = time.perf_counter() - started
    site = next((venv / "lib").glob("python3*/site-packages"))
    size = sum(path.stat().st_size for path in site.rglob("*") if path.is_file() and not path.is_symlink())
    packages = [entry for entry in site.glob("*.dist-info") if not entry.name.startswith("envlock-")]
    return Install(label, size / 1e6, len(packages), seconds)


def hook_first_run(revision: str, work: Path, pre_commit: Path) -> float:
    """Seconds for `pre-commit run envlock-check` with an empty cache, the hook at `revision`."""
    target = work / f"hook-repo-{revision}"
    target.mkdir(parents=True)
    # that revision's own example environments: its check accepts the locks it wrote, not newer formats
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", revision, "environments",
                              "envlock.yaml"], capture_output=True, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(target, filter="data")
    (target / ".pre-commit-config.yaml").write_text(
        f"repos:\n  - repo: {ROOT}\n    rev: {_git('rev-parse', revision).strip()}\n"
        "    hooks:\n      - id: envlock-check\n")
    git = ["git", "-C", str(target), "-c", "user.name=bench", "-c", "user.email=bench@example.invalid"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "bench"], check=True)
    env = {**os.environ, "PRE_COMMIT_HOME": str(work / f"pre-commit-home-{revision}")}
    started = time.perf_counter()
    result = subprocess.run([str(pre_commit), "run", "envlock-check", "--all-files"], cwd=target, env=env,
                            capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise RuntimeError(f"the hook failed at {revision}:\n{result.stdout}{result.stderr}")
    return seconds


def pre_commit_tool(work: Path) -> Path:
    venv = work / "pre-commit-tool"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    _quiet([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check", "pre-commit"])
    return venv / "bin" / "pre-commit"


def bench_install(work: Path, row: Row) -> None:
    """Rows for bench/results.md: the core and [all] against the 0.1 all-in-one install."""
    head = wheel_of("HEAD", work)
    before = measure_install("0.1 all-in-one", wheel_of(ALL_IN_ONE_REV, work), "", work)
    core = measure_install("core", head, "", work)
    everything = measure_install("[all]", head, "[all]", work)
    for install in (core, everything):
        row(f"install size, {install.label}", f"{install.megabytes:.1f} MB, {install.packages} packages",
            f"{before.megabytes:.1f} MB, {before.packages} packages", install.megabytes / before.megabytes,
            f"pip install of a wheel into a fresh venv ({install.seconds:.0f} s; 0.1: {before.seconds:.0f} s)")
    pre_commit = pre_commit_tool(work)
    hook_before = hook_first_run(ALL_IN_ONE_REV, work, pre_commit)
    hook_now = hook_first_run("HEAD", work, pre_commit)
    row("pre-commit envlock-check, first run", f"{hook_now:.1f} s", f"{hook_before:.1f} s", hook_now / hook_before,
        "empty PRE_COMMIT_HOME: clone, hook venv, install, run (baseline: the hook at 0.1)")


def main() -> None:
    rows: list[tuple[str, str, str, str, str]] = []

    def row(measure: str, now: str, baseline: str, ratio: float | None, note: str) -> None:
        rows.append((measure, now, baseline, f"{ratio:.2f}x" if ratio is not None else "", note))
        print(f"  {measure}: {now} vs {baseline} ({rows[-1][3]}) {note}", flush=True)

    with tempfile.TemporaryDirectory(prefix="envlock-install-") as temp:
        bench_install(Path(temp), row)
    lines = ["# envlock install size", "",
             f"Measured by `bench/install_size.py` on {date.today().isoformat()} (envlock {__version__}) against "
             f"{ALL_IN_ONE_REV} (0.1, every dependency in the core).", "",
             "| measure | now | 0.1 all-in-one | ratio | note |", "|---|---|---|---|---|",
             *[f"| {' | '.join(cells)} |" for cells in rows], ""]
    (ROOT / "bench" / "install_size.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
