"""Every write envlock makes: atomic, inside the repository, never through a link that leaves it.

A reader sees the old file or the new one, never half of one. A path whose real location
(after following symlinks) is outside the repository is refused with the link named, so a
`build/<name>` linked to another folder can never make envlock write or delete there. New
files get the usual 0644 (0666 less the umask), replaced files keep their mode, and a symlinked
file inside the repository stays a link (its target is written).
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path

from envlock.errors import DeclarationError, UsageError

TEMP_SUFFIX = ".envlock-tmp"


def _read_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


# Read once: os.umask can only be read by setting it, which is not safe while threads write.
NEW_FILE_MODE = 0o666 & ~_read_umask()


class UnsafePathError(UsageError):
    """A write or delete would leave the repository (through a symlink or an outside path)."""


class CannotWrite(UsageError):
    """The file system refused a write (a folder in the file's place, no space, read-only, permissions)."""


def folder_entries(folder: Path | str) -> dict[str, os.DirEntry[str]] | None:
    """The entries of `folder` by name from one read of it (each knows its kind without a stat of
    its own), for callers that look at the same folder several times; None when it cannot be read."""
    try:
        with os.scandir(folder) as scan:
            return {entry.name: entry for entry in scan}
    except OSError:
        return None


def resolve(path: Path) -> Path:
    """`path.resolve()`, with a symlink loop (RuntimeError before Python 3.13, OSError after) named."""
    try:
        return path.resolve()
    except (RuntimeError, OSError) as exc:
        raise DeclarationError(path, f"cannot be followed: {getattr(exc, 'strerror', None) or exc}",
                               fix="replace the link (a link that leads back to itself?) with the file it "
                                   "should name") from None


def _is_within(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def _escaping_link(root: Path, path: Path) -> Path | None:
    """The first component of `path` (below `root`) that is a symlink resolving outside `root`."""
    try:
        relative = path.relative_to(root)
    except ValueError:
        return None
    current = root
    for part in relative.parts:
        current = current / part
        if current.is_symlink() and not _is_within(resolve(current), root):
            return current
    return None


@functools.lru_cache(maxsize=16)
def real_root(root: Path) -> Path:
    """The repository's real path, resolved once per process (check asks for every environment)."""
    return root.resolve()


def safe_path(root: Path, path: Path) -> Path:
    """The real path to write or delete for `path`, which must stay inside `root`.

    Raises UnsafePathError (exit 2) naming the link when a symlink leads outside the repository.
    """
    resolved_root = real_root(root)
    absolute = Path(os.path.abspath(path))
    real = resolve(absolute)
    if _is_within(real, resolved_root):
        return real
    unresolved_root = Path(os.path.abspath(root))
    link = _escaping_link(unresolved_root, absolute) or _escaping_link(resolved_root, absolute)
    if link is not None:
        shown = link.relative_to(unresolved_root) if _is_within(link, unresolved_root) else link
        raise UnsafePathError(
            f"{shown} is a symlink to {os.readlink(link)}, outside the repository; envlock does not "
            f"write through it. fix: replace the link with a real folder or file inside the repository"
        )
    raise UnsafePathError(f"{absolute} is outside the repository {resolved_root}; envlock writes only inside it")


def atomic_write(path: Path, text: str, *, root: Path | None) -> None:
    """Write `text` to `path` through a temporary file in the same folder and a rename."""
    atomic_write_many({path: text}, root=root)


def atomic_write_many(files: Mapping[Path, str | bytes], *, root: Path | None) -> None:
    """Stage every file first, then rename them all, in the given order; on failure nothing is replaced.

    `root` is the repository every path must stay inside (None only for a path the user named on
    the command line, such as `--output FILE`). Put the file readers trust last (the lock's main
    file): an interrupted commit then leaves it old, and the hash it records shows the mix.
    """
    targets = {path: (safe_path(root, path) if root is not None else Path(os.path.abspath(path)))
               for path in files}
    staged: list[tuple[str, Path]] = []
    target = next(iter(targets.values()), Path())
    try:
        for path, text in files.items():
            target = targets[path]
            target.parent.mkdir(parents=True, exist_ok=True)  # inside root: checked with the target
            remove_stale_temp_files(target.parent)
            fd, temp = tempfile.mkstemp(prefix=f".{target.name}.{os.getpid()}.", suffix=TEMP_SUFFIX,
                                        dir=target.parent)
            staged.append((temp, target))
            with os.fdopen(fd, "wb") as handle:  # text as UTF-8 with LF; bytes (a job file pin edits) as given
                os.fchmod(handle.fileno(), _mode_for(target))
                handle.write(text if isinstance(text, bytes) else text.encode("utf-8"))
                handle.flush()
                os.fsync(handle.fileno())
        for temp, target in staged:
            os.replace(temp, target)
    except OSError as exc:  # raised for the target being staged or renamed
        raise CannotWrite(_write_problem(target, exc)) from None
    finally:
        for temp, _ in staged:
            if os.path.exists(temp):
                os.unlink(temp)


def _write_problem(target: Path, error: OSError) -> str:
    reason = error.strerror or str(error)
    if isinstance(error, IsADirectoryError) or target.is_dir():
        return f"cannot write {target}: it is a folder\n  fix: move the folder away; envlock writes a file there"
    fixes = {"No space left on device": "free disk space, then run this again",
             "Read-only file system": "run envlock where the repository can be written",
             "Permission denied": "check the permissions of the file and its folder"}
    return f"cannot write {target}: {reason}\n  fix: {fixes.get(reason, 'check the file and its folder')}"


def _mode_for(target: Path) -> int:
    try:
        return target.stat().st_mode & 0o7777
    except FileNotFoundError:
        return NEW_FILE_MODE


def make_dirs(root: Path, folder: Path) -> Path:
    """Create `folder` (and parents) inside `root`; refuses a folder reached through an outside link."""
    real = safe_path(root, folder)
    real.mkdir(parents=True, exist_ok=True)
    return real


def remove(root: Path, path: Path) -> None:
    """Delete a file or folder inside `root`. A symlink is removed itself, never what it points to."""
    absolute = Path(os.path.abspath(path))
    if absolute.is_symlink():
        safe_path(root, absolute.parent)
        absolute.unlink()
        return
    real = safe_path(root, absolute)
    if real.is_dir():
        shutil.rmtree(real)
    elif real.exists():
        real.unlink()


def remove_stale_temp_files(folder: Path) -> None:
    """Temp files left by an envlock process that was killed (its pid no longer runs)."""
    try:
        entries = list(folder.iterdir())
    except OSError:
        return
    for entry in entries:
        if not entry.name.endswith(TEMP_SUFFIX) or not entry.name.startswith("."):
            continue
        parts = entry.name.rsplit(".", 3)
        pid = parts[1] if len(parts) == 4 else ""
        if pid.isdigit() and _pid_alive(int(pid)):
            continue
        with contextlib.suppress(OSError):
            entry.unlink()


def remove_stale_temp_dirs(prefix: str) -> None:
    """Folders `<tmp>/<prefix><pid>-*` of envlock processes that no longer run (killed mid-solve)."""
    base = Path(tempfile.gettempdir())
    try:
        entries = list(base.glob(f"{prefix}*"))
    except OSError:
        return
    for entry in entries:
        pid = entry.name[len(prefix):].split("-", 1)[0]
        if pid.isdigit() and not _pid_alive(int(pid)) and entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
