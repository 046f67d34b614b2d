"""Helper processes die with envlock, and what a killed envlock left in the temp folder goes next run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from envlock.fsutil import remove_stale_temp_dirs

PARENT = """
import sys
from envlock.processes import run_child
print(flush=True)
run_child([sys.executable, "-c", "import os, time; print(os.getpid(), flush=True); time.sleep(120)"])
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/stat")
    return not (status.exists() and status.read_text().split(")")[-1].split()[0] == "Z")


def test_a_child_is_killed_when_envlock_is_killed() -> None:
    parent = subprocess.Popen([sys.executable, "-c", PARENT], stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    parent.stdout.readline()
    child = int(parent.stdout.readline())
    assert _alive(child)
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 30  # waiting for the kernel to deliver the signal, not timing envlock
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child)


def test_temp_folders_of_dead_processes_are_removed() -> None:
    dead = Path(tempfile.mkdtemp(prefix="envlock-pip-999999999-"))
    mine = Path(tempfile.mkdtemp(prefix=f"envlock-pip-{os.getpid()}-"))
    (dead / "requirements.in").write_text("six\n")
    try:
        remove_stale_temp_dirs("envlock-pip-")
        assert not dead.exists() and mine.exists()
    finally:
        mine.rmdir()
