"""Parse and format AML environment references, the one place their grammar lives.

azureml:<name>:<version>, azureml:<name>@latest, <name>:<version>,
azureml://registries/<reg>/environments/<name>/versions/<v> and .../labels/<label>.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from envlock.errors import UsageError

_REGISTRY = re.compile(
    r"^azureml://registries/(?P<registry>[^/]+)/environments/(?P<name>[^/]+)"
    r"/(?:versions/(?P<version>[^/]+)|labels/(?P<label>[^/]+))$"
)
_SHORT = re.compile(
    r"^(?:azureml:)?(?P<name>[A-Za-z0-9][A-Za-z0-9\-_.]*)(?::(?P<version>[^:@/]+)|@(?P<label>[^:@/]+))?$"
)


@dataclass(frozen=True)
class EnvironmentRef:
    name: str
    version: str | None = None
    label: str | None = None
    registry: str | None = None

    def __str__(self) -> str:
        return format_reference(self.name, self.version, registry=self.registry, label=self.label)


def parse_reference(text: str) -> EnvironmentRef:
    value = text.strip()
    match = _REGISTRY.match(value)
    if match:
        return EnvironmentRef(match["name"], match["version"], match["label"], match["registry"])
    match = _SHORT.match(value)
    if match:
        return EnvironmentRef(match["name"], match["version"], match["label"])
    raise UsageError(f"'{text}' is not an environment reference: write azureml:<name>:<version> "
                     "or azureml://registries/<registry>/environments/<name>/versions/<version>")


def format_reference(name: str, version: str | None, *, registry: str | None = None,
                     label: str | None = None) -> str:
    if registry:
        tail = f"versions/{version}" if version else f"labels/{label or 'latest'}"
        return f"azureml://registries/{registry}/environments/{name}/{tail}"
    if version:
        return f"azureml:{name}:{version}"
    return f"azureml:{name}@{label or 'latest'}"
