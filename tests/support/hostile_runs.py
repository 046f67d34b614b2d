"""Kill, race and fault figures (issue 10): python -m tests.support.hostile_runs [KILLS] [RACE_ROUNDS] [FAULTS]

Not part of the test suite (minutes, not seconds); bounded versions of each scenario are tests
(test_processes, test_lockfile, test_register_hostile). Run from the repository root.

- kills: `envlock lock`/`build`/`register` killed with SIGKILL at a random moment; then counted:
  lock files that are neither the old nor a complete new lock and that `check` does not flag,
  temp files left, uv processes still running, and whether a rerun completes and leaves no temp file.
- race: 4 `register` processes against the AML emulator, two repositories whose locks differ but
  render the same AML content for linux-64 (conda: same declaration, other platforms; image only);
  counted: versions whose lock-hash tag was changed after creation, and false "created" reports.
- faults: one injected fault (429, 500, drop, drop-after, slow) on a PUT or GET; counted: runs
  that failed with a traceback, runs whose rerun did not complete, duplicate versions.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.support.aml_emulator import AmlEmulator

FIXTURE = Path(__file__).parent.parent / "fixtures" / "conda-forge-2024-07"
DIGEST = "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04@sha256:" + "ab" * 32
CONDA = "channels: [conda-forge]\ndependencies:\n  - python=3.10\n  - numpy<2\n  - pip\n  - pip:\n    - six==1.16.0\n"


def envlock(root: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 600) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "envlock", "-C", str(root), *args],
                            env={**os.environ, **(env or {})}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def make_repo(root: Path, platforms: str = "linux-64, win-64", image_only: bool = False) -> Path:
    (root / "environments").mkdir(parents=True)
    (root / "envlock.yaml").write_text(f"mirrors: {{conda-forge: {FIXTURE.as_uri()}}}\nplatforms: [{platforms}]\n"
                                       "environments:\n  api: {python: '3.12'}\n")
    train = root / "environments" / "train"
    train.mkdir()
    if image_only:
        (train / "env.yml").write_text(f"name: train\nimage: {DIGEST}\n")
        return root
    (train / "env.yml").write_text(f"name: train\nimage: {DIGEST}\nconda_file: conda.yaml\n")
    (train / "conda.yaml").write_text(CONDA)
    api = root / "environments" / "api"
    api.mkdir()
    (api / "env.yml").write_text(f"name: api\nimage: {DIGEST}\n")
    (api / "requirements.in").write_text("six==1.16.0\ntomli\n")
    return root


def lock_state(root: Path) -> dict[str, str]:
    """For each environment: 'none', 'ok' (verifies), or 'flagged' (check reports it edited)."""
    from envlock.lockfile import read_header

    states = {}
    for folder in sorted((root / "environments").iterdir()):
        try:
            header = read_header(folder)
        except Exception as exc:  # noqa: BLE001 - counted, not hidden
            states[folder.name] = f"unreadable: {exc}"
            continue
        states[folder.name] = "none" if header is None else "ok" if header.is_untouched else "flagged"
    return states


def temp_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.name.endswith((".envlock-tmp", ".tmp"))]


def uv_processes_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cwd = os.readlink(entry / "cwd")
        except OSError:
            continue
        if f"envlock-pip-{pid}-" in cwd:
            found.append(int(entry.name))
    return found


def kills(count: int, base: Path) -> dict[str, int]:
    template = make_repo(base / "template")
    assert envlock(template, "lock").wait() == 0
    figures = {"kills": 0, "undetected partial locks": 0, "temp files left after kill": 0,
               "uv processes alive after kill": 0, "reruns failed": 0, "temp files after rerun": 0,
               "lock files checked": 0}
    rng = random.Random(10)
    for index in range(count):
        root = base / f"kill{index}"
        shutil.copytree(template, root, symlinks=True)
        command = rng.choice(["lock", "build", "register"])
        if command == "lock" or rng.random() < 0.5:  # make the lock stale so there is work to interrupt
            conda = root / "environments/train/conda.yaml"
            conda.write_text(conda.read_text() + "  - scipy\n" * (index % 2))
            extra = "packaging\n" if index % 3 == 0 else ""
            (root / "environments/api/requirements.in").write_text(f"six==1.16.0\ntomli\n{extra}")
        process = envlock(root, command, "-U" if command == "lock" else "--json")
        time.sleep(rng.uniform(0.2, 6.0))
        process.send_signal(signal.SIGKILL)
        process.communicate()
        figures["kills"] += 1
        time.sleep(0.3)
        figures["uv processes alive after kill"] += len(uv_processes_of(process.pid))
        states = lock_state(root)
        figures["lock files checked"] += len(states)
        figures["undetected partial locks"] += sum(1 for s in states.values() if s.startswith("unreadable"))
        figures["temp files left after kill"] += len(temp_files(root))
        rerun = envlock(root, "build")
        out, err = rerun.communicate(timeout=600)
        if rerun.returncode != 0:
            figures["reruns failed"] += 1
            print(f"  rerun after killing {command}: exit {rerun.returncode}: {err.strip()[-300:]}", file=sys.stderr)
        figures["temp files after rerun"] += len(temp_files(root / "environments")) + len(temp_files(root / "build"))
    return figures


def race(rounds: int, base: Path, emulator: AmlEmulator) -> dict[str, int]:
    figures = {"rounds": 0, "versions whose tag changed": 0, "false created": 0, "failed processes": 0,
               "idempotent PUTs on an existing version (same lock)": 0}
    repos = []
    for image_only in (False, True):
        first = make_repo(base / f"race-{image_only}-a", "linux-64", image_only)
        second = make_repo(base / f"race-{image_only}-b", "linux-64, osx-arm64", image_only)
        for repo in (first, second):
            assert envlock(repo, "lock").wait() == 0
        repos.append((first, second))
    for index in range(rounds):
        emulator.reset()
        first, second = repos[index % 2]
        env = emulator.client_environment()
        processes = [envlock(repo, "register", "train", "--json", env=env) for repo in (first, second, first, second)]
        reports = []
        for process in processes:
            out, err = process.communicate(timeout=300)
            if process.returncode != 0:
                figures["failed processes"] += 1
                print(f"  race: exit {process.returncode}: {err.strip()[-300:]}", file=sys.stderr)
                continue
            reports.append(json.loads(out)["train"])
        figures["rounds"] += 1
        figures["idempotent PUTs on an existing version (same lock)"] += sum(
            1 for *_, before, after in emulator.state.updates
            if (before or {}).get("envlock.lock-sha256") == (after or {}).get("envlock.lock-sha256"))
        stored = {v: emulator.workspace_version("train", v).properties.get("tags", {}).get("envlock.lock-sha256")
                  for v in emulator.version_numbers("train")}
        figures["versions whose tag changed"] += sum(
            1 for *_, before, after in emulator.state.updates
            if (before or {}).get("envlock.lock-sha256") != (after or {}).get("envlock.lock-sha256"))
        figures["false created"] += sum(1 for r in reports if stored.get(r["version"]) != r["lock_sha256"])
    return figures


def faults(count: int, base: Path, emulator: AmlEmulator) -> dict[str, int]:
    repo = make_repo(base / "faults", "linux-64")
    assert envlock(repo, "lock").wait() == 0
    figures = {"faults": 0, "first run failed": 0, "tracebacks": 0, "reruns not completed": 0, "duplicates": 0}
    kinds = ["429", "500", "drop", "drop-after", "slow"]
    targets = [("PUT", r"/environments/(train|api)/versions/"), ("GET", r"/environments/(train|api)/versions$")]
    env = {**emulator.client_environment(), "ENVLOCK_READ_TIMEOUT": "5"}
    for index in range(count):
        emulator.reset()
        method, pattern = targets[index % 2]
        emulator.inject(method, pattern, kinds[index % len(kinds)], times=1 + index % 3, seconds=1)
        first = envlock(repo, "register", "train", "--json", env=env)
        _, err = first.communicate(timeout=600)
        figures["faults"] += 1
        figures["tracebacks"] += "Traceback" in err
        if first.returncode != 0:
            figures["first run failed"] += 1
            rerun = envlock(repo, "register", "train", "--json", env=env)
            _, err = rerun.communicate(timeout=600)
            figures["tracebacks"] += "Traceback" in err
            figures["reruns not completed"] += rerun.returncode != 0
        for name in ("train", "api"):
            figures["duplicates"] += max(0, len(emulator.version_numbers(name)) - 1)
    return figures


def main() -> None:
    counts = [int(arg) for arg in sys.argv[1:4]] + [60, 18, 20][len(sys.argv[1:4]):]
    with tempfile.TemporaryDirectory(prefix="envlock-hostile-") as temp:
        base = Path(temp)
        print("kills:", json.dumps(kills(counts[0], base)), flush=True)
        emulator = AmlEmulator(base / "aml").start()
        try:
            print("race:", json.dumps(race(counts[1], base, emulator)), flush=True)
            print("faults:", json.dumps(faults(counts[2], base, emulator)), flush=True)
        finally:
            emulator.stop()


if __name__ == "__main__":
    main()
