"""Options shared by commands: the default parallelism of lock."""

from __future__ import annotations

import subprocess
import sys

import pytest

from envlock import options


@pytest.mark.parametrize(("cpus", "jobs"), [(1, 8), (2, 8), (3, 12), (6, 24), (8, 32), (64, 32)])
def test_default_jobs_is_four_per_cpu_between_8_and_32(monkeypatch: pytest.MonkeyPatch, cpus: int,
                                                       jobs: int) -> None:
    monkeypatch.setattr(options, "usable_cpus", lambda: cpus)
    assert options.default_jobs() == jobs


def test_usable_cpus_is_the_affinity_not_the_host_count() -> None:
    code = "import os; os.sched_setaffinity(0, {min(os.sched_getaffinity(0))}); " \
           "from envlock.options import usable_cpus; print(usable_cpus())"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "1"
