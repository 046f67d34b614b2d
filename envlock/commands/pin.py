"""`envlock pin`: rewrite job references to the exact versions registered for the current locks."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from envlock.commands.preflight import scan
from envlock.errors import EnvlockError, UsageError
from envlock.fsutil import atomic_write_many
from envlock.jobs import EnvironmentUse, replace_scalars
from envlock.lockfile import read_header
from envlock.refs import format_reference, parse_reference
from envlock.registries import Registry
from envlock.repo import Repo
from envlock.settings import load_settings
from envlock.spec import load_environment


@dataclass(frozen=True)
class PinChange:
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
            return {name: str(entry["version"]) for name, entry in mapping.items() if entry.get("version")}
        except (OSError, ValueError, AttributeError, KeyError, TypeError):
            raise UsageError(f"{from_file}: not the JSON that envlock register --output writes") from None
    assert registry is not None
    result = {}
    for name in sorted(names):
        header = read_header(repo.environments_dir / name)
        if header is None or header.recorded_lock_sha256 is None:
            continue
        matches = [v for v in registry.list_versions(name, archived_flag=False)
                   if v.lock_sha256 == header.recorded_lock_sha256]
        if matches:
            result[name] = min(matches, key=lambda v: int(v.version) if v.version.isdigit() else 1 << 60).version
    return result


def run_pin(repo: Repo, paths: list[Path], registry: Registry | None, *, from_file: Path | None = None,
            dry_run: bool = False) -> list[PinChange]:
    declared = set(repo.environment_names())
    clones = _clones_by_source(repo, declared)
    uses = [use for use in scan(repo, paths) if use.value]
    targets: dict[int, str] = {}
    wanted: set[str] = set()
    for index, use in enumerate(uses):
        try:
            ref = parse_reference(use.value or "")
        except EnvlockError:
            continue
        owned = ref.name if ref.registry is None and ref.name in declared else clones.get(ref.name)
        if owned:
            targets[index] = owned
            wanted.add(owned)
    versions = registered_versions(repo, wanted, registry, from_file)
    unregistered = sorted(wanted - set(versions))
    if unregistered:
        raise EnvlockError(f"no registered version matches the current lock of {', '.join(unregistered)}; "
                           "run envlock register first")
    by_file: dict[Path, list[tuple[EnvironmentUse, str]]] = {}
    changes = []
    for index, name in targets.items():
        use = uses[index]
        new = format_reference(name, versions[name])
        if new != use.value:
            by_file.setdefault(use.file, []).append((use, new))
            changes.append(PinChange(repo.relative(use.file), use.line, use.value or "", new))
    if not dry_run and by_file:
        atomic_write_many({path: replace_scalars(path.read_text(encoding="utf-8"), items)
                           for path, items in by_file.items()}, root=repo.root)
    return changes


def _clones_by_source(repo: Repo, declared: set[str]) -> dict[str, str]:
    """Curated source name -> the owned clone declared in this repository."""
    settings = load_settings(repo.root)
    clones = {}
    for name in sorted(declared):
        provenance = dict(load_environment(repo, name, settings).settings.provenance)
        if provenance.get("source_name") and provenance.get("image_digest"):
            clones[provenance["source_name"]] = name
            clones[f"AzureML-{provenance['source_name']}"] = name
    return clones
