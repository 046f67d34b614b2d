"""Exception types users see; cli.py turns them into one message and an exit code."""

from __future__ import annotations

from pathlib import Path


def indent(text: str) -> str:
    """A tool's own output, indented under envlock's one-line message."""
    return "\n".join("  " + line for line in text.strip().splitlines())


class EnvlockError(Exception):
    """An error with a message meant for the user and the exit code to leave with."""

    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class DeclarationError(EnvlockError):
    """A bad environment declaration or settings file: names file, line, field and fix."""

    exit_code = 2

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
    exit_code = 2
