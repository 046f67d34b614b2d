"""`envlock lock`: solve stale environments (in parallel) and write their lockfiles atomically."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

from envlock.errors import EXIT_BAD_INPUT, EXIT_FINDINGS, DeclarationError, EnvlockError, UsageError
from envlock.fsutil import atomic_write_many, remove
from envlock.lockfile import (
    CONDA_LOCK_FILE,
    CONTEXT_LOCK_FILE,
    IMAGE_LOCK_FILE,
    LOCKS_DIR,
    MAIN_FILES,
    REQUIREMENTS_TXT,
    Lock,
    package_counts,
    read_header,
    read_lock,
    render_lock_files,
)
from envlock.options import default_jobs
from envlock.progress import Progress
from envlock.repo import NO_DECLARATION, NO_DECLARATION_FIX, Repo
from envlock.settings import Settings, load_settings
from envlock.sources import declared_as_locked
from envlock.spec import EnvironmentSpec, load_environment, requirement_name

# Locking waits mostly on the network (repodata, PyPI) and on subprocesses, not on this
# process's CPU: more environments in flight than cores.


@dataclass(frozen=True)
class LockOutcome:
    """What `envlock lock` did for one environment (a row of its table or --json)."""

    name: str
    status: str  # "locked", "unchanged", "would change", "failed", "invalid" (a declaration error)
    seconds: float = 0.0
    lock_sha256: str | None = None
    files: tuple[str, ...] = ()
    error: str | None = None
    conda_packages: int = 0
    pip_packages: int = 0


WOULD_CHANGE = "would change"


class LockFailed(EnvlockError):
    def __init__(self, outcomes: list[LockOutcome], exit_codes: set[int] | None = None) -> None:
        failed = [o for o in outcomes if o.status in ("failed", "invalid")]
        text = "\n".join(f"{o.name}: {o.error}" for o in failed)
        done = len(outcomes) - len(failed)
        super().__init__(f"{len(failed)} environment(s) could not be locked; their files are unchanged"
                         f"{f' (the other {done} were locked or unchanged)' if done else ''}\n{text}")
        self.outcomes = outcomes
        # one cause (every index unreachable, say) keeps its own code; mixed causes are findings
        codes = set(exit_codes or ()) | ({EXIT_BAD_INPUT} if any(o.status == "invalid" for o in failed) else set())
        codes = codes or {EXIT_FINDINGS}
        self.exit_code = codes.pop() if len(codes) == 1 else EXIT_FINDINGS


def load_specs(repo: Repo, names: list[str], settings: Settings
               ) -> tuple[list[EnvironmentSpec], list[LockOutcome]]:
    """The valid declarations, and for each of the others an outcome saying why (file, field, fix):
    one bad declaration does not stop the others."""
    specs, refused = [], []
    for name in names:
        try:
            spec = load_environment(repo, name, settings)
            if spec.policy_problems:
                raise spec.policy_problems[0].as_error()
            if spec.context is not None:
                from envlock.buildcontext import unresolvable_image

                if (error := unresolvable_image(spec.context)) is not None:
                    raise error
        except EnvlockError as error:
            status = "invalid" if error.exit_code == EXIT_BAD_INPUT else "failed"
            refused.append(LockOutcome(name, status, error=error.message))
            continue
        specs.append(spec)
    return specs, refused


def _unchanged_by_sources(repo: Repo, names: list[str], settings: Settings) -> dict[str, LockOutcome]:
    """Locks whose declaration files are byte for byte what they recorded: unchanged, unparsed."""
    unchanged = {}
    for name in names:
        folder = repo.environments_dir / name
        try:
            header = read_header(folder)
        except EnvlockError:
            continue  # the full path reports it
        if header is not None and declared_as_locked(header, settings, name, folder):
            conda, pip = package_counts(header)
            unchanged[name] = LockOutcome(name, "unchanged", lock_sha256=header.recorded_lock_sha256,
                                          conda_packages=conda, pip_packages=pip)
    return unchanged


def validate_for_solving(work: list[tuple[EnvironmentSpec, Lock | None]]
                         ) -> tuple[list[tuple[EnvironmentSpec, Lock | None]], list[LockOutcome]]:
    """Parse the conda specs of what will be solved, before any solve starts; a bad one is reported
    as invalid and the others still solve.

    Only stale declarations are parsed: a fresh lock's inputs were parsed when it was made, and
    importing the solver to re-check them would double the time of a relock that solves nothing.
    """
    if not any(spec.conda_file for spec, _ in work):
        return work, []
    from envlock.solvers.conda_rattler import validate_specs

    valid, refused = [], []
    for spec, previous in work:
        try:
            if spec.conda_file is not None:
                validate_specs(spec.conda_file, spec.conda_dependencies)
        except EnvlockError as error:
            status = "invalid" if isinstance(error, DeclarationError) else "failed"
            refused.append(LockOutcome(spec.name, status, error=error.message))
            continue
        valid.append((spec, previous))
    return valid, refused


def is_fresh(spec: EnvironmentSpec) -> bool:
    header = read_header(spec.folder)
    return header is not None and header.is_fresh_for(spec.inputs_sha256())


def run_lock(repo: Repo, names: list[str], *, update: tuple[str, ...] = (), upgrade_all: bool = False,
             platforms: tuple[str, ...] = (), write: bool = True, jobs: int | None = None,
             show_progress: bool = True, refuse_edited: bool = False,
             report_undeclared: bool = False) -> list[LockOutcome]:
    """Lock what is stale (or what -P/-U asks for). With write=False nothing is written: stale locks
    are reported as WOULD_CHANGE without a solve, and only -P/-U solve to compare with the files.
    `refuse_edited` (build): a hand-edited lock is an error, not relocked. `report_undeclared`: the
    folders under environments/ with no declaration are failures (when all environments were asked)."""
    settings = load_settings(repo.root)
    trusted = {} if update or upgrade_all or platforms else _unchanged_by_sources(repo, names, settings)
    valid, refused = load_specs(repo, [name for name in names if name not in trusted], settings)
    specs = [_for_platforms(spec, platforms) for spec in valid]
    wanted = {name.lower() for name in update}
    work: list[tuple[EnvironmentSpec, Lock | None]] = []
    outcomes: dict[str, LockOutcome] = {**trusted, **{o.name: o for o in refused}}
    for spec in specs:
        header = read_header(spec.folder)
        if refuse_edited and header is not None and not header.is_untouched:
            from envlock.fresh_render import edited_lock_error

            raise edited_lock_error(repo, spec.name, header)
        fresh = header is not None and header.is_fresh_for(spec.inputs_sha256())
        if fresh and not upgrade_all and not wanted:
            assert header is not None
            conda, pip = package_counts(header)
            outcomes[spec.name] = LockOutcome(spec.name, "unchanged", lock_sha256=header.recorded_lock_sha256,
                                              conda_packages=conda, pip_packages=pip)
            continue
        # A lock edited by hand is not trusted even as a preference; --upgrade keeps nothing from it.
        keep = header is not None and header.is_untouched and not upgrade_all
        previous = read_lock(spec.name, spec.folder, validate=bool(wanted)) if keep else None
        names_in_lock = {p.name for p in previous.packages} if previous else set()
        if upgrade_all or not fresh or (wanted & names_in_lock):
            work.append((spec, previous))
        else:
            outcomes[spec.name] = _unchanged(spec, previous)
    if wanted and not upgrade_all:
        known = {p.name for _, previous in work if previous for p in previous.packages}
        missing = wanted - known - {n for s in specs for n in _declared_names(s)}
        if missing:
            raise UsageError(f"-P/--upgrade-package {', '.join(sorted(missing))}: no such package in the "
                             f"selected declarations or locks")

    if not write and not upgrade_all and not wanted:
        # a stale lock would change: decided from its header, offline, nothing solved (uv's --locked)
        outcomes.update((spec.name, LockOutcome(spec.name, WOULD_CHANGE)) for spec, _ in work)
        work = []
    work, invalid = validate_for_solving(work)
    outcomes.update((outcome.name, outcome) for outcome in invalid)
    progress = Progress(len(work), enabled=show_progress)
    failure_codes: set[int] = set()

    def solve(item: tuple[EnvironmentSpec, Lock | None]) -> LockOutcome:
        # The solvers' modules only when something is solved: a relock of fresh locks is a check.
        from envlock.locking import LockRequest, lock_environment
        from envlock.trust import render_sha256

        spec, previous = item
        progress.start(spec.name, "locking")
        started = time.perf_counter()
        try:
            lock = lock_environment(LockRequest(spec, settings, previous, frozenset(wanted), upgrade_all))
            # What it renders to for AML, recorded so register decides "unchanged" from the header.
            lock = replace(lock, render_sha256=render_sha256(spec, lock))
            lock, files = render_lock_files(lock, spec.folder)
            if write:
                _write_lock(repo.root, spec.folder, files)
        except EnvlockError as exc:
            progress.finish(spec.name, "failed")
            failure_codes.add(exc.exit_code)
            return LockOutcome(spec.name, "failed", time.perf_counter() - started, error=exc.message)
        status = "locked" if write else "unchanged" if _same_files(spec.folder, files) else WOULD_CHANGE
        outcome = LockOutcome(
            spec.name, status, time.perf_counter() - started, lock.lock_sha256,
            tuple(str(path.relative_to(repo.root)) for path in files),
            conda_packages=sum(1 for p in lock.packages if p.manager == "conda"),
            pip_packages=sum(1 for p in lock.packages if p.manager == "pip"),
        )
        progress.finish(spec.name, status)
        return outcome

    with ThreadPoolExecutor(max_workers=max(1, min(jobs or default_jobs(), len(work) or 1))) as pool:
        for outcome in pool.map(solve, work):
            outcomes[outcome.name] = outcome
    ordered = [outcomes[name] for name in names]
    if report_undeclared:  # every folder under environments/ was asked for: none is skipped silently
        ordered += [LockOutcome(folder.name, "invalid", error=f"{repo.relative(folder)}: {NO_DECLARATION}\n"
                                f"  fix: {NO_DECLARATION_FIX}") for folder in repo.undeclared_folders(set(names))]
    if any(o.status in ("failed", "invalid") for o in ordered):
        raise LockFailed(ordered, failure_codes)
    return ordered


def _write_lock(root: Path, folder: Path, files: dict[Path, str]) -> None:
    """Write the new lock files as one unit and drop lock files the new lock no longer has.

    The main file (conda-lock.yml or requirements.txt) records the hash of the whole set and is
    replaced last, after the others are in place and obsolete ones are gone: a kill at any moment
    leaves either the new set or a set whose hash shows the mix (relocked by the next run).
    """
    present = [folder / IMAGE_LOCK_FILE, folder / CONDA_LOCK_FILE, folder / REQUIREMENTS_TXT,
               *folder.glob("requirements-*.txt"), folder / CONTEXT_LOCK_FILE,
               *(p for p in (folder / LOCKS_DIR).rglob("*") if p.is_file())]
    obsolete = [path for path in present if path.exists() and path not in files]
    # a build context's context-lock.yml records its installs' hashes: it goes very last
    main = {path: text for path, text in sorted(files.items(), key=lambda item: item[0].name == CONTEXT_LOCK_FILE)
            if path.name in (*MAIN_FILES, CONTEXT_LOCK_FILE, IMAGE_LOCK_FILE)}
    atomic_write_many({path: text for path, text in files.items() if path not in main}, root=root)
    # while one of these exists, readers read nothing else
    preferred = (folder / CONTEXT_LOCK_FILE, folder / IMAGE_LOCK_FILE, folder / CONDA_LOCK_FILE)
    for path in obsolete:
        if path not in preferred and not any(p in main for p in preferred):
            remove(root, path)
    atomic_write_many(main, root=root)
    for path in obsolete:
        if path.exists():
            remove(root, path)


def _for_platforms(spec: EnvironmentSpec, platforms: tuple[str, ...]) -> EnvironmentSpec:
    """The spec locked for `platforms` instead of its declared ones (conda-lock's -p)."""
    if not platforms:
        return spec
    return replace(spec, settings=replace(spec.settings, platforms=tuple(dict.fromkeys(platforms))))


def _unchanged(spec: EnvironmentSpec, lock: Lock | None) -> LockOutcome:
    """An existing lock kept as it is, with its package counts (so --json reports every lock alike)."""
    if lock is None:
        return LockOutcome(spec.name, "unchanged")
    return LockOutcome(spec.name, "unchanged", lock_sha256=lock.lock_sha256 or None,
                       conda_packages=sum(1 for p in lock.packages if p.manager == "conda"),
                       pip_packages=sum(1 for p in lock.packages if p.manager == "pip"))


def _same_files(folder: Path, files: dict[Path, str]) -> bool:
    """The lock files on disk are exactly `files` (no more, no fewer, same text)."""
    present = {folder / CONDA_LOCK_FILE, folder / REQUIREMENTS_TXT, *folder.glob("requirements-*.txt")}
    if {path for path in present if path.exists()} != set(files):
        return False
    return all(path.read_text(encoding="utf-8") == text for path, text in files.items())


def _declared_names(spec: EnvironmentSpec) -> set[str]:
    return {requirement_name(dep) for dep in (*spec.conda_dependencies, *spec.pip_dependencies)}
