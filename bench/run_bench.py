"""`make bench`: envlock against the tools underneath it, as ratios measured in one run.

Absolute times vary between machines; the ratios are what to compare. Writes bench/results.md.
Not part of `make test`. Uses the repository's own examples, the fixture channel and PyPI.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
FIXTURE = ROOT / "tests" / "fixtures" / "conda-forge-2024-07"
ENVLOCK = [sys.executable, "-m", "envlock"]
MEASURE = ("import resource, subprocess, sys, time; t = time.perf_counter(); "
           "r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL); "
           "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, r.returncode)")
ROWS: list[tuple[str, str, str, str, str]] = []


def run_measured(command: list[str], cwd: Path | None = None, env: dict[str, str] | None = None) -> tuple[float, int]:
    """Wall seconds and peak RSS (KiB) of one command, measured from a fresh parent process."""
    out = subprocess.run([sys.executable, "-c", MEASURE, *command], cwd=cwd, env=env, capture_output=True,
                         text=True, check=True).stdout.split()
    return float(out[0]), int(out[1])


def median_of(runs: int, command: list[str], **kwargs: object) -> tuple[float, int]:
    samples = [run_measured(command, **kwargs) for _ in range(runs)]  # type: ignore[arg-type]
    return statistics.median(s[0] for s in samples), max(s[1] for s in samples)


def row(measure: str, envlock: str, baseline: str, ratio: float | None, note: str) -> None:
    ROWS.append((measure, envlock, baseline, f"{ratio:.2f}x" if ratio is not None else "", note))
    print(f"  {measure}: {envlock} vs {baseline} ({ROWS[-1][3]}) {note}", flush=True)


def timed_run(command: list[str], **kwargs: object) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, **kwargs)  # type: ignore[call-overload]
    return time.perf_counter() - started


def generated_repo(folder: Path, count: int) -> Path:
    """`count` environments, each a copy of one small locked conda environment."""
    (folder / "environments").mkdir(parents=True)
    (folder / "envlock.yaml").write_text(f"mirrors:\n  conda-forge: {FIXTURE.as_uri()}\n")
    seed = folder / "environments" / "env0000"
    seed.mkdir()
    (seed / "env.yml").write_text("name: env0000\nimage: mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04@sha256:"
                                  + "ab" * 32 + "\nconda_file: conda.yaml\n")
    (seed / "conda.yaml").write_text("channels: [conda-forge]\ndependencies:\n  - python=3.10\n  - numpy<2\n")
    subprocess.run([*ENVLOCK, "-C", str(folder), "lock"], check=True, capture_output=True)
    for index in range(1, count):
        target = folder / "environments" / f"env{index:04d}"
        shutil.copytree(seed, target)
        (target / "env.yml").write_text((seed / "env.yml").read_text().replace("env0000", target.name))
    return folder


def bench_check(work: Path) -> None:
    print("envlock check", flush=True)
    python_time, python_rss = median_of(5, [sys.executable, "-c", "pass"])
    for count in (100, 1000):
        repo = generated_repo(work / f"check{count}", count)
        seconds, rss = median_of(5, [*ENVLOCK, "-C", str(repo), "check"])
        row(f"check, {count} environments", f"{seconds:.3f} s, {rss // 1024} MiB",
            f"python -c pass {python_time:.3f} s, {python_rss // 1024} MiB", seconds / python_time,
            f"{1000 * (seconds - python_time) / count:.2f} ms per environment; target < 0.5 s for 100")


def bench_startup(work: Path) -> None:
    print("start-up", flush=True)
    python_time, _ = median_of(7, [sys.executable, "-c", "pass"])
    version_time, _ = median_of(7, [*ENVLOCK, "--version"])
    repo = generated_repo(work / "startup", 1)
    check_time, _ = median_of(7, [*ENVLOCK, "-C", str(repo), "check"])
    probe = ("import sys; sys.argv=['envlock','-C',sys.argv[1],'check']\nfrom envlock.cli import main\n"
             "try:\n    main()\nexcept SystemExit:\n    pass\n"
             "print(sorted({m.split('.')[0] for m in sys.modules} & {'azure','rattler','conda_lock','uv','pydantic'}))")
    heavy = subprocess.run([sys.executable, "-c", probe, str(repo)], capture_output=True, text=True).stdout.strip()
    row("envlock --version", f"{version_time:.3f} s", f"python -c pass {python_time:.3f} s",
        version_time / python_time, "")
    row("envlock check, 1 environment", f"{check_time:.3f} s", f"python -c pass {python_time:.3f} s",
        check_time / python_time, f"heavy modules imported: {heavy}")


def bench_lock(work: Path) -> None:
    print("envlock lock on the example environments", flush=True)
    repo = work / "examples"
    shutil.copytree(ROOT / "environments", repo / "environments")
    settings = (ROOT / "envlock.yaml").read_text().replace(
        "conda-forge: tests/fixtures/conda-forge-2024-07", f"conda-forge: {FIXTURE.as_uri()}")
    (repo / "envlock.yaml").write_text(settings)
    subprocess.run([*ENVLOCK, "-C", str(repo), "lock", "--upgrade"], check=True, capture_output=True)  # warm
    envlock_time = statistics.median(
        timed_run([*ENVLOCK, "-C", str(repo), "lock", "--upgrade", "-j", "1"]) for _ in range(3))
    direct_time = statistics.median(direct_solves(repo) for _ in range(3))
    row("lock examples (full re-solve, one environment at a time)", f"{envlock_time:.2f} s",
        f"rattler + uv called directly {direct_time:.2f} s", envlock_time / direct_time,
        "target <= 1.2x; envlock runs an environment's platforms in parallel")
    unchanged = statistics.median(
        timed_run([*ENVLOCK, "-C", str(repo), "lock"]) for _ in range(5))
    statuses = json.loads(subprocess.run([*ENVLOCK, "-C", str(repo), "lock", "--json"], check=True,
                                         capture_output=True, text=True).stdout)
    python_time, _ = median_of(5, [sys.executable, "-c", "pass"])
    solved = [s["name"] for s in statuses if s["status"] != "unchanged"]
    row("relock, unchanged repository", f"{unchanged:.3f} s", f"python -c pass {python_time:.3f} s",
        unchanged / python_time, f"solver calls: {len(solved)} (target 0)")


def direct_solves(repo: Path) -> float:
    """The same solves envlock makes for the examples, with rattler and the uv CLI called directly."""
    from rattler import Channel, GenericVirtualPackage, MatchSpec, PackageName, Version
    from rattler.package.build_string import BuildString
    from rattler.repo_data.multi_source import MultiSource
    from rattler.repo_data.sparse import SparseRepoData
    from rattler.solver import solve_with_sparse_repodata
    from uv import find_uv_bin

    from envlock.platforms import target_platform
    from envlock.repo import Repo
    from envlock.settings import load_settings
    from envlock.spec import load_environment

    settings = load_settings(repo)
    specs = [load_environment(Repo(repo), name, settings) for name in Repo(repo).environment_names()]
    started = time.perf_counter()
    for spec in specs:
        for conda_platform in spec.settings.platforms:
            target = target_platform(conda_platform, spec.settings.virtual_packages)
            python = spec.python
            if spec.conda_file:
                sources = [MultiSource("conda-forge", [
                    SparseRepoData(Channel("https://conda.anaconda.org/conda-forge"), subdir,
                                   FIXTURE / subdir / "repodata.json") for subdir in (conda_platform, "noarch")])]
                virtual = [GenericVirtualPackage(PackageName(n), Version(v), BuildString("0"))
                           for n, v in target.virtual_packages]
                records = asyncio.run(solve_with_sparse_repodata(
                    [MatchSpec(s, strict=False) for s in spec.conda_dependencies], sources,
                    virtual_packages=virtual))
                python = next(str(r.version) for r in records if r.name.normalized == "python")
            if spec.pip_dependencies:
                with tempfile.TemporaryDirectory() as temp:
                    (Path(temp) / "requirements.in").write_text("\n".join(spec.pip_dependencies) + "\n")
                    subprocess.run([find_uv_bin(), "pip", "compile", "--no-config", "--quiet", "--no-python-downloads",
                                    "--python", sys.executable, "requirements.in", "--python-version", str(python),
                                    "--python-platform", target.uv_python_platform(), "--index-url",
                                    "https://pypi.org/simple", "--format", "pylock.toml", "-o", "pylock.toml"],
                                   cwd=temp, check=True, capture_output=True)
    return time.perf_counter() - started


def bench_pip_resolvers(work: Path) -> None:
    print("pip resolution: pip-tools against uv (host Python, same requirements)", flush=True)
    from uv import find_uv_bin

    clean = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "UV_"))}
    clean["PIP_CONFIG_FILE"] = os.devnull
    requirements = {
        "scoring-api": (ROOT / "environments/scoring-api/requirements.in").read_text(),
        "training (pip part)": "scikit-learn==1.5.*\nmlflow-skinny>=2.14,<3\nnumpy<2\npandas<3\nscipy\n",
    }
    for label, text in requirements.items():
        folder = work / "pip" / label.split()[0]
        folder.mkdir(parents=True)
        (folder / "requirements.in").write_text(text)
        results = {}
        for tool in ("pip-compile", "uv"):
            cache = folder / f"cache-{tool}"
            for phase in ("cold", "warm"):
                if tool == "pip-compile":
                    command = [str(Path(sys.executable).parent / "pip-compile"), "--quiet", "--generate-hashes",
                               "--index-url", "https://pypi.org/simple", "--cache-dir", str(cache),
                               "--rebuild" if phase == "cold" else "--no-upgrade", "-o", "out-pip.txt",
                               "requirements.in"]
                else:
                    command = [find_uv_bin(), "pip", "compile", "--no-config", "--quiet", "--generate-hashes",
                               "--no-python-downloads", "--python", sys.executable, "--cache-dir", str(cache),
                               "--index-url", "https://pypi.org/simple", "-o", "out-uv.txt", "requirements.in"]
                env = {**clean, "PIP_CACHE_DIR": str(cache)}
                for stale in folder.glob("out-*.txt"):
                    stale.unlink()
                results[(tool, phase)] = timed_run(command, cwd=folder, env=env)
        for phase in ("cold", "warm"):
            pip_time, uv_time = results[("pip-compile", phase)], results[("uv", phase)]
            row(f"pip resolution, {label}, {phase} cache", f"uv {uv_time:.2f} s", f"pip-compile {pip_time:.2f} s",
                uv_time / pip_time, "uv also resolves for other Pythons and platforms; pip-compile cannot")


def bench_register(work: Path) -> None:
    print("envlock register, 100 environments, AML emulator", flush=True)
    from tests.support.aml_emulator import AmlEmulator

    repo = generated_repo(work / "register", 100)
    emulator = AmlEmulator(work / "aml").start()
    env = {**os.environ, **emulator.client_environment()}
    try:
        for label in ("first registration (created)", "unchanged", "changed (relocked)"):
            if label.startswith("changed"):
                for folder in (repo / "environments").iterdir():
                    conda = folder / "conda.yaml"
                    conda.write_text(conda.read_text().replace("numpy<2", "numpy>=2"))
                subprocess.run([*ENVLOCK, "-C", str(repo), "lock"], check=True, capture_output=True)
            before = len(emulator.requests_matching(pattern="/environments/"))
            seconds = timed_run([*ENVLOCK, "-C", str(repo), "register"], env=env)
            requests = len(emulator.requests_matching(pattern="/environments/")) - before
            row(f"register 100, {label}", f"{seconds:.2f} s", f"{requests} requests", None,
                f"{requests / 100:.1f} requests and {1000 * seconds / 100:.1f} ms per environment")
    finally:
        emulator.stop()


def write_results() -> None:
    lines = [
        "# envlock benchmarks",
        "",
        f"Measured by `make bench` on {date.today().isoformat()}: {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}. Ratios are envlock against the baseline in the same run.",
        "",
        "| measure | envlock | baseline | ratio | note |",
        "|---|---|---|---|---|",
        *[f"| {' | '.join(cells)} |" for cells in ROWS],
        "",
    ]
    (ROOT / "bench" / "results.md").write_text("\n".join(lines))
    print("\n".join(lines))


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="envlock-bench-") as temp:
        work = Path(temp)
        bench_startup(work)
        bench_check(work)
        bench_lock(work)
        bench_pip_resolvers(work)
        bench_register(work)
        from bench.install_size import bench_install  # issue 13: install size and the hook's first run

        bench_install(work, row)
        from bench.audit_bench import bench_audit  # issue 14: envlock audit, cold and cached

        bench_audit(work, row)
    write_results()


if __name__ == "__main__":
    main()
