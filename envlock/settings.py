"""envlock.yaml: the settings envlock needs beyond AML's environment schema.

The root file holds defaults and a per-environment `environments:` map; an optional
environments/<name>/envlock.yaml overrides both for one environment (clone-curated writes
its provenance there).
"""

from __future__ import annotations

import datetime
import os
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from envlock.errors import DeclarationError
from envlock.fsutil import resolve
from envlock.platforms import KNOWN_PLATFORMS
from envlock.yamlio import declaration_error, line_of, load_yaml, reject_unknown_keys, suggest

if TYPE_CHECKING:
    from urllib.parse import SplitResult

SETTINGS_FILE = "envlock.yaml"
DEFAULT_PLATFORMS = ("linux-64",)
DEFAULT_PIP_INDEX_URL = "https://pypi.org/simple"

VIRTUAL_VERSION = re.compile(r"^[0-9]+(\.[0-9A-Za-z_]+)*$")
VIRTUAL_EXAMPLES = {"__glibc": "2.28", "__osx": "11.0", "__cuda": "12.1", "__win": "0", "__linux": "5.10"}
ENVIRONMENT_KEYS = ("platforms", "virtual_packages", "python", "provenance")
ROOT_KEYS = ("platforms", "virtual_packages", "mirrors", "image_mirrors", "pip_index_url", "registry",
             "environments", "audit", "audit_url", "defaults_channels")
AUDIT_KEYS = ("ignore", "fail_on")
IGNORE_KEYS = ("id", "reason", "until")
SEVERITY_LEVELS = ("low", "medium", "high", "critical")


@dataclass(frozen=True)
class EnvironmentSettings:
    """The settings that apply to one environment (envlock.yaml, then its own)."""

    platforms: tuple[str, ...] = DEFAULT_PLATFORMS
    virtual_packages: tuple[tuple[str, str], ...] = ()
    python: str | None = None
    provenance: tuple[tuple[str, str], ...] = ()
    defaults_channels: tuple[str, ...] = ()  # what a conda file's `defaults` channel stands for

    def solve_inputs(self) -> dict[str, Any]:
        """The settings that change a lock's content (part of its input hash)."""
        return {
            "platforms": list(self.platforms),
            "virtual_packages": dict(self.virtual_packages),
            "python": self.python,
        }


@dataclass(frozen=True)
class AuditIgnore:
    """An advisory accepted for a reason until a date (then it is a finding again)."""

    id: str
    reason: str
    until: datetime.date
    line: int | None


@dataclass(frozen=True)
class AuditSettings:
    """What audit ignores, and the severity at which it fails."""

    ignore: tuple[AuditIgnore, ...] = ()
    fail_on: str | None = None  # the level at which audit and register fail by default


@dataclass(frozen=True)
class Settings:
    """The repository's envlock.yaml."""

    root: Path
    platforms: tuple[str, ...] = DEFAULT_PLATFORMS
    virtual_packages: tuple[tuple[str, str], ...] = ()
    mirrors: tuple[tuple[str, str], ...] = ()
    # image registry host -> URL to read manifests from (an internal mirror of mcr.microsoft.com)
    image_mirrors: tuple[tuple[str, str], ...] = ()
    pip_index_url: str = DEFAULT_PIP_INDEX_URL
    registry: str | None = None
    audit_url: str | None = None
    audit: AuditSettings = AuditSettings()
    defaults_channels: tuple[str, ...] = ()
    per_environment: dict[str, dict[str, Any]] = field(default_factory=dict)

    def for_environment(self, name: str, folder: Path, *, has_local_file: bool | None = None) -> EnvironmentSettings:
        """`has_local_file`: whether the folder holds an envlock.yaml, when the caller has listed it."""
        local = folder / SETTINGS_FILE
        if has_local_file is None:
            has_local_file = os.path.isfile(local)
        if not self.per_environment.get(name) and not has_local_file:
            return self._shared_environment_settings  # check asks this for every environment
        merged: dict[str, Any] = {
            "platforms": self.platforms,
            "virtual_packages": dict(self.virtual_packages),
            "defaults_channels": self.defaults_channels,
        }
        sources = [(self.root / SETTINGS_FILE, ["environments", name], self.per_environment.get(name))]
        if local.is_file():
            sources.append((local, [], _mapping(local, [], load_yaml(local) or {})))
        for path, prefix, overrides in sources:
            if not overrides:
                continue
            reject_unknown_keys(path, prefix, overrides, ENVIRONMENT_KEYS)
            if "platforms" in overrides:
                merged["platforms"] = _platforms(path, [*prefix, "platforms"], overrides["platforms"])
            if "virtual_packages" in overrides:
                merged["virtual_packages"].update(
                    _virtual_packages(path, [*prefix, "virtual_packages"], overrides["virtual_packages"])
                )
            if "python" in overrides:
                merged["python"] = _python(path, [*prefix, "python"], overrides["python"])
            if "provenance" in overrides:
                provenance = _mapping(path, [*prefix, "provenance"], overrides["provenance"])
                merged["provenance"] = tuple(sorted((k, str(v)) for k, v in provenance.items()))
        merged["virtual_packages"] = tuple(sorted(merged["virtual_packages"].items()))
        return EnvironmentSettings(**merged)

    @cached_property
    def _shared_environment_settings(self) -> EnvironmentSettings:
        """What an environment without overrides of its own gets."""
        return EnvironmentSettings(self.platforms, tuple(sorted(self.virtual_packages)),
                                   defaults_channels=self.defaults_channels)

    def mirror_for(self, channel: str) -> str | None:
        return dict(self.mirrors).get(channel)


def load_settings(root: Path) -> Settings:
    path = root / SETTINGS_FILE
    if not path.is_file():
        if path.exists() or path.is_symlink():  # a folder, a pipe, a broken link: never silently no settings
            raise DeclarationError(path, "is not a file envlock can read (a folder, a pipe or a broken link)",
                                   fix="make envlock.yaml a YAML file, or remove it")
        return Settings(root=root)
    data = _mapping(path, [], load_yaml(path) or {})
    reject_unknown_keys(path, [], data, ROOT_KEYS)
    values: dict[str, Any] = {"root": root}
    if "platforms" in data:
        values["platforms"] = _platforms(path, ["platforms"], data["platforms"])
    if "virtual_packages" in data:
        values["virtual_packages"] = tuple(
            sorted(_virtual_packages(path, ["virtual_packages"], data["virtual_packages"]).items())
        )
    if "mirrors" in data:
        mirrors = _mapping(path, ["mirrors"], data["mirrors"])
        values["mirrors"] = tuple(
            sorted((str(k), _mirror_url(root, path, k, v)) for k, v in mirrors.items())
        )
    if "image_mirrors" in data:
        image_mirrors = _mapping(path, ["image_mirrors"], data["image_mirrors"])
        for host, url in image_mirrors.items():
            if not isinstance(url, str) or not url.startswith(("https://", "http://")):
                raise declaration_error(path, ["image_mirrors", str(host)], "must be an http(s) URL",
                                        "for example mcr.microsoft.com: https://mirror.internal")
        values["image_mirrors"] = tuple(sorted((str(k), str(v).rstrip("/")) for k, v in image_mirrors.items()))
    if "pip_index_url" in data:
        url = data["pip_index_url"]
        if not isinstance(url, str) or not url.startswith("https://"):
            raise declaration_error(
                path, ["pip_index_url"], "must be an https URL",
                "set pip_index_url to your index, e.g. https://pypi.org/simple",
            )
        values["pip_index_url"] = url.rstrip("/")
    if "registry" in data:
        if not isinstance(data["registry"], str) or not data["registry"].strip():
            raise declaration_error(path, ["registry"], "registry must be a registry URL",
                                    "for example registry: sqlite:.envlock/registry.db or registry: azureml")
        values["registry"] = data["registry"].strip()
    if "audit_url" in data:
        values["audit_url"] = _service_url(path, ["audit_url"], data["audit_url"],
                                           "set audit_url to an OSV API mirror, e.g. https://osv.internal")
    if "audit" in data:
        values["audit"] = _audit(path, _mapping(path, ["audit"], data["audit"] or {}))
    if "defaults_channels" in data:
        channels = data["defaults_channels"]
        if not isinstance(channels, list) or not channels or not all(isinstance(c, str) and c for c in channels) \
                or "defaults" in channels:
            raise declaration_error(path, ["defaults_channels"], "must be a non-empty list of channels",
                                    "for example defaults_channels: [conda-forge]")
        values["defaults_channels"] = tuple(channels)
    if "environments" in data:
        per_environment = _mapping(path, ["environments"], data["environments"])
        values["per_environment"] = {
            str(name): _mapping(path, ["environments", str(name)], value or {})
            for name, value in per_environment.items()
        }
    return Settings(**values)


def _mapping(path: Path, key_path: list[str], value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        where = ".".join(key_path) or "the top level"
        raise declaration_error(path, key_path, f"{where} must be a mapping", "write key: value pairs",
                                field=".".join(key_path) or "(top level)")
    return value


def _platforms(path: Path, key_path: list[str], value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value:
        raise declaration_error(path, key_path, "must be a non-empty list of conda platforms",
                                f"for example [linux-64]; known: {', '.join(KNOWN_PLATFORMS)}")
    for index, platform in enumerate(value):
        if platform not in KNOWN_PLATFORMS:
            raise declaration_error(
                path, [*key_path, index], f"unknown platform '{platform}'",
                f"{suggest(str(platform), KNOWN_PLATFORMS)}use one of {', '.join(KNOWN_PLATFORMS)}",
                field=".".join(key_path),
            )
    return tuple(dict.fromkeys(value))


def _virtual_packages(path: Path, key_path: list[str], value: Any) -> dict[str, str]:
    mapping = _mapping(path, key_path, value)
    result = {}
    for name, version in mapping.items():
        if not str(name).startswith("__"):
            raise declaration_error(
                path, [*key_path, str(name)], f"'{name}' is not a virtual package name",
                "virtual packages start with two underscores, for example __cuda: '12.1'",
            )
        if version is None or isinstance(version, (dict, list)):
            raise declaration_error(
                path, [*key_path, str(name)], f"'{name}' needs a version",
                f"write {name}: '<version>' with the version quoted",
            )
        if not VIRTUAL_VERSION.match(str(version)):
            raise declaration_error(
                path, [*key_path, str(name)], f"'{version}' is not a version for {name}",
                f"write a version such as {name}: '{VIRTUAL_EXAMPLES.get(str(name), '1.0')}'",
            )
        result[str(name)] = str(version)
    return result


def _python(path: Path, key_path: list[str], value: Any) -> str:
    text = str(value)
    parts = text.split(".")
    if isinstance(value, float) or len(parts) < 2 or not all(part.isdigit() for part in parts):
        raise declaration_error(path, key_path, f"python version '{value}' is not X.Y or X.Y.Z",
                                "quote the version, e.g. python: '3.12'")
    return text


def _mirror_url(root: Path, path: Path, channel: Any, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise declaration_error(path, ["mirrors", str(channel)], "mirror must be a URL or a path",
                                "for example conda-forge: file:///srv/mirror/conda-forge")
    if value.startswith(("https://", "http://", "file://")):
        return value.rstrip("/")
    local = Path(value)
    if not local.is_absolute():
        local = root / local
    return resolve(local).as_uri()


def _service_url(path: Path, key_path: list[str], value: Any, fix: str) -> str:
    """An https URL; plain http only on this machine (as docker allows for loopback registries)."""
    from urllib.parse import urlsplit

    parts = urlsplit(value) if isinstance(value, str) else None
    port_ok = parts is None or _has_valid_port(parts)
    loopback = parts is not None and parts.scheme == "http" and parts.hostname in ("127.0.0.1", "localhost", "::1")
    if parts is None or not parts.netloc or not port_ok or not (parts.scheme == "https" or loopback):
        raise declaration_error(path, key_path, "must be an https URL (http only on 127.0.0.1)", fix)
    return str(value).rstrip("/")


def _has_valid_port(parts: SplitResult) -> bool:
    try:
        parts.port  # noqa: B018 - raises ValueError for "host:abc" or a port past 65535
    except ValueError:
        return False
    return True


def _audit(path: Path, data: dict[str, Any]) -> AuditSettings:
    reject_unknown_keys(path, ["audit"], data, AUDIT_KEYS)
    fail_on = data.get("fail_on")
    if fail_on is not None and fail_on not in SEVERITY_LEVELS:
        raise declaration_error(path, ["audit", "fail_on"], f"unknown level '{fail_on}'",
                                f"{suggest(str(fail_on), SEVERITY_LEVELS)}use one of {', '.join(SEVERITY_LEVELS)}")
    entries = data.get("ignore") or []
    if not isinstance(entries, list):
        raise declaration_error(path, ["audit", "ignore"], "must be a list",
                                "write - {id: PYSEC-..., reason: ..., until: 2027-03-01} entries")
    ignores = []
    for index, entry in enumerate(entries):
        key_path: list[str | int] = ["audit", "ignore", index]
        field_name = f"audit.ignore[{index}]"
        if not isinstance(entry, dict):
            raise declaration_error(path, key_path, "an ignore must be a mapping",
                                    "write {id: PYSEC-..., reason: ..., until: 2027-03-01}", field=field_name)
        reject_unknown_keys(path, key_path, entry, IGNORE_KEYS)
        for key, fix in (("id", "name the advisory, e.g. id: PYSEC-2023-74 (a CVE or GHSA alias works too)"),
                         ("reason", "say why it does not apply or cannot be fixed yet, e.g. reason: not reachable")):
            if not isinstance(entry.get(key), str) or not entry[key].strip():
                raise declaration_error(path, [*key_path, key], f"'{key}' is missing or empty", fix,
                                        field=f"{field_name}.{key}")
        until = entry.get("until")
        if isinstance(until, str):
            try:
                until = datetime.date.fromisoformat(until)
            except ValueError:
                until = None
        if not isinstance(until, datetime.date) or isinstance(until, datetime.datetime):
            raise declaration_error(path, [*key_path, "until"], "'until' must be a date (YYYY-MM-DD)",
                                    "give an expiry date, e.g. until: 2027-03-01", field=f"{field_name}.until")
        ignores.append(AuditIgnore(entry["id"].strip(), entry["reason"].strip(), until,
                                   line_of(path, key_path)))
    return AuditSettings(tuple(ignores), fail_on)
