"""`envlock pin`: rewrite job references to the exact versions registered for the current locks."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from envlock.errors import DeclarationError, EnvlockError, UsageError
from envlock.fsutil import atomic_write_many
from envlock.jobs import EnvironmentUse, read_job_text, replace_scalars, scan_files
from envlock.refs import EnvironmentRef, format_reference, parse_reference
from envlock.registries import Registry
from envlock.repo import Repo
from envlock.settings import load_settings
from envlock.spec import load_environment


@dataclass(frozen=True)
class PinChange:
    """One reference in a job file rewritten to an exact name:version."""

    file: str
    line: int
    old: str
    new: str



def registered_versions(repo: Repo, names: set[str], registry: Registry | None,
                        from_file: Path | None) -> dict[str, str]:
    """name -> the version registered for its current lock."""
    if from_file is not None:
        try:
            mapping = json.loads(from_file.read_text())
            versions = {name: entry["version"] for name, entry in mapping.items() if entry.get("version")}
            if not all(isinstance(version, (str, int)) for version in versions.values()):
                raise TypeError("a version is not a string")
            return {name: str(version) for name, version in versions.items()}
        except (OSError, ValueError, AttributeError, KeyError, TypeError):
            raise UsageError(f"{from_file}: not the JSON that envlock register --output writes "
                             '({"<name>": {"version": "<n>", ...}, ...})\n'
                             "  fix: give the file `envlock register -o FILE` wrote") from None
    assert registry is not None
    from envlock.fresh_render import rendered_for
    from envlock.trust import holds

    result = {}
    for name in sorted(names):
        try:
            rendered = rendered_for(repo, [name])[0]
        except EnvlockError:
            continue  # no fresh lock: reported as unregistered
        # Trust content, not tags: an edited or archived version is never a pin target.
        matches = [v for v in registry.list_versions(name, archived_flag=True)
                   if not v.archived and holds(v, rendered)]
        if matches:
            result[name] = min(matches, key=lambda v: int(v.version) if v.version.isdigit() else 1 << 60).version
    return result


@dataclass(frozen=True)
class PinResult:
    """What `envlock pin` rewrote, and the environments it left alone with their reasons."""

    changes: list[PinChange]
    problems: list[EnvlockError]  # environments left as they were, each with its reason

    @property
    def exit_code(self) -> int:
        return max((problem.exit_code for problem in self.problems), default=0)


def run_pin(repo: Repo, paths: list[Path], registry: Registry | None, *, from_file: Path | None = None,
            dry_run: bool = False) -> PinResult:
    declared = set(repo.environment_names())
    problems: list[EnvlockError] = []
    clones = _clones_by_source(repo, declared, problems)
    uses = [use for use in scan_files(repo.root, paths).uses if use.value and use.rewritable]
    targets: dict[int, tuple[str, EnvironmentRef]] = {}
    wanted: set[str] = set()
    for index, use in enumerate(uses):
        try:
            ref = parse_reference(use.value or "")
        except EnvlockError:
            continue
        owned = ref.name if ref.registry is None and ref.name in declared else clones.get(ref.name)
        if owned:
            targets[index] = (owned, ref)
            wanted.add(owned)
    versions = registered_versions(repo, wanted, registry, from_file)
    for name in sorted(wanted - set(versions)):
        problems.append(EnvlockError(f"{name}: no registered version matches its current lock; its references "
                                     f"were left as they are (run envlock register {name}, then pin again)"))
    by_file: dict[Path, list[tuple[EnvironmentUse, str]]] = {}
    changes = []
    for index, (name, ref) in targets.items():
        if name not in versions:
            continue
        use = uses[index]
        new = ref.with_version(versions[name]) if name == ref.name and ref.registry is None \
            else format_reference(name, versions[name])
        if new != use.value and all(use.start != other.start for other, _ in by_file.get(use.file, [])):
            by_file.setdefault(use.file, []).append((use, new))
            changes.append(PinChange(repo.relative(use.file), use.line, use.value or "", new))
    if not dry_run and by_file:
        rewritten = {}
        for path, items in by_file.items():
            job = read_job_text(path)
            rewritten[path] = job.encode(replace_scalars(job.text, items))
        atomic_write_many(rewritten, root=repo.root)
    return PinResult(changes, problems)


def _clones_by_source(repo: Repo, declared: set[str], problems: list[EnvlockError]) -> dict[str, str]:
    """Curated source name -> the owned clone declared in this repository (invalid declarations reported)."""
    settings = load_settings(repo.root)
    clones = {}
    for name in sorted(declared):
        try:
            provenance = dict(load_environment(repo, name, settings).settings.provenance)
        except DeclarationError as error:
            problems.append(error)
            continue
        if provenance.get("source_name") and provenance.get("image_digest"):
            clones[provenance["source_name"]] = name
            clones[f"AzureML-{provenance['source_name']}"] = name
    return clones
