"""`envlock build`: lock what is stale, then render what AML will receive into build/."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from envlock import __version__
from envlock.commands.lock import LockOutcome, run_lock
from envlock.fresh_render import rendered_for
from envlock.fsutil import atomic_write, atomic_write_many, remove, safe_path
from envlock.kinds import named_image
from envlock.render import RenderedEnvironment
from envlock.repo import Repo

MANIFEST = "manifest.json"


@dataclass(frozen=True)
class BuildResult:
    """What `envlock build` locked and rendered."""

    outcomes: list[LockOutcome]
    rendered: list[RenderedEnvironment]


def run_build(repo: Repo, names: list[str], *, show_progress: bool = True) -> BuildResult:
    for name in names:  # before anything is locked: a build folder linked outside stops the run unchanged
        safe_path(repo.root, repo.build_dir / name)
        safe_path(repo.root, repo.build_dir / MANIFEST)
    outcomes = run_lock(repo, names, show_progress=show_progress, refuse_edited=True)
    rendered = rendered_for(repo, names)
    for environment in rendered:
        folder = repo.build_dir / environment.name
        real_folder = safe_path(repo.root, folder)  # refuses build/ or build/<name> linked outside
        files = {folder / name: text for name, text in environment.files}
        atomic_write_many(files, root=repo.root)
        wanted = {Path(name) for name, _ in environment.files}
        needed = wanted | {parent for name in wanted for parent in name.parents}
        for leftover in sorted(real_folder.rglob("*"), reverse=True):  # files before their folders
            relative = leftover.relative_to(real_folder)
            if relative not in needed:
                remove(repo.root, folder / relative)
    _update_manifest(repo, rendered)
    return BuildResult(outcomes, rendered)


def _update_manifest(repo: Repo, rendered: list[RenderedEnvironment]) -> None:
    path = repo.build_dir / MANIFEST
    known = set(repo.environment_names())
    entries = {}
    if path.is_file():
        try:  # envlock's own output: one it cannot read is rewritten from what is built now
            entries = json.loads(path.read_text()).get("environments", {})
        except (ValueError, AttributeError):
            entries = {}
        if not isinstance(entries, dict):
            entries = {}
    entries = {name: entry for name, entry in entries.items() if name in known}
    for environment in rendered:
        entries[environment.name] = {
            "name": environment.name,
            "lock_sha256": environment.lock_sha256,
            "inputs_sha256": environment.inputs_sha256,
            "kind": environment.content.kind.value,
            "image": named_image(environment.content),
            "files": environment.file_hashes(),
        }
    manifest = {"envlock_version": __version__, "environments": dict(sorted(entries.items()))}
    atomic_write(path, json.dumps(manifest, indent=2, sort_keys=True) + "\n", root=repo.root)
