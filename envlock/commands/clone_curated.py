"""`envlock clone-curated`: copy a Microsoft curated environment into an owned, pinned declaration.

The curated definition comes from the AML registry (azure-ai-ml); its published image's tag is
resolved to a digest (OCI distribution API); the clone records where it came from and is locked
like any other environment, so `register` makes it an owned version.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from envlock.commands.lock import run_lock
from envlock.errors import EnvlockError, UsageError
from envlock.fsutil import atomic_write_many, remove
from envlock.httpget import FetchError, http_get
from envlock.oci import parse_image, resolve_digest
from envlock.registries.azureml import AzureMLRegistry, Definition
from envlock.render import ENV_SCHEMA
from envlock.repo import ENV_FILE, Repo
from envlock.settings import SETTINGS_FILE, load_settings
from envlock.spec import AML_NAME, untemplated
from envlock.yamlio import dump_yaml

CURATED_IMAGE = "mcr.microsoft.com/azureml/curated/{name}:{version}"
WORKSPACE_PREFIX = "azureml-"
PROVENANCE_KEYS = ("source_registry", "source_name", "source_version", "image_tag", "image_digest")


@dataclass(frozen=True)
class CloneResult:
    name: str
    status: str  # "cloned", "updated", "unchanged"
    source_name: str
    source_version: str
    image: str
    conda_file: bool



def run_clone_curated(repo: Repo, curated: str, *, version: str | None, label: str | None,
                      new_name: str | None, registry_name: str, force: bool = False,
                      show_progress: bool = True) -> CloneResult:
    settings = load_settings(repo.root)
    registry = AzureMLRegistry.from_url(f"azureml://registries/{registry_name}", repo.root)
    definition = _find_definition(registry, curated, version, label)
    name = new_name or definition.name
    if not AML_NAME.match(name):
        raise UsageError(f"'{name}' is not a valid AML environment name; pass --as NAME")
    image_tag = definition.image or CURATED_IMAGE.format(name=definition.name, version=definition.version)
    image = parse_image(image_tag)
    digest = image.digest or resolve_digest(image, dict(settings.image_mirrors))
    pinned = image.pinned(digest)
    conda = _conda_declaration(definition, name)

    folder = repo.environments_dir / name
    provenance = {
        "source_registry": registry_name, "source_name": definition.name,
        "source_version": definition.version, "image_tag": image_tag, "image_digest": digest,
    }
    previous = _previous_provenance(folder)
    if folder.exists() and previous is None and not force:
        raise EnvlockError(f"environments/{name}/ exists and is not a clone; pass --as NEWNAME or --force")
    if previous is not None and previous.get("source_name") != definition.name and not force:
        raise EnvlockError(f"environments/{name}/ is a clone of {previous.get('source_name')}; "
                           "pass --as NEWNAME or --force")
    unchanged = previous is not None and all(previous.get(k) == v for k, v in provenance.items())
    if not unchanged:
        _write_clone(repo.root, folder, name, definition, pinned, conda, provenance)
    run_lock(repo, [name], show_progress=show_progress)
    status = "unchanged" if unchanged else ("updated" if previous else "cloned")
    return CloneResult(name, status, definition.name, definition.version, pinned, conda is not None)


def _find_definition(registry: AzureMLRegistry, curated: str, version: str | None,
                     label: str | None) -> Definition:
    candidates = [curated]
    if curated.lower().startswith(WORKSPACE_PREFIX):
        candidates.append(curated[len(WORKSPACE_PREFIX):])  # AzureML-sklearn-1.5 -> sklearn-1.5
    for candidate in candidates:
        definition = registry.get_definition(candidate, version=version, label=None if version else label)
        if definition is not None:
            return definition
    known = registry.list_names()
    wanted = candidates[-1]
    if version and any(c in known for c in candidates):
        raise EnvlockError(f"curated environment {wanted} has no version {version} in {registry.url}")
    close = difflib.get_close_matches(wanted, known, n=5, cutoff=0.5)
    hint = f"; close matches: {', '.join(close)}" if close else ""
    raise EnvlockError(f"no curated environment named {curated} in {registry.url}{hint}")


def _conda_declaration(definition: Definition, name: str) -> dict[str, Any] | None:
    text = definition.conda_file or _conda_from_build_context(definition)
    if not text:
        return None
    data = yaml.safe_load(text)
    if not isinstance(data, dict):
        raise EnvlockError(f"curated {definition.name}:{definition.version} has an unreadable conda file")
    channels = [c for c in data.get("channels") or ["conda-forge"] if c not in ("defaults", "nodefaults")]
    dependencies: list[Any] = []
    for dependency in data.get("dependencies") or []:
        if isinstance(dependency, dict) and "pip" in dependency:
            dependencies.append({"pip": [untemplated(str(r)) for r in dependency["pip"] or []]})
        else:
            dependencies.append(untemplated(str(dependency)))
    return {"name": name, "channels": channels or ["conda-forge"], "dependencies": dependencies}


def _conda_from_build_context(definition: Definition) -> str | None:
    base = definition.context_uri
    if not base or not base.startswith(("https://", "http://")):
        return None
    base = base if base.endswith("/") else base + "/"
    dockerfile = _fetch_text(base + (definition.dockerfile_path or "Dockerfile"))
    referenced = re.findall(r"^\s*(?:COPY|ADD)\s+(\S+\.ya?ml)\s", dockerfile or "", flags=re.M | re.I)
    for candidate in [*referenced, "conda_dependencies.yaml"]:
        text = _fetch_text(base + candidate)
        if text:
            return text
    return None


def _fetch_text(url: str) -> str | None:
    try:
        status, _, body = http_get(url)
    except FetchError as error:
        raise FetchError(f"cannot read the curated build context: {error.message}") from None
    return body.decode("utf-8") if status == 200 else None


def _previous_provenance(folder: Path) -> dict[str, str] | None:
    path = folder / SETTINGS_FILE
    if not path.is_file():
        return None
    data = yaml.safe_load(path.read_text()) or {}
    provenance = data.get("provenance") if isinstance(data, dict) else None
    if not isinstance(provenance, dict) or "image_digest" not in provenance:
        return None
    return {str(k): str(v) for k, v in provenance.items()}


def _write_clone(root: Path, folder: Path, name: str, definition: Definition, pinned: str, conda: dict[str, Any] | None,
                 provenance: dict[str, str]) -> None:
    env_yml: dict[str, Any] = {
        "$schema": ENV_SCHEMA,
        "name": name,
        "image": pinned,
        "description": (f"Owned clone of curated environment {definition.name} version {definition.version} "
                        f"(AML registry {provenance['source_registry']}); image {provenance['image_tag']} "
                        f"pinned by digest. Managed by envlock: update with envlock clone-curated."),
    }
    if conda is not None:
        env_yml["conda_file"] = "conda.yaml"
    user_tags = {k: v for k, v in definition.tags.items() if not k.startswith("envlock.")}
    if user_tags:
        env_yml["tags"] = user_tags
    settings = {"platforms": ["linux-64"], "provenance": {**provenance, "cloned_on": date.today().isoformat()}}
    files = {folder / ENV_FILE: dump_yaml(env_yml), folder / SETTINGS_FILE: dump_yaml(settings)}
    if conda is not None:
        files[folder / "conda.yaml"] = dump_yaml(conda)
    stale = [p for p in (folder / "conda.yaml",) if p.exists() and p not in files]
    atomic_write_many(files, root=root)
    for path in stale:
        remove(root, path)
