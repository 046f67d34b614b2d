"""Parse and format AML environment references, the one place their grammar lives.

azureml:<name>:<version>, azureml:<name>@latest, <name>:<version>,
azureml://registries/<reg>/environments/<name>/versions/<v> and .../labels/<label>, and the
ARM id azureml:/subscriptions/<sub>/resourceGroups/<rg>/providers/Microsoft.MachineLearningServices/
workspaces/<ws>/environments/<name>/versions/<v> (an exact version, kept in that form when rewritten).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from envlock.errors import UsageError

_REGISTRY = re.compile(
    r"^azureml://registries/(?P<registry>[^/]+)/environments/(?P<name>[^/]+)"
    r"/(?:versions/(?P<version>[^/]+)|labels/(?P<label>[^/]+))$"
)
_ARM = re.compile(
    r"^(?P<prefix>azureml:/subscriptions/[^/]+/resource[gG]roups/[^/]+(?:/providers/[^/]+)?/workspaces/[^/]+)"
    r"/environments/(?P<name>[^/]+)/versions/(?P<version>[^/]+)$"
)
_SHORT = re.compile(
    r"^(?:azureml:)?(?P<name>[A-Za-z0-9][A-Za-z0-9\-_.]*)(?::(?P<version>[^:@/]+)|@(?P<label>[^:@/]+))?$"
)


@dataclass(frozen=True)
class EnvironmentRef:
    """A reference to an AML environment: azureml:name:version, name@label, or a registry's."""

    name: str
    version: str | None = None
    label: str | None = None
    registry: str | None = None
    workspace_id: str | None = None  # the ARM id of the workspace, when the reference was written as one

    def __str__(self) -> str:
        return self.with_version(self.version) if self.version else \
            format_reference(self.name, None, registry=self.registry, label=self.label)

    def with_version(self, version: str) -> str:
        """This reference pointing at `version`, in the form it was written (short, registry or ARM id)."""
        if self.workspace_id:
            return f"{self.workspace_id}/environments/{self.name}/versions/{version}"
        return format_reference(self.name, version, registry=self.registry)

    @property
    def identity(self) -> tuple[str, str]:
        """Which environment this is: a registry's environment differs from a workspace's of the same name."""
        return (f"registry {self.registry}" if self.registry else "workspace", self.name)


def parse_reference(text: str) -> EnvironmentRef:
    value = text.strip()
    match = _REGISTRY.match(value)
    if match:
        return EnvironmentRef(match["name"], match["version"], match["label"], match["registry"])
    match = _ARM.match(value)
    if match:
        return EnvironmentRef(match["name"], match["version"], workspace_id=match["prefix"])
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
