"""Exception types users see; cli.py turns them into one message and an exit code.

The exit codes are one table, held by every command (README "Exit codes", `envlock --help`).
"""

from __future__ import annotations

from pathlib import Path

EXIT_OK = 0
EXIT_FINDINGS = 1  # the gate found something, or the work asked for could not be done (a failed solve)
EXIT_BAD_INPUT = 2  # bad input or usage: a declaration, an option, a name that does not exist
EXIT_UNEXPECTED = 3  # a bug in envlock: one line on stderr, the traceback in a log file
EXIT_UNREACHABLE = 4  # a service (registry, index, image registry) could not be reached

EXIT_CODES: tuple[tuple[int, str], ...] = (
    (EXIT_OK, "success: nothing found, nothing failed"),
    (EXIT_FINDINGS, "findings (check, preflight, verify, diff, outdated, lock --check) or a failed solve"),
    (EXIT_BAD_INPUT, "bad input or usage: a declaration, an option, an unknown name or package"),
    (EXIT_UNEXPECTED, "unexpected error (a bug): the traceback is in .envlock/envlock.log"),
    (EXIT_UNREACHABLE, "a service could not be reached (registry, package index, image registry)"),
)


def indent(text: str) -> str:
    """A tool's own output, indented under envlock's one-line message."""
    return "\n".join("  " + line for line in text.strip().splitlines())


class EnvlockError(Exception):
    """An error with a message meant for the user and the exit code to leave with."""

    exit_code = EXIT_FINDINGS

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class DeclarationError(EnvlockError):
    """A bad environment declaration or settings file: names file, line, field and fix."""

    exit_code = EXIT_BAD_INPUT

    def __init__(
        self,
        path: Path | str,
        problem: str,
        *,
        field: str | None = None,
        line: int | None = None,
        fix: str | None = None,
    ) -> None:
        location = str(path) + (f":{line}" if line else "")
        where = f" (field '{field}')" if field else ""
        text = f"{location}{where}: {problem}"
        if fix:
            text += f"\n  fix: {fix}"
        super().__init__(text)
        self.path = str(path)
        self.field = field
        self.line = line
        self.problem = problem
        self.fix = fix


class SolveError(EnvlockError):
    """A solver could not produce a lock (unsolvable spec, unknown package, unreachable index)."""


class ImageError(EnvlockError):
    """An image could not be read (unreachable, unknown tag, refused credentials, malformed manifest)."""


class UsageError(EnvlockError):
    """Bad input on the command line: an unknown name, package or option value."""

    exit_code = EXIT_BAD_INPUT


class ServiceUnreachable(EnvlockError):
    """A service did not answer (network down, DNS, timeout, 5xx after retries): exit 4, not a finding."""

    exit_code = EXIT_UNREACHABLE


class MissingExtra(UsageError):
    """A command needs an optional dependency group (`pip install 'envlock[lock]'`) that is not installed."""
