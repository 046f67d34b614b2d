"""An AML workspace or registry through azure-ai-ml, authenticated with DefaultAzureCredential.

Only this module imports azure-ai-ml (about 2 s), and only commands that talk to AML import it.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.machinery
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml

from envlock.errors import UsageError
from envlock.extras import require_extra
from envlock.httpget import check_ca_bundle
from envlock.kinds import DOCKERFILE, BuildContext, EnvironmentContent, ImageOnly, ImageWithConda
from envlock.network_limits import network_limits
from envlock.registries import EnvironmentVersion, RegistryError, RegistryUnreachable, VersionExists, newest_first
from envlock.runtime import InferenceConfig, Runtime, canonical_os_type

WORKSPACE_URL = re.compile(
    r"^azureml://subscriptions/(?P<sub>[^/]+)/resourcegroups/(?P<rg>[^/]+)/workspaces/(?P<ws>[^/]+)/?$",
    re.IGNORECASE,
)
REGISTRY_URL = re.compile(r"^azureml://registries/(?P<reg>[^/]+)/?$", re.IGNORECASE)


@dataclass(frozen=True)
class Definition:
    """An environment as an AML registry defines it (curated ones are build contexts)."""

    name: str
    version: str
    image: str | None
    conda_file: str | None
    context_uri: str | None
    dockerfile_path: str | None
    description: str | None
    tags: dict[str, str]
    runtime: Runtime = Runtime()  # a curated inference image's OS and routes travel with its clone


class AzureMLRegistry:
    def __init__(self, client: Any, url: str, repo_root: Path | None = None) -> None:
        self.client = client
        self.url = url
        self.repo_root = repo_root or Path.cwd()  # where uploads are staged (.envlock/upload)
        self.is_registry = bool(REGISTRY_URL.match(url))

    @classmethod
    def from_url(cls, url: str, repo_root: Path, credential: Any = None) -> AzureMLRegistry:
        require_extra("azure", f"the registry {url}", "azure.ai.ml", "azure.identity")
        check_ca_bundle()
        _import_sdk()
        from azure.ai.ml import MLClient
        from azure.identity import DefaultAzureCredential

        credential = credential or DefaultAzureCredential()
        workspace = WORKSPACE_URL.match(url)
        registry = REGISTRY_URL.match(url)
        limits = network_limits()
        # azure-core's defaults are 300 s per read and 10 retries: a silent registry would block for minutes.
        bounded: dict[str, Any] = {"connection_timeout": limits.connect_timeout, "read_timeout": limits.read_timeout,
                   "retry_total": limits.retries}
        with _translated_errors(url):
            cloud = _custom_cloud()
            if workspace:
                client = MLClient(credential, workspace["sub"], workspace["rg"], workspace["ws"], **bounded, **cloud)
            elif registry:
                client = MLClient(credential, registry_name=registry["reg"], **bounded, **cloud)
            elif url in ("azureml", "azureml://"):
                client = MLClient.from_config(credential, path=str(repo_root), **bounded, **cloud)
                url = (f"azureml://subscriptions/{client.subscription_id}/resourcegroups/"
                       f"{client.resource_group_name}/workspaces/{client.workspace_name}")
            else:
                raise UsageError(f"cannot read registry URL '{url}': use azureml://subscriptions/<sub>/"
                                 "resourcegroups/<rg>/workspaces/<ws> or azureml://registries/<name>")
        return cls(client, url, repo_root)

    def list_versions(self, name: str, archived_flag: bool = True) -> list[EnvironmentVersion]:
        from azure.ai.ml.constants import ListViewType
        from azure.core.exceptions import ResourceNotFoundError

        environments = self.client.environments
        with _translated_errors(self.url):
            try:
                if self.is_registry and not archived_flag:
                    return [_from_entity(item) for item in environments.list(name=name)]
                if not archived_flag:
                    return [_from_entity(i) for i in environments.list(name=name, list_view_type=ListViewType.ALL)]
                return self._list_with_archived_flag(name)
            except ResourceNotFoundError:
                return []

    def _list_with_archived_flag(self, name: str) -> list[EnvironmentVersion]:
        """One listing that keeps isArchived, which the SDK's Environment entity drops.

        Uses the SDK's own generated client (the call environments.list makes) with a converter
        that keeps the flag; falls back to two public listings if that internal surface changes.
        """
        from azure.ai.ml.constants import ListViewType
        from azure.ai.ml.entities import Environment

        environments = self.client.environments
        try:
            if self.is_registry:
                from azure.ai.ml._restclient.arm_ml_service.models import EnvironmentVersion as RestVersion
                from azure.ai.ml._utils._registry_utils import list_registry_assets

                pages = list_registry_assets(
                    environments._registry_service_client, "environments", name, environments._resource_group_name,
                    environments._registry_name, RestVersion,
                    lambda o: (Environment._from_rest_object(o), bool(o.properties.is_archived)),
                )
                return [_from_entity(entity, archived=archived) for entity, archived in pages]
            pages = environments._version_operations.list(
                name=name, workspace_name=environments._workspace_name, list_view_type=ListViewType.ALL,
                cls=lambda objs: [(Environment._from_rest_object(o), bool(o.properties.is_archived)) for o in objs],
                **environments._scope_kwargs, **environments._kwargs,
            )
            return [_from_entity(entity, archived=archived) for entity, archived in pages]
        except (AttributeError, TypeError, ImportError):
            if self.is_registry:
                return [_from_entity(item) for item in environments.list(name=name)]
            active = environments.list(name=name, list_view_type=ListViewType.ACTIVE_ONLY)
            archived = environments.list(name=name, list_view_type=ListViewType.ARCHIVED_ONLY)
            return [_from_entity(i) for i in active] + [_from_entity(i, archived=True) for i in archived]

    def get_version(self, name: str, version: str) -> EnvironmentVersion | None:
        # The SDK's get is its own _get (the GET of the version) plus the entity conversion that
        # _from_rest avoids; register reads back every version it creates.
        from azure.core.exceptions import ResourceNotFoundError

        environments = self.client.environments
        get_rest = getattr(environments, "_get", None)
        with _translated_errors(self.url):
            try:
                if get_rest is None:  # the SDK moved its helper: its public get and conversion
                    return _from_entity(environments.get(name, version=version))
                return _from_rest(get_rest(name, version))
            except ResourceNotFoundError:
                return None

    def latest_version(self, name: str) -> EnvironmentVersion | None:
        # One GET (versions?$orderBy=createdtime desc&$top=1) whatever the history: the service's
        # version list takes $orderBy, $top, $skip and listViewType but no tag filter
        # (EnvironmentVersions_List, api-version 2023-04-01-preview and later), so finding a lock
        # hash among older versions costs a full listing; register does that only on a change.
        # The SDK's `get(label="latest")` makes this request but drops isArchived, which register
        # needs (an archived version is never reused): its own helper is called with the raw result.
        from azure.ai.ml.exceptions import ValidationException
        from azure.core.exceptions import ResourceNotFoundError

        environments = self.client.environments
        with _translated_errors(self.url):
            try:
                from azure.ai.ml._restclient.arm_ml_service.models import EnvironmentVersion as RestVersion
                from azure.ai.ml._utils._asset_utils import _get_latest

                rest: Any = _get_latest(name, environments._version_operations, environments._resource_group_name,
                                   environments._workspace_name, environments._registry_name,
                                   registry_service_client=environments._registry_service_client,
                                   asset_plural="environments", arm_cls=RestVersion)
            except (ResourceNotFoundError, ValidationException):
                return None
            except (AttributeError, TypeError, ImportError):  # the SDK moved its helper: list instead
                return next(iter(newest_first(self.list_versions(name))), None)
            if rest is None:
                return None
            return _from_rest(rest)

    def create_version(self, draft: EnvironmentVersion) -> EnvironmentVersion:
        from azure.ai.ml.entities import Environment
        from azure.core.exceptions import HttpResponseError, ResourceExistsError

        content = draft.content
        # os_type and inference_config as `az ml environment create --file` passes them: the SDK
        # sends properties.osType and properties.inferenceConfig, which the service keeps immutable.
        match content:
            case ImageOnly(image=image):
                entity = Environment(name=draft.name, version=draft.version, image=image,
                                     description=draft.description, tags=dict(draft.tags), **draft.runtime.declared())
            case ImageWithConda(image=image, conda_file=conda_file):
                entity = Environment(name=draft.name, version=draft.version, image=image,
                                     conda_file=yaml.safe_load(conda_file), description=draft.description,
                                     tags=dict(draft.tags), **draft.runtime.declared())
            case BuildContext():
                return self._create_build_context(draft, content)
        with _translated_errors(self.url):
            try:
                created = self.client.environments.create_or_update(entity)
            except ResourceExistsError:
                raise VersionExists(f"{draft.name}:{draft.version} already exists") from None
            except HttpResponseError as error:
                if error.status_code == 409:  # a registry's long-running create reports it this way
                    raise VersionExists(f"{draft.name}:{draft.version} already exists") from None
                raise
        return _from_entity(created)

    def _create_build_context(self, draft: EnvironmentVersion, content: BuildContext) -> EnvironmentVersion:
        """As `az ml environment create --file` does: the SDK uploads the context folder to the
        workspace's default blob datastore (content-addressed by its hash), then PUTs the version
        with build.contextUri."""
        import shutil
        import tempfile

        from azure.ai.ml.entities import BuildContext as SdkBuildContext
        from azure.ai.ml.entities import Environment
        from azure.core.exceptions import ResourceExistsError

        if self.is_registry:
            raise RegistryError(f"{draft.name}: envlock registers build contexts in workspaces; "
                                "register it in a workspace, then share it to the registry")
        staging_root = self.repo_root / ".envlock" / "upload"
        staging_root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f"{draft.name}-", dir=staging_root))
        try:
            folder = staging / "context"  # the SDK names the upload after the folder
            for path, text in content.files:
                target = folder / path
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(text, encoding="utf-8", newline="\n")
            entity = Environment(name=draft.name, version=draft.version, description=draft.description,
                                 tags=dict(draft.tags),
                                 build=SdkBuildContext(path=str(folder), dockerfile_path=content.dockerfile_path),
                                 **draft.runtime.declared())
            with _translated_errors(self.url):
                try:
                    created = self.client.environments.create_or_update(entity)
                except ResourceExistsError:
                    raise VersionExists(f"{draft.name}:{draft.version} already exists") from None
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        stored = _from_entity(created)
        location = stored.content.location if isinstance(stored.content, BuildContext) else None
        return EnvironmentVersion(stored.name, stored.version, BuildContext(content.files, content.dockerfile_path,
                                                                            location=location),
                                  stored.description, stored.tags, stored.created_at, stored.archived,
                                  stored.runtime)

    def get_definition(self, name: str, version: str | None = None, label: str | None = None) -> Definition | None:
        """The full definition of one version (by number or label), or None when it does not exist."""
        from azure.ai.ml.exceptions import ValidationException
        from azure.core.exceptions import ResourceNotFoundError

        with _translated_errors(self.url):
            try:
                entity = self.client.environments.get(name, version=version) if version else \
                    self.client.environments.get(name, label=label or "latest")
            except (ResourceNotFoundError, ValidationException):
                return None
        stored = _from_entity(entity)
        build = entity.build
        content = stored.content
        return Definition(stored.name, stored.version,
                          content.image if isinstance(content, (ImageOnly, ImageWithConda)) else None,
                          content.conda_file if isinstance(content, ImageWithConda) else None,
                          getattr(build, "path", None), getattr(build, "dockerfile_path", None),
                          stored.description, stored.tags, stored.runtime)

    def list_names(self) -> list[str]:
        with _translated_errors(self.url):
            return sorted(str(item.name) for item in self.client.environments.list())

    def set_archived(self, name: str, version: str, archived: bool) -> None:
        with _translated_errors(self.url):
            if archived:
                self.client.environments.archive(name, version=version)
            else:
                self.client.environments.restore(name, version=version)


METADATA_URL_VARIABLE = "ARM_CLOUD_METADATA_URL"  # a custom cloud's endpoints (azure-ai-ml reads it)
CURRENT_CLOUD_VARIABLE = "AZUREML_CURRENT_CLOUD"  # the cloud azure-ai-ml settled on, for the whole process
_SDK_CLOUDS_MODULE = "azure.ai.ml._azure_environments"


def _import_sdk() -> None:
    """Import azure-ai-ml so that a custom cloud's metadata (ARM_CLOUD_METADATA_URL) is read once.

    azure-ai-ml 1.x caches a cloud it reads from the metadata URL under the wrong key
    (`_environments.update(clouds[name])`), so it reads the metadata again for every endpoint it
    looks up: 5 GETs while importing (class defaults) and more for every client. Right after its
    cloud table is defined, the cloud is read once with the SDK's own reader, chosen as the SDK
    chooses it and entered in the table under its name, which is recorded as the SDK records it
    (AZUREML_CURRENT_CLOUD): every later lookup finds it. The public clouds need no metadata.
    """
    if "azure.ai.ml" in sys.modules or not os.environ.get(METADATA_URL_VARIABLE):
        import azure.ai.ml  # noqa: F401
        return
    finder = _CloudReadOnce()
    sys.meta_path.insert(0, finder)
    try:
        import azure.ai.ml  # noqa: F401
    finally:
        sys.meta_path.remove(finder)


class _CloudReadOnce(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Loads the SDK's cloud module as usual, then seeds its table (see _import_sdk)."""

    def __init__(self) -> None:
        self.loader: Any = None

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> importlib.machinery.ModuleSpec | None:
        if fullname != _SDK_CLOUDS_MODULE:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None or self.loader is not None:
            return spec
        self.loader = spec.loader
        spec.loader = self
        return spec

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> Any:
        return self.loader.create_module(spec)

    def exec_module(self, module: Any) -> None:
        self.loader.exec_module(module)
        with contextlib.suppress(AttributeError):  # the SDK moved its table: it reads the metadata itself
            _seed_cloud(module)


def _seed_cloud(module: Any) -> None:
    current = os.environ.get(CURRENT_CLOUD_VARIABLE)
    if current in module._environments:  # a public cloud, or one already known: the SDK reads nothing
        return
    url = os.environ[METADATA_URL_VARIABLE]
    clouds = module._get_clouds_by_metadata_url(url)
    # The SDK's own choice (_get_default_cloud_name): the cloud named by AZUREML_CURRENT_CLOUD, else
    # the one whose resource manager the metadata URL is under.
    resource_manager = module.EndpointURLS.RESOURCE_MANAGER_ENDPOINT
    name = current or next((name for name, endpoints in clouds.items()
                            if str(endpoints.get(resource_manager, "\0")) in url), None)
    if name is not None and name in clouds:
        module._environments[name] = clouds[name]
        os.environ[CURRENT_CLOUD_VARIABLE] = name


def _custom_cloud() -> dict[str, Any]:
    """MLClient's cloud arguments when azure-ai-ml was imported before the seed could be planted
    (tests import it in-process): the custom cloud read once and passed as `cloud`/`cloud_metadata`,
    which MLClient enters in the SDK's table. Nothing when the table already holds the current cloud.
    """
    url = os.environ.get(METADATA_URL_VARIABLE)
    if not url:
        return {}
    try:
        from azure.ai.ml._azure_environments import EndpointURLS, _environments, _get_clouds_by_metadata_url
    except ImportError:  # the SDK moved its helpers: let it read the metadata itself
        return {}
    if os.environ.get(CURRENT_CLOUD_VARIABLE) in _environments:
        return {}
    for name, endpoints in _get_clouds_by_metadata_url(url).items():
        if str(endpoints.get(EndpointURLS.RESOURCE_MANAGER_ENDPOINT, "\0")) in url:
            return {"cloud": name, "cloud_metadata": endpoints}
    return {}


def _content(entity: Any) -> EnvironmentContent:
    """The kind AML reports: a build (context URI), an image with a conda file, or an image."""
    if entity.build is not None:
        return BuildContext((), entity.build.dockerfile_path or DOCKERFILE, location=entity.build.path)
    # The SDK parses condaFile into a dict and keeps the text it received beside it.
    conda_text = getattr(entity, "_translated_conda_file", None)
    if conda_text is None and isinstance(entity.conda_file, dict):
        conda_text = yaml.safe_dump(entity.conda_file, sort_keys=False)
    if conda_text is not None:
        return ImageWithConda(str(entity.image), conda_text)
    return ImageOnly(str(entity.image))


def _from_entity(entity: Any, archived: bool = False) -> EnvironmentVersion:
    created: Any = entity.creation_context.created_at if entity.creation_context else None
    return _version(entity.name, entity.version, _content(entity), entity.description, entity.tags, created,
                    archived, getattr(entity, "os_type", None), getattr(entity, "inference_config", None))


def _from_rest(rest: Any) -> EnvironmentVersion:
    """What _from_entity reads, from the service's answer itself: the SDK's conversion to an entity
    parses the conda file with PyYAML's pure-Python loader (about 10 ms for a big environment, with
    the GIL held), and register keeps the text."""
    from azure.ai.ml._utils._arm_id_utils import AMLVersionedArmId

    properties = rest.properties
    arm_id = AMLVersionedArmId(arm_id=rest.id)  # type: ignore[no-untyped-call]
    if properties.build is not None:
        build = properties.build
        content: EnvironmentContent = BuildContext((), build.dockerfile_path or DOCKERFILE, location=build.context_uri)
    elif properties.conda_file:
        content = ImageWithConda(str(properties.image), properties.conda_file)
    else:
        content = ImageOnly(str(properties.image))
    created = rest.system_data.created_at if rest.system_data else None
    return _version(arm_id.asset_name, arm_id.asset_version, content, properties.description, properties.tags,
                    created, bool(properties.is_archived), properties.os_type, properties.inference_config)


def _version(name: str, version: Any, content: EnvironmentContent, description: str | None,
             tags: dict[str, Any] | None, created: Any, archived: bool, os_type: Any,
             inference_config: Any) -> EnvironmentVersion:
    return EnvironmentVersion(
        name=name, version=str(version), content=content,
        description=description, tags={str(k): str(v) for k, v in (tags or {}).items()},
        created_at=created.isoformat() if hasattr(created, "isoformat") else str(created or ""),
        archived=archived,
        runtime=Runtime(canonical_os_type(os_type) or (str(os_type) if os_type else None),
                        InferenceConfig.from_stored(inference_config)),
    )


class _translated_errors:
    """Turns azure-core and azure-ai-ml exceptions into one clear EnvlockError."""

    def __init__(self, url: str) -> None:
        self.url = url

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, error: Any, traceback: Any) -> Literal[False]:
        if error is None or isinstance(error, (VersionExists, RegistryError, UsageError)):
            return False
        from azure.core.exceptions import (
            ClientAuthenticationError,
            HttpResponseError,
            ResourceExistsError,
            ResourceNotFoundError,
            ServiceRequestError,
            ServiceResponseError,
        )

        if isinstance(error, (ResourceExistsError, ResourceNotFoundError)):
            return False
        if isinstance(error, ClientAuthenticationError):
            raise RegistryError(f"cannot authenticate to {self.url}: {_short(error)}\n"
                                "  fix: run az login, or set AZURE_CLIENT_ID/AZURE_TENANT_ID/"
                                "AZURE_CLIENT_SECRET for a service principal") from None
        if isinstance(error, (ServiceRequestError, ServiceResponseError)):
            raise RegistryUnreachable(f"cannot reach {self.url}: {_short(error)} (gave up after "
                                      f"{network_limits().describe()})\n"
                                      "  fix: check the network and rerun; nothing was overwritten") from None
        if isinstance(error, HttpResponseError):
            unavailable = error.status_code is not None and (error.status_code >= 500 or error.status_code == 429)
            kind = RegistryUnreachable if unavailable else RegistryError
            raise kind(f"{self.url} answered {error.status_code}: {_short(error)}\n"
                       "  fix: rerun; registration is idempotent") from None
        from azure.ai.ml.exceptions import MlException

        if isinstance(error, MlException):
            raise RegistryError(f"{self.url}: {_short(error)}") from None
        return False


def _short(error: BaseException) -> str:
    text = str(getattr(error, "message", None) or error).strip()
    return text.splitlines()[0][:300] if text else type(error).__name__
