"""Progress lines on stderr for long work; quiet when output is JSON."""

from __future__ import annotations

import sys
import threading
import time


class Progress:
    def __init__(self, total: int, enabled: bool = True) -> None:
        self.total = total
        self.done = 0
        self.enabled = enabled
        self._lock = threading.Lock()
        self._started: dict[str, float] = {}

    def start(self, name: str, what: str) -> None:
        self._started[name] = time.perf_counter()
        if self.enabled and sys.stderr.isatty():
            self._write(f"[{self.done}/{self.total}] {what} {name} ...")

    def finish(self, name: str, outcome: str) -> None:
        elapsed = time.perf_counter() - self._started.get(name, time.perf_counter())
        with self._lock:
            self.done += 1
            if self.enabled:
                self._write(f"[{self.done}/{self.total}] {name}: {outcome} ({elapsed:.1f} s)")

    def _write(self, line: str) -> None:
        sys.stderr.write(line + "\n")
        sys.stderr.flush()
