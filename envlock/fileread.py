"""Reading a file the way envlock reads every user file: one descriptor, bounded, never blocking.

Plain os.read on one descriptor: `check` reads a lock and the declaration files of every
environment, and a buffered file object costs more than the read itself. O_NONBLOCK: a pipe
named like a declaration must not wait forever for a writer. Standard library only (discovery
uses it on the command line's start-up path).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path


def read_regular(path: Path | str, most: int) -> tuple[os.stat_result, bytes]:
    """The file's status and at most `most` of its bytes; b"" when it is not a regular file (a
    folder, a pipe, a device that never ends). OSError when it cannot be opened or read."""
    descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        status = os.fstat(descriptor)
        if not stat.S_ISREG(status.st_mode):
            return status, b""
        return status, _read_up_to(descriptor, status.st_size, most)
    finally:
        os.close(descriptor)


def _read_up_to(descriptor: int, size: int, most: int) -> bytes:
    """At most `most` bytes to the end of the file. The size is a hint (the file may grow); asking
    for more than it would allocate that much for every small file."""
    chunks = []
    total = 0
    while total < most:
        wanted = size + 1 - total if size + 1 > total else 64 * 1024  # the size, then whatever was added
        chunk = os.read(descriptor, min(most - total, wanted))
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)
