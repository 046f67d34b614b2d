"""Progress for long work, on stderr, that never repeats the final table.

On a terminal it is one line rewritten in place and erased at the end; in a log (CI) it is
silent unless -v asks for one line per step. Quiet under -q and when output is JSON.
"""

from __future__ import annotations

import sys
import threading
import time

from envlock.output import verbosity
from envlock.secrets import mask


class Progress:
    def __init__(self, total: int, enabled: bool = True) -> None:
        self.total = total
        self.done = 0
        level = verbosity()
        self.enabled = enabled and level >= 0
        self.verbose = self.enabled and level > 0
        self.transient = self.enabled and not self.verbose and sys.stderr.isatty()
        self._lock = threading.Lock()
        self._started: dict[str, float] = {}
        self._shown = False

    def start(self, name: str, what: str) -> None:
        self._started[name] = time.perf_counter()
        self._write(f"[{self.done}/{self.total}] {what} {name} ...")

    def finish(self, name: str, outcome: str, seconds: float | None = None) -> None:
        """`seconds`: how long it took, when it was not started here (work done elsewhere)."""
        elapsed = seconds if seconds is not None else time.perf_counter() - self._started.get(name, time.perf_counter())
        with self._lock:
            self.done += 1
            self._write(f"[{self.done}/{self.total}] {name}: {outcome} ({elapsed:.1f} s)")
            if self.done == self.total:
                self.close()

    def close(self) -> None:
        """Erase the transient line so the table that follows stands alone."""
        if self.transient and self._shown:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()
            self._shown = False

    def _write(self, line: str) -> None:
        if self.verbose:
            sys.stderr.write(mask(line) + "\n")
        elif self.transient:
            sys.stderr.write("\r\033[K" + mask(line))
            self._shown = True
        else:
            return
        sys.stderr.flush()
