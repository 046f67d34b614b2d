"""The `envlock` command line: thin click commands that parse options and call envlock.commands.

Heavy modules (solvers, azure-ai-ml) are imported inside the commands that need them so that
`envlock --version` and `envlock check` start fast.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from envlock import __version__
from envlock.errors import EnvlockError
from envlock.output import echo_json, echo_table
from envlock.repo import Repo, find_repo


class EnvlockGroup(click.Group):
    """Turns EnvlockError into one message on stderr and its exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except EnvlockError as exc:
            click.echo(f"envlock: error: {exc.message}", err=True)
            sys.exit(exc.exit_code)


@click.group(cls=EnvlockGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="envlock")
@click.option("-C", "directory", type=click.Path(file_okay=False, path_type=Path),
              help="Run as if started in DIR (the repository with environments/).")
@click.pass_context
def cli(ctx: click.Context, directory: Path | None) -> None:
    """Versioned, hashed, immutable Azure ML environments kept in source control."""
    ctx.obj = directory


def _repo(ctx: click.Context) -> Repo:
    directory = ctx.obj
    if directory is not None and not Path(directory).is_dir():
        raise click.BadParameter(f"{directory} is not a directory", param_hint="-C")
    return find_repo(directory)


@cli.command()
@click.argument("names", nargs=-1)
@click.option("-P", "--update", "update", multiple=True, metavar="PKG",
              help="Relock PKG to its newest allowed version and keep everything else pinned.")
@click.option("-U", "--upgrade", is_flag=True, help="Relock every package, ignoring existing pins.")
@click.option("-j", "--jobs", default=4, show_default=True, help="Environments locked in parallel.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_context
def lock(ctx: click.Context, names: tuple[str, ...], update: tuple[str, ...], upgrade: bool, jobs: int,
         as_json: bool) -> None:
    """Resolve declarations to hashed lockfiles (only stale ones are solved)."""
    from envlock.commands.lock import LockFailed, run_lock

    repo = _repo(ctx)
    try:
        outcomes = run_lock(repo, repo.select(names), update=update, upgrade_all=upgrade, jobs=jobs,
                            show_progress=not as_json)
    except LockFailed as exc:
        if as_json:
            echo_json([o.__dict__ for o in exc.outcomes])
        raise
    if as_json:
        echo_json([o.__dict__ for o in outcomes])
        return
    echo_table(["environment", "status", "packages", "seconds", "lock sha256"], [
        (o.name, o.status, f"{o.conda_packages} conda, {o.pip_packages} pip" if o.status == "locked" else "",
         f"{o.seconds:.1f}" if o.status == "locked" else "", (o.lock_sha256 or "")[:12])
        for o in outcomes
    ])


@cli.command()
@click.argument("names", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="Print the build manifest entries as JSON.")
@click.pass_context
def build(ctx: click.Context, names: tuple[str, ...], as_json: bool) -> None:
    """Lock what is stale, then render what AML receives into build/<name>/."""
    from envlock.commands.build import run_build

    repo = _repo(ctx)
    result = run_build(repo, repo.select(names), show_progress=not as_json)
    status = {o.name: o.status for o in result.outcomes}
    if as_json:
        echo_json({r.name: {"lock_sha256": r.lock_sha256, "image": r.image, "status": status[r.name],
                            "files": sorted(name for name, _ in r.files)} for r in result.rendered})
        return
    echo_table(["environment", "lock", "lock sha256", "rendered"], [
        (r.name, status[r.name], r.lock_sha256[:12], ", ".join(f"build/{r.name}/{n}" for n, _ in r.files))
        for r in result.rendered
    ])
    click.echo(f"manifest: {repo.build_dir.relative_to(repo.root) / 'manifest.json'}")


@cli.command()
@click.argument("names", nargs=-1)
@click.option("--strict", is_flag=True, help="Treat warnings (image by tag) as errors.")
@click.option("--json", "as_json", is_flag=True, help="Print the findings as a JSON list.")
@click.pass_context
def check(ctx: click.Context, names: tuple[str, ...], strict: bool, as_json: bool) -> None:
    """Offline gate: every lock exists, is fresh, unedited, and the rules hold."""
    from envlock.commands.check import run_check

    repo = _repo(ctx)
    selected = repo.select(names)
    findings = run_check(repo, selected, strict=strict)
    if as_json:
        echo_json([f.as_dict() for f in findings])
    else:
        for finding in findings:
            click.echo(finding.format())
        errors = sum(1 for f in findings if f.severity == "error")
        warnings = len(findings) - errors
        click.echo(f"checked {len(selected)} environment(s): {errors} error(s), {warnings} warning(s)",
                   err=True)
    if any(f.kind == "invalid-declaration" for f in findings):
        sys.exit(2)
    if any(f.severity == "error" for f in findings):
        sys.exit(1)


def main() -> None:
    cli(prog_name="envlock")
