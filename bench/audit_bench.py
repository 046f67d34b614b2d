"""`make bench` part: envlock audit of the example environments against the OSV emulator, cold and cached.

Called from run_bench.py with its `row` function. The emulator serves the advisories copied to
tests/fixtures/osv-pypa-2024-10; yanked releases are not checked here (that would ask PyPI).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ENVLOCK = [sys.executable, "-m", "envlock"]
COPIES = 10  # a monorepo: the example environments ten times over


def _examples(folder: Path, url: str, copies: int) -> Path:
    import yaml

    (folder / "environments").mkdir(parents=True)
    settings = yaml.safe_load((ROOT / "envlock.yaml").read_text())
    per_environment = settings.pop("environments", {})
    settings["mirrors"] = {"conda-forge": str(ROOT / "tests" / "fixtures" / "conda-forge-2024-07")}
    settings["audit_url"] = url
    (folder / "envlock.yaml").write_text(yaml.safe_dump(settings))
    for source in sorted((ROOT / "environments").iterdir()):
        for copy in range(copies):
            name = source.name if copies == 1 else f"{source.name}-{copy:02d}"
            target = folder / "environments" / name
            shutil.copytree(source, target)
            env_yml = target / "env.yml"
            env_yml.write_text(env_yml.read_text().replace(f"name: {source.name}\n", f"name: {name}\n"))
            if source.name in per_environment:
                (target / "envlock.yaml").write_text(yaml.safe_dump(per_environment[source.name]))
    return folder


def _audit(repo: Path) -> tuple[float, dict]:  # type: ignore[type-arg]
    started = time.perf_counter()
    result = subprocess.run([*ENVLOCK, "-C", str(repo), "audit", "--json", "--no-yanked"], capture_output=True,
                            text=True)
    seconds = time.perf_counter() - started
    if result.returncode not in (0, 1):
        raise RuntimeError(result.stderr)
    return seconds, json.loads(result.stdout)


def bench_audit(work: Path, row: Callable[[str, str, str, float | None, str], None]) -> None:
    print("envlock audit of the example environments, OSV emulator", flush=True)
    sys.path.insert(0, str(ROOT))
    from tests.support.osv_server import FIXTURE_DB, OsvEmulator

    emulator = OsvEmulator(FIXTURE_DB, page_size=100)
    try:
        for copies in (1, COPIES):
            repo = _examples(work / f"audit-{copies}", emulator.url, copies)
            environments = len(list((repo / "environments").iterdir()))
            for label in ("cold", "cached"):
                emulator.reset()
                seconds, report = _audit(repo)
                requests = len(emulator.requests)
                per_package = requests / report["checked"] if report["checked"] else 0.0
                row(f"audit {environments} environments, {label}", f"{seconds:.2f} s", f"{requests} requests",
                    None, f"{report['checked']} distinct package versions, {per_package:.3f} requests each, "
                          f"{len(report['findings'])} findings")
        offline = _examples(work / "audit-offline", emulator.url, 1)
        started = time.perf_counter()
        subprocess.run([*ENVLOCK, "-C", str(offline), "audit", "--no-yanked", "--offline-db", str(FIXTURE_DB)],
                       capture_output=True, check=False)
        row("audit 3 environments, --offline-db", f"{time.perf_counter() - started:.2f} s", "0 requests", None,
            f"{sum(1 for _ in FIXTURE_DB.rglob('*.yaml'))} records read")
    finally:
        emulator.stop()
