"""Microsoft's curated environments: finding one in an AML registry, and the image it publishes."""

from __future__ import annotations

import difflib

from envlock.errors import EnvlockError
from envlock.registries.azureml import AzureMLRegistry, Definition
from envlock.repo import Repo

CURATED_IMAGE = "mcr.microsoft.com/azureml/curated/{name}:{version}"
WORKSPACE_PREFIX = "azureml-"


def curated_image(definition: Definition) -> str:
    """The image a curated version publishes (its definition's image, or the MCR naming rule)."""
    return definition.image or CURATED_IMAGE.format(name=definition.name, version=definition.version)


def find_curated(repo: Repo, registry_name: str, curated: str, version: str | None,
                 label: str | None) -> Definition:
    registry = AzureMLRegistry.from_url(f"azureml://registries/{registry_name}", repo.root)
    return _find_definition(registry, curated, version, label)


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
