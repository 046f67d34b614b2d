"""`envlock clone-curated`: copy a Microsoft curated environment into an owned environment that is
exactly what the curated environment runs: its published image, by digest.

The curated definition comes from the AML registry (azure-ai-ml); its published image's tag is
resolved to a digest (OCI distribution API); the clone is an image-only declaration whose lock
holds the image's inventory (conda packages and Python distributions read from its layers), so
`register` makes it an owned version and `diff`/`verify`/`outdated` compare packages.
"""

from __future__ import annotations

import posixpath
import urllib.parse
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import yaml

from envlock.commands.lock import run_lock
from envlock.curated import curated_image, find_curated
from envlock.errors import EnvlockError, UsageError
from envlock.fsutil import atomic_write_many, remove
from envlock.httpget import http_get
from envlock.lockfile import read_lock
from envlock.oci import parse_image, resolve_digest
from envlock.registries.azureml import Definition
from envlock.render import ENV_SCHEMA
from envlock.repo import ENV_FILE, Repo
from envlock.runtime import DEFAULT_OS_TYPE
from envlock.settings import SETTINGS_FILE, load_settings
from envlock.spec import AML_NAME
from envlock.yamlio import dump_yaml

PROVENANCE_KEYS = ("source_registry", "source_name", "source_version", "image_tag", "image_digest")
# Files of an earlier clone (image + conda file) that an image-only clone no longer has.
OLD_CLONE_FILES = ("conda.yaml",)
CONTEXT_FOLDER = "context"  # --rebuild: the copied build context, next to env.yml


@dataclass(frozen=True)
class CloneResult:
    """One curated environment cloned into an owned, pinned declaration."""

    name: str
    status: str  # "cloned", "updated", "unchanged"
    source_name: str
    source_version: str
    image: str
    conda_packages: int
    pip_packages: int


def run_clone_curated(repo: Repo, curated: str, *, version: str | None, label: str | None,
                      new_name: str | None, registry_name: str, force: bool = False,
                      show_progress: bool = True, rebuild: bool = False) -> CloneResult:
    settings = load_settings(repo.root)
    definition = find_curated(repo, registry_name, curated, version, label)
    name = new_name or definition.name
    if not AML_NAME.match(name):
        raise UsageError(f"'{name}' is not a valid AML environment name; pass --as NAME")
    if rebuild:
        return _clone_build_context(repo, definition, name, registry_name, force, show_progress)
    image_tag = curated_image(definition)
    image = parse_image(image_tag)
    digest = image.digest or resolve_digest(image, dict(settings.image_mirrors))
    pinned = image.pinned(digest)

    folder = repo.environments_dir / name
    provenance = {
        "source_registry": registry_name, "source_name": definition.name,
        "source_version": definition.version, "image_tag": image_tag, "image_digest": digest,
    }
    previous = _check_replaceable(folder, name, definition, force)
    unchanged = previous is not None and all(previous.get(k) == v for k, v in provenance.items()) \
        and not any((folder / old).exists() for old in OLD_CLONE_FILES)
    if not unchanged:
        _write_clone(repo.root, folder, name, definition, pinned, provenance)
    run_lock(repo, [name], show_progress=show_progress)
    lock = read_lock(name, folder)
    packages = lock.packages if lock is not None else ()
    status = "unchanged" if unchanged else ("updated" if previous else "cloned")
    return CloneResult(name, status, definition.name, definition.version, pinned,
                       sum(1 for p in packages if p.manager == "conda"), sum(1 for p in packages if p.manager == "pip"))


def _check_replaceable(folder: Path, name: str, definition: Definition, force: bool) -> dict[str, str] | None:
    """The provenance of the clone already in the folder; refuses to replace anything else unless forced."""
    previous = _previous_provenance(folder)
    if folder.exists() and previous is None and not force:
        raise EnvlockError(f"environments/{name}/ exists and is not a clone; pass --as NEWNAME or --force")
    if previous is not None and previous.get("source_name") != definition.name and not force:
        raise EnvlockError(f"environments/{name}/ is a clone of {previous.get('source_name')}; "
                           "pass --as NEWNAME or --force")
    return previous


def _clone_build_context(repo: Repo, definition: Definition, name: str, registry_name: str, force: bool,
                         show_progress: bool) -> CloneResult:
    """--rebuild: the curated build context itself, as an owned build-context declaration to change."""
    files = _curated_context_files(definition)
    folder = repo.environments_dir / name
    provenance = {"source_registry": registry_name, "source_name": definition.name,
                  "source_version": definition.version, "build_context": definition.context_uri or ""}
    previous = _check_replaceable(folder, name, definition, force)
    unchanged = previous is not None and all(previous.get(k) == v for k, v in provenance.items())
    if not unchanged:
        env_yml: dict[str, object] = {
            "$schema": ENV_SCHEMA, "name": name,
            "build": {"path": CONTEXT_FOLDER, "dockerfile_path": definition.dockerfile_path or "Dockerfile"},
            "description": (f"Owned copy of the build context of curated environment {definition.name} version "
                            f"{definition.version} (AML registry {registry_name}), to change and rebuild. "
                            "Managed by envlock: update with envlock clone-curated --rebuild."),
            **_runtime_fields(definition),
        }
        settings = {"platforms": ["linux-64"],
                    "provenance": {**provenance, "cloned_on": date.today().isoformat()}}
        for old in (*OLD_CLONE_FILES, CONTEXT_FOLDER):
            remove(repo.root, folder / old)
        atomic_write_many({folder / ENV_FILE: dump_yaml(env_yml), folder / SETTINGS_FILE: dump_yaml(settings),
                           **{folder / CONTEXT_FOLDER / path: text for path, text in files.items()}}, root=repo.root)
    run_lock(repo, [name], show_progress=show_progress)
    lock = read_lock(name, folder)
    packages = lock.packages if lock is not None else ()
    status = "unchanged" if unchanged else ("updated" if previous else "cloned")
    return CloneResult(name, status, definition.name, definition.version, lock.image if lock else "",
                       sum(1 for p in packages if p.manager == "conda"), sum(1 for p in packages if p.manager == "pip"))


def _curated_context_files(definition: Definition) -> dict[str, str]:
    """The Dockerfile and every file it copies, read from the curated context's location."""
    base = definition.context_uri
    if not base or not base.startswith(("https://", "http://")):
        raise EnvlockError(f"curated {definition.name}:{definition.version} has no build context to copy; "
                           "clone it without --rebuild (its image)")
    base = base if base.endswith("/") else base + "/"
    dockerfile_path = definition.dockerfile_path or "Dockerfile"
    files = {dockerfile_path: _fetch_context_file(base, dockerfile_path)}
    for source in _copied_sources(files[dockerfile_path]):
        files[source] = _fetch_context_file(base, source)
    return files


def _copied_sources(dockerfile: str) -> list[str]:
    """Context files that COPY/ADD lines name (not URLs, other stages, or wildcards)."""
    sources: list[str] = []
    for line in dockerfile.replace("\\\n", " ").splitlines():
        words = line.split()
        if len(words) < 3 or words[0].upper() not in ("COPY", "ADD"):
            continue
        if any(w.startswith("--from") for w in words):
            continue
        arguments = [w for w in words[1:] if not w.startswith("--")]
        for source in arguments[:-1]:
            source = posixpath.normpath(source.strip('"[],'))
            if "://" in source or any(c in source for c in "*?$") or source.startswith(("/", "..")):
                continue
            if source not in sources and source != ".":
                sources.append(source)
    return sources


def _fetch_context_file(base: str, path: str) -> str:
    url = base + urllib.parse.quote(path)
    status, _, body = http_get(url)
    if status != 200:
        raise EnvlockError(f"cannot read {path} of the curated build context ({status} from {url.split('?')[0]})")
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        raise EnvlockError(f"{path} of the curated build context is not text; envlock copies text files") from None


def _previous_provenance(folder: Path) -> dict[str, str] | None:
    path = folder / SETTINGS_FILE
    if not path.is_file():
        return None
    data = yaml.safe_load(path.read_text()) or {}
    provenance = data.get("provenance") if isinstance(data, dict) else None
    if not isinstance(provenance, dict) or not ({"image_digest", "build_context"} & set(provenance)):
        return None
    return {str(k): str(v) for k, v in provenance.items()}


def _write_clone(root: Path, folder: Path, name: str, definition: Definition, pinned: str,
                 provenance: dict[str, str]) -> None:
    env_yml: dict[str, object] = {
        "$schema": ENV_SCHEMA,
        "name": name,
        "image": pinned,
        "description": (f"Owned clone of curated environment {definition.name} version {definition.version} "
                        f"(AML registry {provenance['source_registry']}): its image {provenance['image_tag']} "
                        f"pinned by digest. Managed by envlock: update with envlock clone-curated."),
        **_runtime_fields(definition),
    }
    user_tags = {k: v for k, v in definition.tags.items() if not k.startswith("envlock.")}
    if user_tags:
        env_yml["tags"] = user_tags
    settings = {"platforms": ["linux-64"], "provenance": {**provenance, "cloned_on": date.today().isoformat()}}
    atomic_write_many({folder / ENV_FILE: dump_yaml(env_yml), folder / SETTINGS_FILE: dump_yaml(settings)},
                      root=root)
    for old in OLD_CLONE_FILES:
        remove(root, folder / old)


def _runtime_fields(definition: Definition) -> dict[str, object]:
    """A curated inference image keeps its routes in the clone; the OS only when it is not AML's
    default (every definition read back names one)."""
    fields = definition.runtime.yaml_fields()
    if definition.runtime.effective_os_type == DEFAULT_OS_TYPE:
        fields.pop("os_type", None)
    return fields
