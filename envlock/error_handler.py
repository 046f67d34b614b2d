"""Turns every exception into one message and an exit code (after pre-commit's error_handler).

envlock's own errors (EnvlockError) are one line and their exit code; anything else is a bug:
one line on stderr, exit 3, and the traceback in .envlock/envlock.log (a temporary folder when
there is no repository or it cannot be written).
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from envlock import __version__
from envlock.errors import EXIT_UNEXPECTED, EnvlockError
from envlock.repo import find_repo
from envlock.secrets import mask

STATE_DIR = ".envlock"
LOG_NAME = "envlock.log"


def report_envlock_error(error: EnvlockError) -> int:
    click.echo(f"envlock: error: {mask(error.message)}", err=True)
    return error.exit_code


def report_unexpected(error: BaseException, directory: Path | None, verbose: bool) -> int:
    """One line on stderr, the traceback in a log file; the exit code for an unexpected error."""
    import traceback  # here, not at the top: every command would pay for what only a crash uses

    details = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    log = _write_log(directory, details)
    summary = mask(f"{type(error).__name__}: {error}".splitlines()[0][:200])
    where = f"the traceback is in {log}" if log else "no log could be written"
    click.echo(f"envlock: unexpected error ({summary}); {where}; please report it", err=True)
    if verbose:
        click.echo(details, err=True, nl=False)
    return EXIT_UNEXPECTED


def _write_log(directory: Path | None, details: str) -> Path | None:
    import platform
    import tempfile

    from envlock.fsutil import atomic_write

    command = mask(" ".join(sys.argv))  # credentials on the command line never reach the log
    text = (
        f"envlock {__version__}, Python {platform.python_version()} on {platform.platform()}\n"
        f"command: {command}\n\n{mask(details)}"
    )
    repo_root = _repo_root(directory)
    if repo_root is not None:
        path = repo_root / STATE_DIR / LOG_NAME
        try:  # through the one safe writer: never through a link leading out of the repository
            atomic_write(path, text, root=repo_root)
            return path
        except (OSError, EnvlockError):
            pass
    try:  # a fresh private folder: nothing another user made in /tmp is followed
        path = Path(tempfile.mkdtemp(prefix="envlock-")) / LOG_NAME
        path.write_text(text, encoding="utf-8")
        return path
    except OSError:
        return None


def _repo_root(directory: Path | None) -> Path | None:
    """The repository being worked on, found as commands find it."""
    try:
        return find_repo(directory).root
    except EnvlockError:
        return None
