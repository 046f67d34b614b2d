"""`envlock register`: each fresh lock becomes an immutable, content-addressed version.

The lock hash names the content: a version already carrying it is reused; otherwise the next
integer version is created, never overwritten, and read back to prove what the registry holds.
The newest version is read first (one request whatever the history): a repository registered
before is usually unchanged, which the lock's header decides (its hash and the digest of its
render, compared with the stored content) without parsing or rendering the lock. Only a change
reads every version (AML cannot filter them by tag).
Several environments are registered at once; results come in the order asked.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from functools import partial

from envlock import __version__
from envlock.errors import EXIT_BAD_INPUT, EXIT_FINDINGS, EXIT_UNREACHABLE, EnvlockError, MissingExtra
from envlock.fresh_render import fresh_header, rendered_with_locks
from envlock.gitinfo import commits_for
from envlock.kinds import ImageOnly
from envlock.lockfile import Lock
from envlock.options import default_jobs
from envlock.output import echo_status
from envlock.progress import Progress
from envlock.refs import format_reference
from envlock.registries import EnvironmentVersion, Registry, RegistryError, VersionExists, next_version
from envlock.render import GIT_TAG, LOCK_TAG, VERSION_TAG, RenderedEnvironment
from envlock.repo import Repo
from envlock.sbom import SBOM_TAG, registered_sbom_sha256
from envlock.settings import load_settings
from envlock.spec import DeclaredVersion
from envlock.trust import holds_recorded_render, matches, rendered_content

MAX_ATTEMPTS = 8


@dataclass(frozen=True)
class Registration:
    """What `envlock register` did for one environment."""

    name: str
    version: str | None
    lock_sha256: str
    status: str  # "created", "unchanged", "would create", "restored", "refused" (content), "failed"
    reference: str | None
    error: str | None = None
    exit_code: int = 0  # of a failure: 4 when the registry could not be reached

    @property
    def failed(self) -> bool:
        return self.status in ("failed", "refused")

    def as_dict(self) -> dict[str, str | None]:
        entry = {"version": self.version, "lock_sha256": self.lock_sha256, "status": self.status,
                 "reference": self.reference}
        return {**entry, "error": self.error} if self.error else entry


def exit_code(registrations: list[Registration]) -> int:
    """0 when all registered; 2 or 4 when every failure was bad input or an unreachable registry; else 1."""
    failed = [r for r in registrations if r.failed]
    if not failed:
        return 0
    if all(r.exit_code == EXIT_BAD_INPUT for r in failed):
        return EXIT_BAD_INPUT  # every failure was bad input (an edited lock, an invalid declaration)
    return EXIT_UNREACHABLE if all(r.exit_code == EXIT_UNREACHABLE for r in failed) else EXIT_FINDINGS


def draft_version(rendered: RenderedEnvironment, commit: str | None) -> EnvironmentVersion:
    content = rendered_content(rendered)
    tags = dict(content.tags)
    tags[VERSION_TAG] = __version__
    if commit:
        tags[GIT_TAG] = commit
    return replace(content, tags=tags)


def _by_number(version: EnvironmentVersion) -> tuple[bool, int]:
    return (not version.version.isdigit(), int(version.version) if version.version.isdigit() else 0)


def register_one(registry: Registry, draft: EnvironmentVersion, *, dry_run: bool = False,
                 registry_name: str | None = None,
                 creation_tags: Callable[[], dict[str, str]] | None = None,
                 restore: bool = False, latest: EnvironmentVersion | None = None,
                 declared: DeclaredVersion | None = None) -> Registration:
    """`creation_tags` is asked only when a version is created (the SBOM hash costs a build).

    `latest` (the newest version, already read): when it holds this lock and this content, it is
    reused without listing the history.

    With `declared` (the declaration's `version:`), only that version is considered: unchanged when
    it holds this lock, created when it does not exist, refused (bad input) when it holds other content.
    """
    lock_sha256 = draft.tags[LOCK_TAG]

    def result(version: str | None, status: str, error: str | None = None) -> Registration:
        reference = format_reference(draft.name, version, registry=registry_name) if version else None
        return Registration(draft.name, version, lock_sha256, status, reference, error,
                            EXIT_FINDINGS if error else 0)

    if latest is not None and not latest.archived and matches(latest, draft) \
            and (declared is None or latest.version == declared.value):
        return result(latest.version, "unchanged")
    for _ in range(MAX_ATTEMPTS):
        versions = registry.list_versions(draft.name, archived_flag=True)
        candidates = versions if declared is None else [v for v in versions if v.version == declared.value]
        tagged = sorted((v for v in candidates if v.lock_sha256 == lock_sha256), key=_by_number)
        # Trust content, not tags: a tagged version whose content was edited is never reused.
        matching = [v for v in tagged if matches(v, draft)]
        edited = [v for v in tagged if not matches(v, draft)]
        live = [v for v in matching if not v.archived]
        if live:
            return result(live[0].version, "unchanged")
        if matching and not restore:
            return result(None, "refused",
                          f"{draft.name}:{matching[0].version} holds this lock but is archived; "
                          f"run envlock register {draft.name} --restore to un-archive it")
        if matching:
            if not dry_run:
                registry.set_archived(draft.name, matching[0].version, False)
            return result(matching[0].version, "restored" if not dry_run else "would restore")
        if edited:
            return result(None, "refused",
                          f"{draft.name}:{edited[0].version} carries this lock's hash but its content differs "
                          "from the render of the current lock (edited by hand?); archive it "
                          f"(az ml environment archive --name {draft.name} --version {edited[0].version}), "
                          "then register again")
        if declared is not None and candidates:
            raise declared.error(f"{draft.name}:{declared.value} is already registered in {registry.url} with "
                                 "other content than this lock renders to (versions are never overwritten)",
                                 "bump version: to one not registered yet, or remove version: to let envlock "
                                 "number versions")
        number = next_version(versions) if declared is None else declared.value
        if dry_run:
            return result(number, "would create")
        if creation_tags is not None:
            draft = replace(draft, tags={**draft.tags, **creation_tags()})
            creation_tags = None
        candidate = EnvironmentVersion(**{**draft.__dict__, "version": number})
        # A PUT to an existing AML version with the same content updates its tags: never send one.
        # A conda file or build context names its lock (ENVLOCK_LOCK_SHA256, the header), so AML
        # refuses such a PUT with a 409; an image-only version does not, so its number is read first.
        if isinstance(draft.content, ImageOnly) and registry.get_version(draft.name, number) is not None:
            continue
        try:
            created = registry.create_version(candidate)
        except VersionExists:
            continue  # someone else took this number: read again and try the next one
        stored = registry.get_version(draft.name, number)
        if stored is None or not (stored.same_content(candidate) or stored.same_content(created)) \
                or not created.same_content(candidate) or stored.lock_sha256 != lock_sha256:
            raise RegistryError(f"{draft.name}:{number} reads back other content or another lock hash than "
                                "this register sent: another writer changed it at the same moment; compare "
                                f"envlock versions {draft.name} with the lock before registering again")
        return result(number, "created")
    raise RegistryError(f"{draft.name}: gave up after {MAX_ATTEMPTS} version conflicts; rerun register")


def run_register(repo: Repo, names: list[str], registry: Registry, *, dry_run: bool = False,
                 show_progress: bool = True, restore: bool = False, jobs: int | None = None) -> list[Registration]:
    """Every environment gets its own status: one that cannot be rendered or registered is
    reported as failed (with why) and the others still register. `jobs` environments at a time
    (default: as many as lock runs; register waits on the registry, not on the CPU)."""
    commits = commits_for(repo.root, {name: repo.environments_dir / name for name in names})
    registry_name = registry.url.split("azureml://registries/", 1)[1].strip("/") \
        if registry.url.startswith("azureml://registries/") else None
    progress = Progress(len(names), enabled=show_progress)

    settings = load_settings(repo.root)

    def register(name: str) -> tuple[Registration, float]:
        started = time.perf_counter()
        try:
            header = fresh_header(repo, name, settings)
            latest = registry.latest_version(name)
            if latest is not None and not latest.archived and holds_recorded_render(latest, header):
                # Unchanged, decided from the header: the lock is neither parsed nor rendered.
                reference = format_reference(name, latest.version, registry=registry_name)
                registration = Registration(name, latest.version, latest.lock_sha256 or "", "unchanged", reference)
                return registration, time.perf_counter() - started
            [(environment, lock)] = rendered_with_locks(repo, [name])
            registration = register_one(registry, draft_version(environment, commits[name]), dry_run=dry_run,
                                        registry_name=registry_name, latest=latest,
                                        creation_tags=partial(_sbom_tag, name, lock), restore=restore,
                                        declared=environment.declared_version)
        except EnvlockError as exc:
            registration = Registration(name, None, "", "failed", None, exc.message, exc.exit_code)
        return registration, time.perf_counter() - started

    results = []
    with ThreadPoolExecutor(max_workers=max(1, min(jobs or default_jobs(), len(names)))) as pool:
        for registration, seconds in pool.map(register, names):  # in the order asked, as they complete
            progress.finish(registration.name, f"failed: {registration.error}" if registration.failed else
                            f"{registration.status} {registration.reference or ''}".strip(), seconds)
            results.append(registration)
    return results


def _sbom_tag(name: str, lock: Lock) -> dict[str, str]:
    try:
        return {SBOM_TAG: registered_sbom_sha256(lock)}
    except MissingExtra as exc:  # the version is still registered, and says it has no SBOM hash
        echo_status(f"warning: {name}: no SBOM hash in its tags: {exc.message.splitlines()[0]}")
        return {}
