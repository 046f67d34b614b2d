"""Every command-line option defined once and shared by the commands that take it (as pip-tools does).

The global options (-C, -q, -v) are attached to the group and to every command, so
`envlock -C sub check` and `envlock check -C sub` mean the same (a pre-commit hook in a
monorepo subfolder passes `args: [-C, sub]`, which lands after the subcommand).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import click

from envlock.platforms import KNOWN_PLATFORMS

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class Invocation:
    """What the global options set for one run; the root context's obj (mutable on purpose:
    the options after the subcommand refine what the ones before it set)."""

    directory: Path | None = None
    verbosity: int = 0  # -1 quiet, 0 normal, 1+ verbose


def invocation(ctx: click.Context | None = None) -> Invocation:
    """The current run's Invocation (a default one outside a command, e.g. in library calls)."""
    ctx = ctx or click.get_current_context(silent=True)
    if ctx is None:
        return Invocation()
    found = ctx.find_object(Invocation)
    if found is None:
        found = ctx.find_root().ensure_object(Invocation)
    return found


def _set_directory(ctx: click.Context, _: click.Parameter, value: Path | None) -> None:
    if value is not None:
        invocation(ctx).directory = value


def _set_quiet(ctx: click.Context, _: click.Parameter, value: bool) -> None:
    if value:
        invocation(ctx).verbosity = -1


def _set_verbose(ctx: click.Context, _: click.Parameter, value: int) -> None:
    if value:
        invocation(ctx).verbosity = value


# one instance for every command: click types hold no state, and each new one looks up a translation
_DIRECTORY = click.Path(file_okay=False, path_type=Path)


def global_options() -> list[click.Parameter]:
    """New instances of the options every command and the group take."""
    return [
        click.Option(["-C", "directory"], metavar="DIR", expose_value=False, callback=_set_directory,
                     type=_DIRECTORY,
                     help="Run as if started in DIR (the repository with environments/); before or after the "
                          "command."),
        click.Option(["-q", "--quiet"], is_flag=True, expose_value=False, callback=_set_quiet,
                     help="Only results and errors: no progress or summary lines on stderr."),
        click.Option(["-v", "--verbose"], count=True, expose_value=False, callback=_set_verbose,
                     help="More detail on stderr: every step, and the traceback of an unexpected error."),
    ]


def names_argument(f: F) -> F:
    return click.argument("names", nargs=-1, metavar="[NAME]...")(f)


def paths_argument(f: F) -> F:
    return click.argument("paths", nargs=-1, type=click.Path(path_type=Path))(f)


def usable_cpus() -> int:
    """CPUs this process may run on (a container's or taskset's share, not the host's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        return os.cpu_count() or 1


def default_jobs() -> int:
    """Environments locked at once by default: 4 per CPU, at least 8, at most 32.

    A lock mostly waits on the network (a uv call on a warm cache spends about three quarters of its
    time on index revalidation round trips), so the pool is larger than the CPUs. Below 8 a 2-core
    machine leaves waits unoverlapped (-j4 took 0.42x of -j1 against -j10's 0.23x when measured for
    issue 12); above 4 per CPU the solves' CPU is the limit and each environment in flight holds
    about 20 MB (16 small environments: 160 MB at -j1, 320 MB at -j8, 380 MB at -j16).
    """
    return min(32, max(8, 4 * usable_cpus()))


def jobs_option(help: str) -> Callable[[F], F]:
    return click.option("-j", "--jobs", type=click.IntRange(min=1), default=None, metavar="N",
                        help=f"{help} [default: {default_jobs()} here: 4 per CPU, at least 8, at most 32]")


def json_option(help: str = "Print the result as JSON (for CI).") -> Callable[[F], F]:
    return click.option("--json", "as_json", is_flag=True, help=help)


def registry_option(f: F) -> F:
    return click.option(
        "--registry", "registry_url", metavar="URL",
        help="sqlite:///path.db, azureml://subscriptions/<sub>/resourcegroups/<rg>/workspaces/<ws>, "
             "azureml://registries/<name> or azureml (config.json). Default: $ENVLOCK_REGISTRY, "
             "registry: in envlock.yaml, then .envlock/registry.db. azureml URLs need envlock[azure].",
    )(f)


def dry_run_option(help: str = "Say what would change; change nothing.") -> Callable[[F], F]:
    return click.option("--dry-run", is_flag=True, help=help)


def output_file_option(help: str, *aliases: str) -> Callable[[F], F]:
    return click.option("-o", "--output-file", *aliases, "output_file", metavar="FILE",
                        type=click.Path(dir_okay=False, path_type=Path), help=help)


def strict_option(help: str) -> Callable[[F], F]:
    return click.option("--strict", is_flag=True, help=help)


def offline_option(f: F) -> F:
    return click.option("--offline", is_flag=True, help="Only the checks that need no registry or network.")(f)


def platform_option(help: str, *, multiple: bool = False, default: str | None = None) -> Callable[[F], F]:
    """-p/--platform, in conda-lock's meaning: a conda platform such as linux-64 or osx-arm64."""
    return click.option("-p", "--platform", "platforms" if multiple else "platform", multiple=multiple,
                        type=click.Choice(KNOWN_PLATFORMS), default=default, show_default=default is not None,
                        metavar="PLATFORM", help=help)


def upgrade_package_option(f: F) -> F:
    return click.option("-P", "--upgrade-package", "--update", "upgrade_packages", multiple=True, metavar="PKG",
                        help="Relock PKG to its newest allowed version and keep everything else pinned "
                             "(--update is an alias).")(f)


def upgrade_option(f: F) -> F:
    return click.option("-U", "--upgrade", is_flag=True, help="Relock every package, ignoring existing pins.")(f)


def from_file_option(help: str) -> Callable[[F], F]:
    return click.option("--from", "from_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                        help=help)


def force_option(help: str) -> Callable[[F], F]:
    return click.option("--force", is_flag=True, help=help)


def as_name_option(help: str, metavar: str = "NAME") -> Callable[[F], F]:
    return click.option("--as", "new_name", metavar=metavar, help=help)


def fail_on_option(help: str) -> Callable[[F], F]:
    """--fail-on LEVEL for the audit: findings at or above it fail (audit, preflight --audit, register)."""
    return click.option("--fail-on", "fail_on", type=click.Choice(["low", "medium", "high", "critical"]),
                        metavar="LEVEL", help=f"{help} LEVEL: low, medium, high or critical.")
