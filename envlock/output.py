"""Human output (aligned tables) and machine output (JSON) for the commands."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import click

from envlock.secrets import mask

if TYPE_CHECKING:
    from envlock.findings import Finding


def echo_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    cells = [[str(h) for h in headers]] + [[("" if c is None else str(c)) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for index, row in enumerate(cells):
        click.echo(mask("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip()))
        if index == 0:
            click.echo("  ".join("-" * w for w in widths))


def echo_findings(findings: Sequence[Finding], as_json: bool) -> tuple[int, int]:
    """The one findings printer (a line each, or a JSON list); returns (errors, warnings)."""
    if as_json:
        echo_json(list(findings))
    else:
        for finding in findings:
            click.echo(mask(finding.format()))
    errors = sum(1 for finding in findings if finding.severity == "error")
    return errors, len(findings) - errors


def echo_json(value: Any) -> None:
    """JSON for CI; dataclasses (findings, changes, results) are written as their fields."""
    click.echo(mask(json.dumps(value, indent=2, sort_keys=True, default=_as_json)))


def _as_json(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def verbosity() -> int:
    """-1 under -q, 0 by default, 1+ under -v (read from the running command's options)."""
    from envlock.options import invocation

    return invocation().verbosity


def echo_status(text: str) -> None:
    """A summary or hint line for people, on stderr; silent under -q."""
    if verbosity() >= 0:
        click.echo(text, err=True)
