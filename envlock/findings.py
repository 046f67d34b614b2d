"""A finding a gate reports (check, preflight): what, where, how bad, and the fix."""

from __future__ import annotations

from dataclasses import dataclass

from envlock.secrets import mask


@dataclass(frozen=True)
class Finding:
    """One problem `check` or `preflight` reports, with where it is and how to fix it."""

    environment: str
    kind: str
    severity: str  # "error" or "warning"
    file: str
    message: str
    fix: str
    line: int | None = None
    field: str | None = None  # the declaration field at fault, when there is one


    def format(self) -> str:
        where = self.file + (f":{self.line}" if self.line else "") + (f" (field '{self.field}')" if self.field else "")
        return mask(f"{self.severity}: {where}: {self.environment}: {self.message} (fix: {self.fix})")
