"""Where environment versions live, behind one protocol; backends are chosen by URL.

- sqlite:///abs/path.db or sqlite:relative/path.db: the embedded default (.envlock/registry.db)
- azureml://subscriptions/<sub>/resourcegroups/<rg>/workspaces/<ws>: an AML workspace
- azureml://registries/<name>: an AML registry
- azureml: the workspace named by the config.json that MLClient.from_config reads
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from envlock.errors import EnvlockError, ServiceUnreachable, UsageError
from envlock.kinds import EnvironmentContent, same_content
from envlock.runtime import Runtime

DEFAULT_REGISTRY_PATH = ".envlock/registry.db"
REGISTRY_ENV_VAR = "ENVLOCK_REGISTRY"


class VersionExists(EnvlockError):
    """The version is taken; the service never lets it be overwritten."""


class RegistryError(EnvlockError):
    """The registry refused a read or write (authentication, a rejected request)."""


class RegistryUnreachable(RegistryError, ServiceUnreachable):
    """The registry did not answer, or answered 5xx/429 past its retries: exit 4."""


@dataclass(frozen=True)
class EnvironmentVersion:
    """One registered, immutable environment version (content) plus its mutable metadata."""

    name: str
    version: str
    content: EnvironmentContent
    description: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    created_at: str = ""
    archived: bool = False
    runtime: Runtime = Runtime()  # os_type and inference_config: content as well

    @property
    def lock_sha256(self) -> str | None:
        return self.tags.get("envlock.lock-sha256")

    def same_content(self, other: EnvironmentVersion) -> bool:
        """Equal content (image, conda file as YAML data, build context, os_type and inference
        routes): what AML keeps immutable."""
        return same_content(self.content, other.content) and self.runtime.same_as(other.runtime)


class Registry(Protocol):
    url: str

    def list_versions(self, name: str, archived_flag: bool = True) -> list[EnvironmentVersion]:
        """Every version of `name`, archived ones included, in no particular order.

        With archived_flag=False a backend may leave `archived` unset to save requests.
        """

    def get_version(self, name: str, version: str) -> EnvironmentVersion | None: ...

    def latest_version(self, name: str) -> EnvironmentVersion | None:
        """The most recently created version (archived or not), in one read whatever the history.

        register asks this first: a repository registered before is usually unchanged since.
        """

    def create_version(self, draft: EnvironmentVersion) -> EnvironmentVersion:
        """Create exactly this version; raise VersionExists when it is taken."""

    def set_archived(self, name: str, version: str, archived: bool) -> None: ...


def registry_url(explicit: str | None, configured: str | None) -> str | None:
    return explicit or os.environ.get(REGISTRY_ENV_VAR) or configured


def open_registry(url: str | None, repo_root: Path) -> Registry:
    """The backend for a registry URL (the embedded SQLite registry when there is none)."""
    if not url:
        url = f"sqlite:{DEFAULT_REGISTRY_PATH}"
    if url.startswith("sqlite:"):
        from envlock.registries.local import SqliteRegistry

        rest = url[len("sqlite:"):]
        if rest.startswith("///"):
            path = Path(rest[2:])
        elif rest and not rest.startswith("/"):
            from envlock.fsutil import safe_path

            path = safe_path(repo_root, repo_root / rest)  # .envlock/ linked outside is refused
        else:
            raise UsageError(f"registry URL '{url}': write sqlite:///absolute/path.db or sqlite:relative/path.db")
        return SqliteRegistry(path, url)
    if url == "azureml" or url.startswith("azureml://"):
        from envlock.registries.azureml import AzureMLRegistry

        return AzureMLRegistry.from_url(url, repo_root)
    raise UsageError(f"unknown registry URL '{url}': use sqlite:///path/to/registry.db, "
                     "azureml://subscriptions/<sub>/resourcegroups/<rg>/workspaces/<ws>, "
                     "azureml://registries/<name> or azureml (from config.json)")


def integer_versions(versions: list[EnvironmentVersion]) -> list[int]:
    return [int(v.version) for v in versions if v.version.isdigit()]


def next_version(versions: list[EnvironmentVersion]) -> str:
    """One above the highest integer version, whatever other versions exist."""
    return str(max(integer_versions(versions), default=0) + 1)


def newest_first(versions: list[EnvironmentVersion]) -> list[EnvironmentVersion]:
    return sorted(versions, key=lambda v: (v.created_at, int(v.version) if v.version.isdigit() else -1),
                  reverse=True)
