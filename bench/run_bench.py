"""`make bench`: envlock against the tools underneath it, and against an older envlock, in one run.

Every comparison is paired and interleaved: each round runs every variant once, in a rotating
order, so that load on the machine falls on all of them alike; a row reports medians over the
rounds and the median of the per-round ratios. Costs per environment are slopes between two
repository sizes (not a total divided by N). Peak memory is the largest resident set of the
measured process and its children. Request counts include every request the process makes.

    python bench/run_bench.py [--against REV] [--rounds N]

--against REV also measures the envlock of git revision REV (extracted to a temporary folder
and run with this virtual environment) in the same rounds: the "before" column. Writes
bench/results.md. Not part of `make test`. Uses the fixture channel, PyPI and the AML emulator.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from io import BytesIO
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
# Commands run from a folder without an envlock package: `python -m` puts the working folder
# first on sys.path, ahead of PYTHONPATH, which selects the tree being measured.
NEUTRAL = Path(tempfile.mkdtemp(prefix="envlock-bench-cwd-"))
FIXTURE = ROOT / "tests" / "fixtures" / "conda-forge-2024-07"
BENCH = Path(__file__).resolve().parent
DIGEST_IMAGE = "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04@sha256:" + "ab" * 32
TRAINING_PLATFORMS = "[linux-64, osx-arm64, win-64]"
# One process measured from a fresh parent: wall seconds, peak RSS (KiB) and CPU seconds of it and
# its children. CPU time is what a busy machine disturbs least; wall time is what users wait for.
MEASURE = ("import resource, subprocess, sys, time; t = time.perf_counter(); "
           "r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL); "
           "u = resource.getrusage(resource.RUSAGE_CHILDREN); "
           "print(time.perf_counter() - t, u.ru_maxrss, r.returncode, u.ru_utime + u.ru_stime)")
Measured = tuple[float, int, float]


# ---------------------------------------------------------------- trees and commands


@dataclass(frozen=True)
class Tree:
    """One envlock source tree, run with this virtual environment's Python."""

    label: str
    path: Path

    def environment(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        return {**os.environ, "PYTHONPATH": str(self.path), **(extra or {})}

    def envlock(self, repo: Path, *args: str) -> list[str]:
        return [sys.executable, "-m", "envlock", "-C", str(repo), *args]

    def run(self, repo: Path, *args: str, extra: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self.envlock(repo, *args), env=self.environment(extra), capture_output=True,
                              text=True, check=False, cwd=NEUTRAL)


def compile_bytecode(tree: Tree) -> None:
    """Each tree's modules compiled to .pyc as `pip install` leaves them: with PYTHONDONTWRITEBYTECODE
    set (as on this machine) every measured process would otherwise recompile envlock from source,
    while the baselines' packages in site-packages load compiled."""
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(tree.path / "envlock")], check=True,
                   capture_output=True)


def extract_revision(revision: str, folder: Path) -> Tree:
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", revision],
                             capture_output=True, check=True).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(folder, filter="data")
    short = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", revision], capture_output=True,
                           text=True, check=True).stdout.strip()
    return Tree(f"before ({short})", folder)


def measure(command: list[str], env: dict[str, str] | None = None, cwd: Path = NEUTRAL,
            exit_codes: tuple[str, ...] = ("0",)) -> Measured:
    out = subprocess.run([sys.executable, "-c", MEASURE, *command], env=env, cwd=cwd, capture_output=True,
                         text=True, check=True).stdout.split()
    if out[2] not in exit_codes:
        raise RuntimeError(f"exit {out[2]}: {' '.join(command)}")
    return float(out[0]), int(out[1]), float(out[3])


@dataclass
class Samples:
    seconds: list[float] = field(default_factory=list)
    rss_kib: list[int] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def peak_mib(self) -> int:
        return max(self.rss_kib) // 1024


def interleaved(variants: dict[str, Callable[[], Measured]], rounds: int,
                before_each: Callable[[str], None] | None = None) -> dict[str, Samples]:
    """Each round runs every variant once; the starting variant rotates from round to round."""
    names = list(variants)
    results = {name: Samples() for name in names}
    for index in range(rounds):
        order = names[index % len(names):] + names[:index % len(names)]
        for name in order:
            if before_each:
                before_each(name)
            seconds, rss, cpu = variants[name]()
            results[name].seconds.append(seconds)
            results[name].rss_kib.append(rss)
            results[name].cpu.append(cpu)
    return results


def paired_ratio(results: dict[str, Samples], numerator: str, denominator: str) -> float:
    """The median of per-round ratios: each ratio compares runs made moments apart."""
    return statistics.median(a / b for a, b in zip(results[numerator].seconds, results[denominator].seconds,
                                                   strict=True))


# ---------------------------------------------------------------- the results table


@dataclass
class Table:
    trees: list[Tree]
    rows: list[tuple[str, ...]] = field(default_factory=list)

    def add(self, measure: str, values: dict[str, str], target: str, note: str = "") -> None:
        cells = (measure, *(values.get(t.label, "") for t in self.trees), target, note)
        self.rows.append(cells)
        print("  " + " | ".join(cells), flush=True)

    def markdown(self) -> list[str]:
        header = ["measure", *(t.label for t in self.trees), "target", "note"]
        return [f"| {' | '.join(header)} |", "|" + "---|" * len(header),
                *(f"| {' | '.join(row)} |" for row in self.rows)]


# ---------------------------------------------------------------- repositories


def settings_text(platforms: str | None = None) -> str:
    text = f"mirrors:\n  conda-forge: {FIXTURE.as_uri()}\n"
    return text + (f"platforms: {platforms}\n" if platforms else "")


def training_repo(tree: Tree, folder: Path, count: int) -> Path:
    """`count` copies of the 3-platform `training` lock (92 KB) that tree ships, all fresh, image by digest."""
    seed = folder / "environments" / "env0000"
    shutil.copytree(tree.path / "environments" / "training", seed)
    (folder / "envlock.yaml").write_text(settings_text(TRAINING_PLATFORMS))
    env_yml = seed / "env.yml"
    lines = [f"image: {DIGEST_IMAGE}" if line.startswith("image:") else line
             for line in env_yml.read_text().splitlines()]
    env_yml.write_text("\n".join(lines).replace("name: training", "name: env0000") + "\n")
    copy_environment(folder, count)
    # Each copy's lock rewritten by the tree's own code for its name and the new image (same packages,
    # that tree's hash format and header fields), as `envlock lock` of that tree would have written it.
    rewrite = textwrap.dedent("""\
        import dataclasses, sys
        from pathlib import Path
        from envlock.lockfile import read_lock, render_lock_files
        from envlock.repo import Repo
        from envlock.spec import load_environment
        repo = Repo(Path(sys.argv[1]))
        seed = read_lock("env0000", repo.environments_dir / "env0000")
        # Decided by the tree's own Lock: a module the tree lacks would be found in the installed
        # envlock (its editable finder answers after PYTHONPATH), and must not be mixed in.
        recorded = {field.name for field in dataclasses.fields(seed)}
        recordable_sources_sha256 = render_sha256 = None
        if "sources_sha256" in recorded:
            from envlock.sources import recordable_sources_sha256
        if "render_sha256" in recorded:
            from envlock.trust import render_sha256
        for index in range(int(sys.argv[2])):
            spec = load_environment(repo, f"env{index:04d}")
            lock = dataclasses.replace(seed, name=spec.name, image=spec.image, inputs_sha256=spec.inputs_sha256())
            if recordable_sources_sha256 is not None:
                lock = dataclasses.replace(lock, sources_sha256=recordable_sources_sha256(spec))
            if render_sha256 is not None:
                lock = dataclasses.replace(lock, render_sha256=render_sha256(spec, lock))
            for path, text in render_lock_files(lock, spec.folder)[1].items():
                path.write_text(text)
    """)
    subprocess.run([sys.executable, "-c", rewrite, str(folder), str(count)], env=tree.environment(), check=True,
                   cwd=NEUTRAL)
    check = tree.run(folder, "check")
    if check.returncode != 0:
        raise RuntimeError(f"{tree.label}: the generated repository does not pass check:\n{check.stdout[:2000]}")
    return folder


def copy_environment(folder: Path, count: int) -> None:
    seed = folder / "environments" / "env0000"
    for index in range(1, count):
        target = folder / "environments" / f"env{index:04d}"
        shutil.copytree(seed, target)
        (target / "env.yml").write_text((seed / "env.yml").read_text().replace("env0000", target.name))


SMALL_CONDA = "channels: [conda-forge]\ndependencies:\n  - python=3.10\n  - numpy<2\n  - pip:\n    - pyyaml<7\n"


def small_repo(tree: Tree, folder: Path, count: int = 1, platforms: str = "[linux-64, win-64]") -> Path:
    """`count` copies of one small conda environment with a pip part, locked by the tree."""
    seed = folder / "environments" / "env0000"
    seed.mkdir(parents=True)
    (folder / "envlock.yaml").write_text(settings_text(platforms))
    (seed / "env.yml").write_text(f"name: env0000\nimage: {DIGEST_IMAGE}\nconda_file: conda.yaml\n")
    (seed / "conda.yaml").write_text(SMALL_CONDA)
    locked = tree.run(folder, "lock")
    if locked.returncode != 0:
        raise RuntimeError(f"{tree.label}: lock failed:\n{locked.stderr[-2000:]}")
    copy_environment(folder, count)
    return folder


# ---------------------------------------------------------------- benches


def bench_startup(table: Table, trees: list[Tree], rounds: int) -> None:
    print("start-up", flush=True)
    python = [sys.executable, "-c", "pass"]
    variants: dict[str, Callable[[], Measured]] = {"python": lambda: measure(python)}
    for tree in trees:
        variants[tree.label] = lambda tree=tree: measure(  # type: ignore[misc]
            [sys.executable, "-m", "envlock", "--version"], env=tree.environment())
    results = interleaved(variants, rounds)
    table.add("`envlock --version`", {t.label: f"{results[t.label].median:.3f} s "
                                      f"({paired_ratio(results, t.label, 'python'):.1f}x python)" for t in trees},
              "", f"`python -c pass` {results['python'].median:.3f} s in the same rounds")


# check and the one-environment lock run in about a second, where a neighbour's load moves a
# ratio or a slope most: they take this many times the rounds
SHORT_ROUNDS_FACTOR = 3


def bench_check(table: Table, trees: list[Tree], work: Path, rounds: int) -> None:
    print("check on copies of the 3-platform training lock", flush=True)
    sizes = (1, 100, 1000)
    repos = {(t.label, n): training_repo(t, work / f"check-{i}-{n}", n) for i, t in enumerate(trees) for n in sizes}
    variants: dict[str, Callable[[], Measured]] = {}
    for tree in trees:
        for n in sizes:
            variants[f"{tree.label}/{n}"] = lambda t=tree, n=n: measure(  # type: ignore[misc]
                t.envlock(repos[(t.label, n)], "check"), env=t.environment())
    results = interleaved(variants, rounds)
    for n in sizes:
        table.add(f"`check`, {n} environment{'s' if n > 1 else ''}",
                  {t.label: f"{results[f'{t.label}/{n}'].median:.3f} s, {results[f'{t.label}/{n}'].peak_mib} MiB"
                   for t in trees}, "")
    slopes = {}
    for tree in trees:
        small, large = results[f"{tree.label}/100"], results[f"{tree.label}/1000"]
        wall = [(b - a) / 900 * 1000 for a, b in zip(small.seconds, large.seconds, strict=True)]
        cpu = [(b - a) / 900 * 1000 for a, b in zip(small.cpu, large.cpu, strict=True)]
        slopes[tree.label] = f"{statistics.median(wall):.2f} ms wall, {statistics.median(cpu):.2f} ms CPU"
    table.add("`check`, marginal cost per environment", slopes, "<= 0.3 ms",
              "slope between 100 and 1000 copies of the `training` lock (92 KB, 3 platforms), median of rounds")


def bench_lock(table: Table, trees: list[Tree], work: Path, rounds: int) -> None:
    print("lock one small conda environment (2 platforms, pip part) against rattler + uv called directly",
          flush=True)
    repos = {t.label: small_repo(t, work / f"lock-{i}") for i, t in enumerate(trees)}
    baseline_repo = repos[trees[-1].label]
    baseline = [sys.executable, str(BENCH / "baseline_lock.py"), str(baseline_repo), "env0000"]
    variants: dict[str, Callable[[], Measured]] = {
        "baseline": lambda: measure(baseline, env=trees[-1].environment())}
    for tree in trees:
        variants[tree.label] = lambda t=tree: measure(  # type: ignore[misc]
            t.envlock(repos[t.label], "lock"), env=t.environment())
    # A first lock, as of a new environment: no earlier lock to prefer and nothing to upgrade
    # (`--upgrade` would make uv revalidate its cached index pages, which the baseline does not).
    declared = {"env.yml", "conda.yaml"}

    def without_lock(name: str) -> None:
        if name in repos:
            folder = repos[name] / "environments" / "env0000"
            for path in folder.iterdir():
                if path.name not in declared:
                    shutil.rmtree(path) if path.is_dir() else path.unlink()

    results = interleaved(variants, rounds, before_each=without_lock)
    table.add("`lock`, one small conda environment, first lock",
              {t.label: f"{results[t.label].median:.2f} s, {results[t.label].peak_mib} MiB "
                        f"({paired_ratio(results, t.label, 'baseline'):.2f}x)" for t in trees},
              "<= 1.2x", f"baseline: py-rattler solves and uv calls, platforms in parallel, conda's Python packages "
                         f"as uv constraints: {results['baseline'].median:.2f} s, {results['baseline'].peak_mib} MiB")


def bench_relock(table: Table, trees: list[Tree], work: Path, rounds: int) -> None:
    print("relock of an unchanged repository against check", flush=True)
    repos = {}
    for index, tree in enumerate(trees):
        repo = work / f"examples-{index}"
        shutil.copytree(tree.path / "environments", repo / "environments")
        settings = (tree.path / "envlock.yaml").read_text()
        (repo / "envlock.yaml").write_text(settings.replace("tests/fixtures/conda-forge-2024-07", str(FIXTURE)))
        repos[tree.label] = repo
    variants: dict[str, Callable[[], Measured]] = {}
    for tree in trees:
        variants[f"{tree.label}/lock"] = lambda t=tree: measure(  # type: ignore[misc]
            t.envlock(repos[t.label], "lock"), env=t.environment())
        variants[f"{tree.label}/check"] = lambda t=tree: measure(  # type: ignore[misc]
            t.envlock(repos[t.label], "check"), env=t.environment())
    results = interleaved(variants, rounds)
    values = {}
    for tree in trees:
        statuses = json.loads(tree.run(repos[tree.label], "lock", "--json").stdout)
        solved = sum(1 for s in statuses if s["status"] != "unchanged")
        values[tree.label] = (f"{results[f'{tree.label}/lock'].median:.3f} s "
                              f"({paired_ratio(results, f'{tree.label}/lock', f'{tree.label}/check'):.2f}x check "
                              f"{results[f'{tree.label}/check'].median:.3f} s), {solved} solves")
    table.add("relock, unchanged repository (the 3 example environments)", values, "<= 1.2x check, 0 solves")


def bench_pip_parallelism(table: Table, trees: list[Tree], work: Path, rounds: int) -> None:
    print("lock 8 small environments whose pip part waits on PyPI: -j1 against the default", flush=True)
    tree = trees[-1]
    repo = small_repo(tree, work / "parallel", count=8, platforms="[linux-64]")
    conda = repo / "environments"

    changes = iter(range(1000))

    def touch(_: str) -> None:  # every environment stale again: its declaration changed
        change = next(changes)
        for folder in conda.iterdir():
            (folder / "conda.yaml").write_text(SMALL_CONDA.replace("pyyaml<7", f"pyyaml<{100 + change}"))

    variants: dict[str, Callable[[], Measured]] = {
        "-j1": lambda: measure(tree.envlock(repo, "lock", "-j", "1"), env=tree.environment()),
        "default": lambda: measure(tree.envlock(repo, "lock"), env=tree.environment()),
    }
    results = interleaved(variants, rounds, before_each=touch)
    table.add("`lock` of 8 stale environments (1 platform, pip part each): default `-j` against `-j1`",
              {tree.label: f"{results['default'].median:.2f} s against {results['-j1'].median:.2f} s "
                           f"({paired_ratio(results, 'default', '-j1'):.2f}x)"},
              "", "rattler solves and uv calls of several environments overlap")


def bench_register(table: Table, trees: list[Tree], work: Path, rounds: int) -> None:
    print("register 100 copies of the training lock in the AML emulator", flush=True)
    from tests.support.aml_emulator import AmlEmulator

    import_azure = [sys.executable, "-c", "import azure.ai.ml"]
    emulators = {t.label: AmlEmulator(work / f"aml-{i}").start() for i, t in enumerate(trees)}
    # Pages as large as the service's are unknown; 20 keeps history costs visible without a page per version.
    for emulator in emulators.values():
        emulator.state.page_size = 20
    # The realistic lock (3 platforms, 92 KB): what deciding "unchanged" costs when a lock is parsed.
    repos = {t.label: training_repo(t, work / f"register-{i}", 100) for i, t in enumerate(trees)}
    try:
        def register(tree: Tree) -> Callable[[], Measured]:
            emulator = emulators[tree.label]
            return lambda: measure(tree.envlock(repos[tree.label], "register"),
                                   env=tree.environment(emulator.client_environment()))

        def requests(tree: Tree, action: Callable[[], object]) -> int:
            emulator = emulators[tree.label]
            before = len(emulator.requests_matching())
            action()
            return len(emulator.requests_matching()) - before

        def reset(label: str) -> None:
            emulators[label].reset()
            emulators[label].state.page_size = 20

        created = interleaved({t.label: register(t) for t in trees}, rounds, before_each=reset)
        for tree in trees:
            reset(tree.label)
        created_requests = {t.label: requests(t, register(t)) for t in trees}
        # The target's import is measured in the same rounds, interleaved with the registers.
        unchanged = interleaved({**{t.label: register(t) for t in trees}, "import": lambda: measure(import_azure)},
                                rounds)
        import_time = unchanged["import"].median
        unchanged_requests = {t.label: requests(t, register(t)) for t in trees}
        table.add("`register` 100, all created",
                  {t.label: f"{created[t.label].median:.2f} s, {created_requests[t.label]} requests"
                   for t in trees}, "bounded concurrency", "every request counted, cloud metadata included")
        table.add("`register` 100, all unchanged",
                  {t.label: f"{unchanged[t.label].median:.2f} s, {unchanged_requests[t.label]} requests"
                   for t in trees}, f"<= {import_time + 1:.2f} s",
                  f"target: `import azure.ai.ml` ({import_time:.2f} s, same run) + 1 s")
        # History: 20 older versions per environment (other lock hashes), then registered unchanged.
        for tree in trees:
            reset(tree.label)
            seed_history(emulators[tree.label], [f"env{i:04d}" for i in range(100)], 20)
            register(tree)()
        deep = interleaved({t.label: register(t) for t in trees}, rounds)
        deep_requests = {t.label: requests(t, register(t)) for t in trees}
        table.add("`register` 100 with 21 versions each, all unchanged",
                  {t.label: f"{deep[t.label].median:.2f} s, {deep_requests[t.label]} requests" for t in trees},
                  "requests independent of history", "emulator pages of 20 versions")
    finally:
        for emulator in emulators.values():
            emulator.stop()


def seed_history(emulator: object, names: list[str], count: int) -> None:
    """Versions 1..count of each name, made earlier from other locks, straight into the emulator."""
    from tests.support.aml_emulator import WORKSPACE_SCOPE, Version

    state = emulator.state  # type: ignore[attr-defined]
    for name in names:
        for number in range(1, count + 1):
            properties = {"image": DIGEST_IMAGE, "condaFile": f"name: {name}\n", "isArchived": False,
                          "isAnonymous": False, "tags": {"envlock.lock-sha256": f"{number:064x}"}, "properties": {}}
            created = f"2020-01-01T00:00:{number:02d}.000000Z"
            state.versions[(WORKSPACE_SCOPE, name, str(number))] = Version(WORKSPACE_SCOPE, name, str(number),
                                                                          properties, created)


def external_rows(table: Table, trees: list[Tree], work: Path) -> None:
    """Rows from the other measuring scripts in bench/ (install size, preflight, inventory, ...).

    A script that defines `bench_rows(work) -> [(measure, value, target, note), ...]` gives its
    rows; any other is run as a program and its last output line becomes the row's value.
    """
    for path in sorted(BENCH.glob("*.py")):
        if path.name in ("run_bench.py", "baseline_lock.py"):
            continue
        print(path.name, flush=True)
        spec = importlib.util.spec_from_file_location(path.stem, path)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules[path.stem] = module  # dataclasses look their module up while the class is made
        spec.loader.exec_module(module)
        rows = getattr(module, "bench_rows", None)
        # bench_install (install_size.py), bench_audit (audit_bench.py), bench_preflight (preflight_bench.py)
        install = next((getattr(module, name) for name in ("bench_install", "bench_audit", "bench_preflight")
                        if hasattr(module, name)), None)
        if install is not None:
            def row(measure: str, value: str, baseline: str, ratio: float | None, note: str) -> None:
                ratio_text = f" ({ratio:.2f}x)" if ratio is not None else ""
                table.add(measure, {trees[-1].label: value}, "", f"baseline {baseline}{ratio_text}; {note}")

            install(work / path.stem, row)
            continue
        if rows is not None:
            for measure_name, value, target, note in rows(work / path.stem):
                table.add(measure_name, {trees[-1].label: value}, target, note)
            continue
        title = (module.__doc__ or path.stem).strip().splitlines()[0].rstrip(".")
        try:
            result = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, timeout=300,
                                    cwd=NEUTRAL, env=trees[-1].environment())
        except subprocess.TimeoutExpired:
            table.add(title, {trees[-1].label: "timed out after 300 s"}, "", f"`bench/{path.name}`")
            continue
        lines = (result.stdout.strip() or result.stderr.strip() or "no output").splitlines()
        value = lines[-1] if result.returncode == 0 else f"failed (exit {result.returncode}): {lines[-1][:200]}"
        table.add(title, {trees[-1].label: value.replace("|", "/")}, "", f"`bench/{path.name}`")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", metavar="REV", help="also measure envlock at this git revision")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds per comparison")
    parser.add_argument("--only", nargs="*", help="run only these benches (startup, check, lock, relock, "
                        "parallel, register, external)")
    options = parser.parse_args()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="envlock-bench-") as temp:
        work = Path(temp)
        trees = [Tree("after (this tree)" if options.against else "envlock", ROOT)]
        if options.against:
            trees.insert(0, extract_revision(options.against, work / "before"))
        for tree in trees:
            compile_bytecode(tree)
        table = Table(trees)
        benches: dict[str, Callable[[], None]] = {
            "startup": lambda: bench_startup(table, trees, options.rounds + 2),
            "check": lambda: bench_check(table, trees, work, options.rounds * SHORT_ROUNDS_FACTOR),
            "lock": lambda: bench_lock(table, trees, work, options.rounds * SHORT_ROUNDS_FACTOR),
            "relock": lambda: bench_relock(table, trees, work, options.rounds),
            "parallel": lambda: bench_pip_parallelism(table, trees, work, max(3, options.rounds - 2)),
            "register": lambda: bench_register(table, trees, work, max(3, options.rounds - 2)),
            "external": lambda: external_rows(table, trees, work),
        }
        for name, bench in benches.items():
            if not options.only or name in options.only:
                bench()
    NEUTRAL.rmdir()
    minutes = (time.perf_counter() - started) / 60
    command = "python bench/run_bench.py" + (f" --against {options.against}" if options.against else "") + \
        (f" --rounds {options.rounds}" if options.rounds != 5 else "")
    lines = [
        "# envlock benchmarks",
        "",
        f"`{command}` (what `make bench` runs), {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, "
        f"{minutes:.1f} minutes: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}.",
        "",
        f"Each comparison is {options.rounds} interleaved rounds ({options.rounds * SHORT_ROUNDS_FACTOR} for `check` "
        "and the one-environment `lock`, which run in about a second; every variant once per round, rotating "
        "order); "
        "times are medians, ratios the median of per-round ratios, memory the peak resident set of the process "
        "and its children. Absolute times depend on the machine and its load; ratios within a row are what "
        "to compare.",
        "",
        *table.markdown(),
        "",
    ]
    (BENCH / "results.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
