"""The preflight row of `make bench`: `envlock preflight --offline` over a 1,000-file tree of job YAML.

The tree repeats the real-shaped corpus in tests/corpus (azureml-examples files and the hand-made
variants: templates, multi-document, Latin-1, BOM, CRLF, anchors, schedules, component files), so
every kind of file, skipped ones included, is in the measure. The baseline parses the same files
with PyYAML's libyaml loader and nothing else: the floor for reading them.
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "corpus"
ENVLOCK = [sys.executable, "-m", "envlock"]
PARSE_ALL = ("import sys, pathlib, yaml\n"
             "for path in sorted(pathlib.Path(sys.argv[1]).rglob('*.y*ml')):\n"
             "    try:\n"
             "        list(yaml.load_all(path.read_bytes(), Loader=yaml.CSafeLoader))\n"
             "    except Exception:\n"
             "        pass\n")


def job_tree(folder: Path, count: int) -> int:
    """At least `count` YAML files: copies of the corpus, each in its own folder (relative refs still resolve)."""
    per_copy = sum(1 for _ in CORPUS.rglob("*.y*ml"))
    copies = -(-count // per_copy)
    for index in range(copies):
        shutil.copytree(CORPUS, folder / "jobs" / f"copy{index:03d}")
    return copies * per_copy


def median_seconds(runs: int, command: list[str]) -> float:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def bench_preflight(work: Path, row: Callable[..., None]) -> None:
    print("envlock preflight --offline, 1,000 job files", flush=True)
    repo = work / "preflight"
    files = job_tree(repo, 1000)
    baseline = median_seconds(3, [sys.executable, "-c", PARSE_ALL, str(repo)])
    seconds = median_seconds(3, [*ENVLOCK, "-C", str(repo), "preflight", "--offline"])
    row(f"preflight --offline, {files} YAML files", f"{seconds:.2f} s",
        f"libyaml parse only {baseline:.2f} s", seconds / baseline,
        f"{1000 * seconds / files:.2f} ms per file, corpus copies incl. skipped files")
