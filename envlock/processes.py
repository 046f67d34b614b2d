"""Child processes (uv) that die with envlock: a SIGKILL of envlock must not leave solvers running."""

from __future__ import annotations

import ctypes
import signal
import subprocess
import sys
from collections.abc import Callable
from typing import Any

PR_SET_PDEATHSIG = 1


def _death_signal_setter() -> Callable[[], None] | None:
    """A function for the child, between fork and exec, asking Linux to SIGKILL it when envlock dies.

    Resolved before any fork: the child only makes one foreign call (no import, no allocation).
    """
    if not sys.platform.startswith("linux"):
        return None
    try:
        # the process's own symbols, libc's among them: find_library("c") would run `ldconfig -p`
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    prctl.restype = ctypes.c_int
    kill = int(signal.SIGKILL)

    def set_death_signal() -> None:
        prctl(PR_SET_PDEATHSIG, kill, 0, 0, 0)

    return set_death_signal


_SET_DEATH_SIGNAL = _death_signal_setter()


def run_child(command: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """subprocess.run for a helper process that must not outlive envlock (killed with it on Linux)."""
    return subprocess.run(command, preexec_fn=_SET_DEATH_SIGNAL, **kwargs)  # noqa: PLW1509
