"""The `envlock` command line: thin click commands that parse options and call envlock.commands.

Options are defined once in envlock.options; errors become messages and exit codes in one place
(envlock.error_handler). Heavy modules (solvers, azure-ai-ml) are imported inside the commands
that need them so that `envlock --version` and `envlock check` start fast.
"""

from __future__ import annotations

import atexit
import os
import sys
from pathlib import Path
from typing import Any

import click

from envlock import __version__
from envlock.error_handler import report_envlock_error, report_unexpected
from envlock.errors import EXIT_BAD_INPUT, EXIT_CODES, EXIT_FINDINGS, EnvlockError, UsageError
from envlock.extras import require_extra
from envlock.options import (
    as_name_option,
    dry_run_option,
    fail_on_option,
    force_option,
    from_file_option,
    global_options,
    invocation,
    jobs_option,
    json_option,
    names_argument,
    offline_option,
    output_file_option,
    paths_argument,
    platform_option,
    registry_option,
    strict_option,
    upgrade_option,
    upgrade_package_option,
)
from envlock.output import echo_findings, echo_json, echo_status, echo_table
from envlock.repo import Repo, find_repo

EXIT_CODE_HELP = "\b\nExit codes:\n" + "\n".join(f"  {code}  {meaning}" for code, meaning in EXIT_CODES)


class EnvlockCommand(click.Command):
    """A command that also takes the global options (-C, -q, -v) after its name."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.params.extend(global_options())


class EnvlockGroup(click.Group):
    """Every exception leaves as one message and an exit code from the one table."""

    command_class = EnvlockCommand

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.params.extend(global_options())

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except EnvlockError as exc:
            sys.exit(report_envlock_error(exc))
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except Exception as exc:  # anything else is a bug: exit 3 with a log, never a bare traceback
            state = invocation(ctx)
            sys.exit(report_unexpected(exc, state.directory, verbose=state.verbosity > 0))


@click.group(cls=EnvlockGroup, epilog=EXIT_CODE_HELP,
             context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="envlock")
def cli() -> None:
    """Versioned, hashed, immutable Azure ML environments kept in source control."""


def _directory(ctx: click.Context) -> Path | None:
    directory = invocation(ctx).directory
    if directory is not None and not Path(directory).is_dir():
        raise UsageError(f"-C {directory}: not a directory")
    return directory


def _repo(ctx: click.Context, jobs_only: bool = False) -> Repo:
    """The repository; with `jobs_only` (commands that read job YAML), any folder without environments/ too."""
    directory = _directory(ctx)
    try:
        return find_repo(directory)
    except UsageError:
        if not jobs_only:
            raise
        return Repo(Path(directory or Path.cwd()).resolve())


@cli.command()
@names_argument
@upgrade_package_option
@upgrade_option
@platform_option("Lock for PLATFORM instead of the declared platforms (repeatable; conda-lock's -p). check "
                 "reports such a lock stale until envlock.yaml declares the same platforms.", multiple=True)
@click.option("--check", "--locked", "check_only", is_flag=True,
              help="Exit 1 if any lock would change, and write nothing (uv's --locked). Without -P/-U this is "
                   "decided offline from the lock headers.")
@dry_run_option("Show what would change; write nothing (exit 0).")
@jobs_option("Environments locked in parallel (locking waits on the network more than on the CPU).")
@json_option()
@click.pass_context
def lock(ctx: click.Context, names: tuple[str, ...], upgrade_packages: tuple[str, ...], upgrade: bool,
         platforms: tuple[str, ...], check_only: bool, dry_run: bool, jobs: int | None, as_json: bool) -> None:
    """Resolve declarations to hashed lockfiles (only stale ones are solved). Needs envlock[lock]."""
    require_extra("lock", "envlock lock")
    from envlock.commands.lock import WOULD_CHANGE, LockFailed, run_lock

    repo = _repo(ctx)
    try:
        outcomes = run_lock(repo, repo.select(names), update=upgrade_packages, upgrade_all=upgrade,
                            platforms=platforms, write=not (check_only or dry_run), jobs=jobs,
                            show_progress=not as_json, report_undeclared=not names)
    except LockFailed as exc:
        if as_json:
            echo_json(exc.outcomes)
        raise
    if as_json:
        echo_json(outcomes)
    else:
        echo_table(["environment", "status", "packages", "seconds", "lock sha256"], [
            (o.name, o.status, f"{o.conda_packages} conda, {o.pip_packages} pip" if o.lock_sha256 else "",
             f"{o.seconds:.1f}" if o.seconds else "", (o.lock_sha256 or "")[:12])
            for o in outcomes
        ])
    if check_only and any(o.status == WOULD_CHANGE for o in outcomes):
        sys.exit(EXIT_FINDINGS)


@cli.command()
@names_argument
@json_option("Print the build manifest entries as JSON.")
@click.pass_context
def build(ctx: click.Context, names: tuple[str, ...], as_json: bool) -> None:
    """Lock what is stale, then render what AML receives into build/<name>/. Needs envlock[lock]."""
    require_extra("lock", "envlock build")
    from envlock.commands.build import run_build
    from envlock.kinds import named_image

    repo = _repo(ctx)
    result = run_build(repo, repo.select(names), show_progress=not as_json)
    status = {o.name: o.status for o in result.outcomes}
    if as_json:
        echo_json({r.name: {"lock_sha256": r.lock_sha256, "kind": r.content.kind.value,
                            "image": named_image(r.content), "status": status[r.name],
                            "files": sorted(name for name, _ in r.files)} for r in result.rendered})
        return
    echo_table(["environment", "lock", "lock sha256", "rendered"], [
        (r.name, status[r.name], r.lock_sha256[:12], ", ".join(f"build/{r.name}/{n}" for n, _ in r.files))
        for r in result.rendered
    ])
    click.echo(f"manifest: {repo.build_dir.relative_to(repo.root) / 'manifest.json'}")


@cli.command()
@names_argument
@strict_option("Treat warnings (image by tag) as errors.")
@json_option("Print the findings as a JSON list.")
@click.pass_context
def check(ctx: click.Context, names: tuple[str, ...], strict: bool, as_json: bool) -> None:
    """Offline gate: every lock exists, is fresh, unedited, and the rules hold."""
    from envlock.commands.check import run_check

    repo = _repo(ctx)
    selected = repo.select(names)
    findings = run_check(repo, selected, strict=strict, all_environments=not names)
    errors, warnings = echo_findings(findings, as_json)
    if not as_json:
        echo_status(f"checked {len(selected)} environment(s): {errors} error(s), {warnings} warning(s)")
    if any(f.kind == "invalid-declaration" for f in findings):
        sys.exit(EXIT_BAD_INPUT)
    if any(f.severity == "error" for f in findings):
        sys.exit(EXIT_FINDINGS)


def _paths(ctx: click.Context, paths: tuple[Path, ...]) -> list[Path]:
    """Paths as given, relative to -C DIR when there is one (like git -C)."""
    from envlock.fsutil import resolve

    directory = _directory(ctx)
    base = Path(directory) if directory is not None else Path.cwd()
    resolved = [resolve(path if path.is_absolute() else base / path) for path in paths]
    missing = [str(path) for path in resolved if not path.exists()]
    if missing:
        raise UsageError(f"no such file or folder: {', '.join(missing)}")
    return resolved


def _open_registry(repo: Repo, explicit: str | None) -> Any:
    from envlock.registries import open_registry, registry_url
    from envlock.settings import load_settings

    return open_registry(registry_url(explicit, load_settings(repo.root).registry), repo.root)


@cli.command()
@names_argument
@registry_option
@dry_run_option("Say what would be created; change nothing.")
@json_option("Print name -> {version, lock_sha256, status, reference}.")
@output_file_option("Also write that JSON map to FILE (for later CD steps such as envlock pin); --output is an "
                    "alias.", "--output")
@fail_on_option("Audit first and refuse locks with findings at or above this level (default: audit.fail_on in "
                "envlock.yaml; no audit when neither is set).")
@click.option("--allow-vulnerable", is_flag=True, help="Register even with audit findings at or above --fail-on.")
@click.option("--restore", is_flag=True, help="Un-archive an archived version that holds the current lock.")
@jobs_option("Environments registered at once (register waits on the registry, not on the CPU).")
@click.pass_context
def register(ctx: click.Context, names: tuple[str, ...], registry_url: str | None, dry_run: bool, as_json: bool,
             output_file: Path | None, fail_on: str | None, allow_vulnerable: bool, restore: bool,
             jobs: int | None) -> None:
    """Register each fresh lock as an immutable, content-addressed environment version."""
    import json

    from envlock.commands.register import exit_code, run_register
    from envlock.fsutil import atomic_write
    from envlock.settings import load_settings

    repo = _repo(ctx)
    selected = repo.select(names)
    level = fail_on or load_settings(repo.root).audit.fail_on
    if level and not allow_vulnerable:
        from envlock.commands.audit import refuse_vulnerable

        refuse_vulnerable(repo, selected, level)
    registry = _open_registry(repo, registry_url)
    results = run_register(repo, selected, registry, dry_run=dry_run, show_progress=not as_json, restore=restore,
                           jobs=jobs)
    mapping = {r.name: r.as_dict() for r in results}
    if output_file is not None and not dry_run:  # every success, for pin; failures are reported below
        successes = {r.name: r.as_dict() for r in results if not r.failed}
        atomic_write(output_file, json.dumps(successes, indent=2, sort_keys=True) + "\n", root=None)
    if as_json:
        echo_json(mapping)
    else:
        echo_table(["environment", "version", "status", "reference"],
                   [(r.name, r.version, r.status, r.reference or "") for r in results])
    for registration in results:
        if registration.failed:
            click.echo(f"envlock: error: {registration.name}: {registration.error}", err=True)
    if exit_code(results):
        ctx.exit(exit_code(results))


@cli.command()
@click.argument("name")
@registry_option
@json_option("Print the versions as JSON.")
@click.pass_context
def versions(ctx: click.Context, name: str, registry_url: str | None, as_json: bool) -> None:
    """Every registered version of NAME, newest first."""
    from envlock.commands.versions import run_versions

    repo = _repo(ctx)
    registry = _open_registry(repo, registry_url)
    rows = run_versions(registry, name)
    if not rows and name not in repo.environment_names():
        raise UsageError(f"no environment named {name} in {registry.url} or environments/ "
                         f"(declared: {', '.join(repo.environment_names()) or 'none'})")
    if as_json:
        echo_json(rows)
        return
    if not rows:
        click.echo(f"no versions of {name} yet; next: envlock register {name}")
        return
    echo_table(["version", "lock sha256", "created", "git commit", "archived"],
               [(r.version, (r.lock_sha256 or "")[:12], r.created_at[:19], (r.git_commit or "")[:12],
                 "yes" if r.archived else "") for r in rows])


@cli.command()
@click.argument("reference", metavar="NAME:VERSION")
@as_name_option("Declare it under another name.", metavar="NEWNAME")
@force_option("Replace an existing environments/<name>/ folder.")
@registry_option
@click.pass_context
def export(ctx: click.Context, reference: str, new_name: str | None, force: bool, registry_url: str | None) -> None:
    """Write a registered version back into environments/ as a declaration."""
    from envlock.commands.export import run_export

    repo = _repo(ctx)
    folder = run_export(repo, _open_registry(repo, registry_url), reference, new_name=new_name, force=force)
    click.echo(f"wrote {folder.relative_to(repo.root)}/; next: envlock lock {folder.name}")


@cli.command(epilog="\b\nWrites follow one convention in every command (register, pin, gc, lock): they apply by\n"
                     "default and --dry-run shows what would change. gc may apply by default because archiving\n"
                     "is reversible and harmless to jobs: an archived version keeps its content, still resolves\n"
                     "by exact version (azureml:NAME:VERSION), and is only hidden from listings and @latest;\n"
                     "versions that a current lock or a job YAML in the repository uses are never archived.")
@names_argument
@click.option("--keep", default=3, show_default=True, type=click.IntRange(min=0),
              help="Always keep the newest N versions.")
@click.option("--older-than", "older_than", type=click.FloatRange(min=0), metavar="DAYS",
              help="Only versions older than DAYS.")
@dry_run_option("Only show what would be archived.")
@click.option("--apply", is_flag=True, hidden=True, help="Accepted for 0.1 scripts; archiving is the default now.")
@json_option("Print the versions as JSON.")
@registry_option
@click.pass_context
def gc(ctx: click.Context, names: tuple[str, ...], keep: int, older_than: float | None, dry_run: bool, apply: bool,
       as_json: bool, registry_url: str | None) -> None:
    """Archive (never delete) versions no current lock or job uses, beyond the newest N."""
    from envlock.commands.gc import archive, find_candidates

    if dry_run and apply:
        raise UsageError("--dry-run and --apply contradict each other; pass one")
    repo = _repo(ctx)
    registry = _open_registry(repo, registry_url)
    candidates = find_candidates(repo, registry, repo.select(names), keep=keep, older_than_days=older_than)
    if not dry_run:
        archive(registry, candidates)
    if as_json:
        echo_json({"applied": not dry_run, "versions": candidates})
        return
    if not candidates:
        click.echo("nothing to archive")
        return
    verb = "would archive" if dry_run else "archived"
    echo_table(["environment", "version", "created", "lock sha256", "action"],
               [(c.name, c.version, c.created_at[:19], (c.lock_sha256 or "")[:12], verb) for c in candidates])


@cli.command("clone-curated")
@click.argument("curated")
@click.option("--version", "version", help="Clone this version (default: the latest label).")
@click.option("--label", default="latest", show_default=True, help="Clone the version this label names.")
@as_name_option("Name of the owned environment (default: the curated name).")
@click.option("--registry-name", default="azureml", show_default=True, help="The AML registry holding it.")
@force_option("Replace an existing environments/<NAME>/ that is not this clone.")
@click.option("--rebuild", is_flag=True,
              help="Copy the curated build context instead of its image, to change it (a build-context declaration).")
@json_option()
@click.pass_context
def clone_curated(ctx: click.Context, curated: str, version: str | None, label: str, new_name: str | None,
                  registry_name: str, force: bool, rebuild: bool, as_json: bool) -> None:
    """Make an owned environment that is the curated one's image by digest (its inventory in the lock),
    or with --rebuild a copy of its build context; then lock it.

    Needs envlock[azure] and envlock[lock].
    """
    require_extra("azure", "envlock clone-curated")
    require_extra("lock", "envlock clone-curated")
    from envlock.commands.clone_curated import run_clone_curated

    repo = _repo(ctx)
    result = run_clone_curated(repo, curated, version=version, label=label, new_name=new_name,
                               registry_name=registry_name, force=force, show_progress=not as_json,
                               rebuild=rebuild)
    if as_json:
        echo_json(result)
        return
    click.echo(f"{result.status}: environments/{result.name}/ from {result.source_name} version "
               f"{result.source_version}\n  image {result.image}\n  inventory: {result.conda_packages} conda "
               f"packages, {result.pip_packages} Python distributions\n  next: envlock register {result.name}")


@cli.command()
@names_argument
@json_option("Print the entries as JSON.")
@click.pass_context
def outdated(ctx: click.Context, names: tuple[str, ...], as_json: bool) -> None:
    """Newer curated versions, moved tags, and what tag-declared images point at now (clones need envlock[azure]).

    Exit 1 when something is outdated, 4 when a registry could not be reached.
    """
    from envlock.commands.outdated import run_outdated

    repo = _repo(ctx)
    entries = run_outdated(repo, repo.select(names))
    if as_json:
        echo_json(entries)
    elif entries:
        echo_table(["environment", "state", "recorded", "now", "fix"],
                   [(e.environment, e.kind, e.current[:24], e.latest[:24], e.fix) for e in entries])
    else:
        click.echo("nothing cloned and no image by tag")
    if any(e.outdated for e in entries):
        sys.exit(EXIT_FINDINGS)


@cli.command()
@click.argument("image")
@click.option("--all", "show_all", is_flag=True,
              help="Every prefix in the image, not only the environment a job runs in.")
@json_option("Print the inventory as JSON.")
@click.pass_context
def inventory(ctx: click.Context, image: str, show_all: bool, as_json: bool) -> None:
    """Conda packages and Python distributions an image holds, read from its layers (no pull)."""
    from envlock.commands.inventory import run_inventory

    pinned, found, stats = run_inventory(image, _directory(ctx))
    echo_status(f"read {stats.layers} layers: {stats.compressed_bytes / 1e6:.1f} MB compressed, "
                f"{stats.uncompressed_bytes / 1e6:.1f} MB unpacked, in {stats.seconds:.2f} s")
    packages = found.packages if show_all else tuple(found.in_environment())
    if as_json:
        echo_json({"image": pinned, "manifest_digest": found.manifest_digest,
                   "environment_prefix": found.environment_prefix, "packages": packages})
        return
    click.echo(f"{pinned}  (environment {found.environment_prefix or 'not named by the image'})")
    echo_table(["prefix", "manager", "name", "version", "build"],
               [(p.prefix, p.manager, p.name, p.version, p.build or "") for p in packages])


@cli.command()
@paths_argument
@registry_option
@offline_option
@strict_option("Mixed versions within a pipeline are errors, not warnings.")
@json_option("Print the findings as a JSON list.")
@click.option("--audit", is_flag=True, help="Also audit the locks of the repository's environments the jobs use.")
@fail_on_option("With --audit: findings at or above this level are errors (default: audit.fail_on, else low).")
@click.pass_context
def preflight(ctx: click.Context, paths: tuple[Path, ...], registry_url: str | None, offline: bool, strict: bool,
              as_json: bool, audit: bool, fail_on: str | None) -> None:
    """Check the environment references of job, pipeline and component YAML."""
    from envlock.commands.preflight import run_preflight

    repo = _repo(ctx, jobs_only=True)
    registry = None if offline else _open_registry(repo, registry_url)
    result = run_preflight(repo, _paths(ctx, paths), registry, strict=strict)
    findings = result.findings
    if audit:
        from envlock.commands.audit import audit_findings, fail_level, referenced_environments
        from envlock.settings import load_settings

        level = fail_level(fail_on, load_settings(repo.root))
        used = referenced_environments(repo, [use.value for use in result.scan.uses])
        findings = [*findings, *audit_findings(repo, used, level)]
    errors, warnings = echo_findings(findings, as_json)
    echo_status(f"scanned {result.scan.files} file(s) ({len(result.scan.skipped)} skipped): "
                f"{result.scan.references} environment reference(s), {errors} error(s), "
                f"{warnings} warning(s)")
    if errors:
        sys.exit(EXIT_FINDINGS)


@cli.command()
@paths_argument
@registry_option
@from_file_option("Take versions from the JSON that envlock register -o/--output-file wrote (no registry read).")
@dry_run_option("Show the changes without writing them.")
@json_option("Print the changes as JSON.")
@click.pass_context
def pin(ctx: click.Context, paths: tuple[Path, ...], registry_url: str | None, from_file: Path | None,
        dry_run: bool, as_json: bool) -> None:
    """Rewrite environment references to the versions registered for the current locks."""
    from envlock.commands.pin import run_pin

    repo = _repo(ctx)
    registry = None if from_file else _open_registry(repo, registry_url)
    result = run_pin(repo, _paths(ctx, paths), registry, from_file=from_file, dry_run=dry_run)
    if as_json:
        echo_json(result.changes)
    else:
        for change in result.changes:
            click.echo(f"{change.file}:{change.line}: {change.old} -> {change.new}")
        echo_status(f"{'would pin' if dry_run else 'pinned'} {len(result.changes)} reference(s)")
    for problem in result.problems:
        click.echo(f"envlock: error: {problem.message}", err=True)
    if result.problems:
        sys.exit(result.exit_code)


@cli.command()
@click.argument("first", metavar="A")
@click.argument("second", metavar="B")
@platform_option("Which platform of a lock to compare.", default="linux-64")
@registry_option
@json_option("Print the changes as JSON.")
@click.pass_context
def diff(ctx: click.Context, first: str, second: str, platform: str, registry_url: str | None,
         as_json: bool) -> None:
    """Package-level diff of two sources: a lock file, NAME, NAME@REV, azureml:NAME:V, installed, a prefix.

    Exit 1 when they differ, like diff(1).
    """
    from envlock.commands.diff import run_diff

    repo = _repo(ctx)
    changes = run_diff(repo, first, second, platform, lambda: _open_registry(repo, registry_url))
    if as_json:
        echo_json(changes)
    elif changes:
        echo_table(["change", "manager", "package", first, second],
                   [(c.change, c.manager, c.name, c.before or "", c.after or "") for c in changes])
    else:
        click.echo("no differences")
    if changes:
        sys.exit(EXIT_FINDINGS)


# verify speaks of what is installed against the lock; its table and JSON use the same words
VERIFY_WORDS = {"added": "extra", "removed": "missing", "changed": "differs"}


@cli.command()
@click.argument("name", required=False)
@click.option("--lock", "lock_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Verify against this lock file instead of environments/NAME.")
@from_file_option("Read what was installed from pip freeze, conda list --explicit or an image build log.")
@click.option("--python", "python", metavar="PATH", help="Inspect this interpreter or prefix (default: this one).")
@click.option("--allow-extra", multiple=True, metavar="PKG", help="An extra pip package that is fine.")
@click.option("--strict", is_flag=True, help="Report pip, setuptools and wheel as extra too (pip-sync ignores them).")
@click.option("--pip-only", is_flag=True, help="Accept checking pip packages alone where no conda metadata exists.")
@json_option()
@click.pass_context
def verify(ctx: click.Context, name: str | None, lock_file: Path | None, from_file: Path | None,
           python: str | None, allow_extra: tuple[str, ...], strict: bool, pip_only: bool, as_json: bool) -> None:
    """Compare what is installed with the lock for this platform; exit 1 on any difference."""
    from envlock.commands.verify import run_verify

    result = run_verify(name, lock_file, from_file=from_file, python=python, allow_extra=allow_extra,
                        repo_dir=_directory(ctx), strict=strict, pip_only=pip_only)
    rows = [{"change": VERIFY_WORDS[c.change], "manager": c.manager, "package": c.name,
             "locked": c.before, "installed": c.after} for c in result.changes]
    checked = "conda and pip" if result.conda_checked else "pip"
    verdict = f"differs in {len(result.changes)} package(s)" if result.changes else \
        "matches" if result.ok else "matches where it could be checked"
    if as_json:
        echo_json({"lock": result.lock_label, "observed": result.observed_label, "platform": result.platform,
                   "conda_checked": result.conda_checked, "ok": result.ok, "unchecked": list(result.unchecked),
                   "changes": rows})
    else:
        if rows:
            headers = ["change", "manager", "package", "locked", "installed"]
            echo_table(headers, [[row[h] or "" for h in headers] for row in rows])
        echo_status(f"{result.observed_label} {verdict} from {result.lock_label} on {result.platform}; "
                    f"checked {checked}")
    for what in result.unchecked:
        click.echo(f"envlock: error: not checked: {what}", err=True)
    if not result.ok:
        sys.exit(EXIT_FINDINGS)


def _output_path(ctx: click.Context, path: Path) -> Path:
    """An output file named on the command line, relative to -C DIR when there is one (like git -C)."""
    directory = _directory(ctx)
    return path if path.is_absolute() else (Path(directory) if directory is not None else Path.cwd()) / path


@cli.command()
@names_argument
@json_option("Print findings, ignored findings and what is not covered as JSON.")
@click.option("--sarif", "sarif_file", metavar="FILE", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the findings as SARIF 2.1.0 to FILE (GitHub code scanning).")
@fail_on_option("Exit 1 for findings at or above this level (default: audit.fail_on in envlock.yaml, else low); "
                "a record without a severity counts at every level.")
@click.option("--offline-db", "offline_db", metavar="DIR", type=click.Path(path_type=Path),
              help="Read an OSV export folder (JSON or YAML records) instead of the OSV service.")
@click.option("--no-yanked", "no_yanked", is_flag=True, help="Skip the yanked-release check on the pip index.")
@click.pass_context
def audit(ctx: click.Context, names: tuple[str, ...], as_json: bool, sarif_file: Path | None,
          fail_on: str | None, offline_db: Path | None, no_yanked: bool) -> None:
    """Known vulnerabilities (OSV) and yanked releases in every locked package, with the smallest fix."""
    import json

    from envlock.commands.audit import audit_repo, fail_level, failing
    from envlock.fsutil import atomic_write
    from envlock.sarif import sarif_document
    from envlock.settings import load_settings

    repo = _repo(ctx)
    level = fail_level(fail_on, load_settings(repo.root))
    report = audit_repo(repo, repo.select(names), offline_db=_paths(ctx, (offline_db,))[0] if offline_db else None,
                        check_yanked=not no_yanked)
    if sarif_file is not None:
        document = json.dumps(sarif_document(report.findings), indent=2, sort_keys=True) + "\n"
        atomic_write(_output_path(ctx, sarif_file), document, root=None)
    failed = failing(report, level)
    if as_json:
        echo_json({"findings": report.findings, "ignored": report.ignored, "not_covered": report.not_covered,
                   "checked": report.checked, "requests": report.requests, "source": report.source,
                   "fail_on": level, "failed": len(failed)})
    else:
        if report.findings:
            echo_table(["environment", "package", "version", "advisory", "aliases", "severity", "fixed in", "fix"], [
                (f.environment, f.package, f.version, f.id + (f" (ignore expired {f.ignore_expired})"
                                                                if f.ignore_expired else ""),
                 ", ".join(f.aliases), f.severity or "unknown", f.fixed_in or "", f.fix) for f in report.findings
            ])
        for ignored in report.ignored:
            echo_status(f"ignored until {ignored.until}: {ignored.finding.environment} {ignored.finding.package} "
                        f"{ignored.finding.version} {ignored.finding.id} ({ignored.reason})")
        uncovered: dict[str, list[str]] = {}
        for item in report.not_covered:
            uncovered.setdefault(item.environment, []).append(item.package)
        for environment, packages in uncovered.items():
            echo_status(f"not covered (conda-only, no PyPI advisories): {environment}: "
                        f"{', '.join(sorted(set(packages)))}")
        echo_status(f"audited {len(report.environments)} environment(s): {len(report.findings)} finding(s), "
                    f"{len(failed)} at or above {level}, {len(report.ignored)} ignored; {report.checked} distinct "
                    f"package version(s), {report.requests} request(s) to {report.source}")
    if failed:
        sys.exit(EXIT_FINDINGS)


@cli.command()
@click.argument("source", metavar="NAME | azureml:NAME:VERSION")
@click.option("--format", "sbom_format", type=click.Choice(["cyclonedx", "spdx"]), default="cyclonedx",
              show_default=True, help="CycloneDX 1.6 JSON or SPDX 2.3 JSON.")
@platform_option("Which platform of the lock.", default="linux-64")
@output_file_option("Write the SBOM to FILE instead of stdout.")
@registry_option
@click.pass_context
def sbom(ctx: click.Context, source: str, sbom_format: str, platform: str, output_file: Path | None,
         registry_url: str | None) -> None:
    """An SBOM of a lock: every conda and pip package (purl, sha256), the base image and the lock hash.

    For azureml:NAME:VERSION it is rebuilt from the lock the version was registered from and must
    hash to what register stored in the version's tags.
    """
    from envlock.commands.sbom import sbom_of_environment, sbom_of_version
    from envlock.fsutil import atomic_write

    repo = _repo(ctx)
    if source.startswith("azureml:"):
        document = sbom_of_version(repo, _open_registry(repo, registry_url), source, platform, sbom_format)
    else:
        document = sbom_of_environment(repo, source, platform, sbom_format)
    if output_file is None:
        click.echo(document.text, nl=False)
        return
    atomic_write(_output_path(ctx, output_file), document.text, root=None)
    echo_status(f"wrote {output_file} ({document.format}, {document.platform}, sha256 {document.sha256[:12]})")


def main() -> None:
    """The `envlock` command. It ends without the interpreter's teardown: once azure-ai-ml is loaded,
    freeing its modules one by one takes longer (0.3 s) than register's whole decision for 100
    unchanged environments. Exit handlers still run and the output is flushed first."""
    try:
        cli(prog_name="envlock")
        status: object = 0
    except SystemExit as done:
        status = done.code
    if isinstance(status, str):  # sys.exit("message"): printed, exit 1, as the interpreter would
        print(status, file=sys.stderr)
    code = status if isinstance(status, int) else 0 if status is None else 1
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe (envlock ... | head): nothing more to say
            code = code or 1
    os._exit(code)
