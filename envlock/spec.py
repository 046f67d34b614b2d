"""Load and validate an environments/<name>/ folder into a frozen EnvironmentSpec.

env.yml is an AML environment YAML (what `az ml environment create --file` takes); its
conda_file is a standard conda environment file. Every problem names file, line, field and fix.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from envlock.errors import DeclarationError
from envlock.fsutil import real_root, resolve, safe_path
from envlock.hashing import sha256_json
from envlock.kinds import Kind
from envlock.repo import ENV_FILE, Repo, declaration_file
from envlock.runtime import ROUTE_KEYS, ROUTES, InferenceConfig, Route, Runtime, canonical_os_type
from envlock.secrets import has_credentials, is_local_url, mask
from envlock.settings import EnvironmentSettings, Settings, load_settings
from envlock.yamlio import declaration_error, load_yaml, read_text, reject_unknown_keys

if TYPE_CHECKING:
    from envlock.buildcontext import ContextDeclaration
    from envlock.dockerfile import InstalledFile

REQUIREMENTS_IN = "requirements.in"
LOCK_FORMAT = "envlock-lock/1"

# AML's environment YAML schema (azure-ai-ml EnvironmentSchema); envlock handles a subset.
AML_ENV_KEYS = (
    "$schema", "name", "version", "description", "tags", "properties", "image", "conda_file",
    "build", "os_type", "inference_config", "datastore", "intellectual_property", "stage",
)
CONDA_FILE_KEYS = ("name", "channels", "dependencies", "variables", "prefix")
# The REST schema says ^[a-zA-Z0-9][a-zA-Z0-9\-_]{0,254}$; curated names show dots are accepted.
AML_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9\-_.]{0,254}$")
TEMPLATED = re.compile(r"\{\{.*?\}\}")
SPEC_NAME = re.compile(r"^\s*([A-Za-z0-9_.\-]+(?:\[[^\]]*\])?)")
GIT_COMMIT = re.compile(r"@[0-9a-f]{40}(#.*)?$")
# AML versions are free strings; envlock's references (azureml:name:version) need no ':', '@' or '/'.
AML_VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9\-_.]{0,127}$")
# A bare URL (pip accepts it without "name @"), e.g. git+https://host/repo.git@<sha>.
URL_REQUIREMENT = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)
VARIABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# name[extras] with release-number specifiers (numpy>=1.26,<2, pandas==2.2.*): a subset of PEP 508
# that packaging accepts, checked without importing its parser, which costs more than a lock's
# own Python work. Anything else (markers, URLs, pre-releases) goes to packaging.
_NAME = r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?"
_RELEASE = r"[ \t]*[0-9]+(?:\.[0-9]+)*"
_SPECIFIER = rf"(?:(?:==|!=){_RELEASE}(?:\.\*)?|~={_RELEASE}\.[0-9]+|(?:>=|<=|<|>){_RELEASE})"
PLAIN_REQUIREMENT = re.compile(
    rf"{_NAME}(?:\[{_NAME}(?:,{_NAME})*\])?[ \t]*(?:{_SPECIFIER}(?:[ \t]*,[ \t]*{_SPECIFIER})*)?")
_REQUIREMENTS_COMMENT = re.compile(r"(?:^|\s)#.*")  # pip's rule: a # at the start or after whitespace
INDEX_OPTIONS = ("--index-url", "-i", "--extra-index-url", "--find-links", "-f", "--trusted-host")


@dataclass(frozen=True)
class PolicyProblem:
    """A rule a declaration breaks that `check` reports as a finding and `lock` refuses."""

    path: Path
    line: int | None
    field: str
    message: str
    fix: str

    def as_error(self) -> DeclarationError:
        return DeclarationError(self.path, self.message, field=self.field, line=self.line, fix=self.fix)


@dataclass(frozen=True)
class DeclaredVersion:
    """`version:` of a declaration: register creates exactly this version (never another number)."""

    value: str
    path: Path
    line: int | None

    def error(self, problem: str, fix: str) -> DeclarationError:
        return DeclarationError(self.path, problem, field="version", line=self.line, fix=fix)


@dataclass(frozen=True)
class EnvironmentSpec:
    """One declaration under environments/<name>/, parsed and checked."""

    name: str
    kind: Kind  # what AML receives; a pip-only declaration renders as a build context
    folder: Path
    image: str
    description: str | None
    tags: tuple[tuple[str, str], ...]
    conda_file: Path | None
    channels: tuple[str, ...]
    conda_dependencies: tuple[str, ...]
    pip_dependencies: tuple[str, ...]
    settings: EnvironmentSettings
    policy_problems: tuple[PolicyProblem, ...] = field(default=())
    context: ContextDeclaration | None = None  # a declared build context (env.yml build:)
    declaration: Path | None = None  # the AML environment YAML, when not env.yml
    runtime: Runtime = Runtime()  # os_type and inference_config, kept through render and register
    version: DeclaredVersion | None = None
    conda_variables: tuple[tuple[str, str], ...] = ()  # the conda file's variables:, set by conda in the job

    @property
    def env_file(self) -> Path:
        return self.declaration or self.folder / ENV_FILE

    @property
    def python(self) -> str | None:
        return self.settings.python

    def inputs(self) -> dict[str, Any]:
        """Everything that changes the lock's content; its hash decides staleness offline."""
        inputs: dict[str, Any]
        if self.context is not None:
            inputs = {"format": LOCK_FORMAT, "context": self.context.sha256,
                      "dockerfile": self.context.dockerfile_path, "settings": self.settings.solve_inputs()}
        else:
            inputs = {
                "format": LOCK_FORMAT,
                "image": self.image,
                "channels": list(self.channels),
                "conda": list(self.conda_dependencies),
                "pip": list(self.pip_dependencies),
                "settings": self.settings.solve_inputs(),
            }
        # Only when declared, so locks made before these fields were read stay fresh. They name the
        # lock (its hash is the version's identity): a changed route is a new lock, so a new version.
        inputs.update(self.runtime.declared())
        if self.conda_variables:  # what the job runs with, like the routes
            inputs["variables"] = dict(self.conda_variables)
        if self.version is not None:
            inputs["version"] = self.version.value
        return inputs

    def inputs_sha256(self) -> str:
        return sha256_json(self.inputs())


def load_environment(repo: Repo, name: str, settings: Settings | None = None) -> EnvironmentSpec:
    settings = settings or load_settings(repo.root)
    folder = repo.environments_dir / name
    safe_path(repo.root, folder)  # a declaration linked in from outside is refused, not followed
    env_path = declaration_file(folder) or folder / ENV_FILE
    spec = _load_declaration(repo, name, folder, env_path, settings)
    return spec if env_path.name == ENV_FILE else replace(spec, declaration=env_path)


def _load_declaration(repo: Repo, name: str, folder: Path, env_path: Path, settings: Settings) -> EnvironmentSpec:
    data = load_yaml(env_path)
    if not isinstance(data, dict):
        raise DeclarationError(env_path, "an AML environment YAML must be a mapping",
                               fix="write name:, image: and conda_file: keys")
    reject_unknown_keys(env_path, [], data, AML_ENV_KEYS, "AML environment keys")
    env_name = _required_string(env_path, data, "name", f"add name: {name}")
    if not AML_NAME.match(env_name):
        raise declaration_error(env_path, ["name"], f"'{env_name}' is not a valid AML environment name",
                                "use letters, digits, '-', '_' or '.', starting with a letter or digit")
    if env_name != name:
        raise declaration_error(env_path, ["name"], f"name '{env_name}' differs from its folder '{name}'",
                                f"set name: {name}, or rename the folder to environments/{env_name}")
    runtime, version = _runtime(env_path, data), _declared_version(env_path, data)
    spec = _content_spec(repo, name, folder, env_path, data, settings)
    if runtime.os_type == "Windows" and spec.kind is not Kind.IMAGE:
        # What envlock renders (a linux-64 conda file, a Dockerfile with Linux commands) runs on Linux.
        raise declaration_error(env_path, ["os_type"], f"os_type windows with a {spec.kind.label} environment: "
                                "envlock renders conda files and build contexts for linux-64",
                                "remove os_type (AML's default is linux), or declare a Windows image: alone")
    return replace(spec, runtime=runtime, version=version)


def _content_spec(repo: Repo, name: str, folder: Path, env_path: Path, data: dict[str, Any],
                  settings: Settings) -> EnvironmentSpec:
    if "build" in data:
        return _build_context_spec(repo, env_path, name, data, settings.for_environment(name, folder))
    image = _required_string(env_path, data, "image",
                             "add image: with a base image, e.g. mcr.microsoft.com/azureml/"
                             "openmpi4.1.0-ubuntu22.04@sha256:<digest>")
    description = data.get("description")
    tags = data.get("tags") or {}
    if not isinstance(tags, dict):
        raise declaration_error(env_path, ["tags"], "tags must be a mapping", "write tags as key: value pairs")
    for key, value in tags.items():
        if isinstance(value, (dict, list)) or value is None:
            raise declaration_error(env_path, ["tags", str(key)], f"tag '{key}' must have a text value",
                                    f"write {key}: 'text' (AML tags are strings)", field=f"tags.{key}")
    description = data.get("description")
    if description is not None and not isinstance(description, (str, int, float)):
        raise declaration_error(env_path, ["description"], "description must be text",
                                "write description: 'one line of text'")
    env_settings = settings.for_environment(name, folder)
    requirements_path = folder / REQUIREMENTS_IN
    problems: list[PolicyProblem] = []

    if "conda_file" in data:
        if requirements_path.exists():
            raise DeclarationError(
                requirements_path, "an environment with a conda_file takes its pip packages from the "
                "conda file's pip: section", field="conda_file",
                fix=f"move these requirements under dependencies: - pip: in the conda file, or remove "
                f"conda_file from {env_path.name}",
            )
        conda_name = _required_string(env_path, data, "conda_file", "name the conda file, e.g. conda.yaml")
        conda_path = resolve(folder / conda_name)
        if real_root(repo.root) not in conda_path.parents:
            raise declaration_error(env_path, ["conda_file"],
                                    f"conda file '{conda_name}' is outside the repository",
                                    "keep the conda file inside the repository (beside env.yml), "
                                    "not an absolute path or a link out of it")
        if not conda_path.is_file():
            raise declaration_error(env_path, ["conda_file"], f"conda file '{conda_name}' not found",
                                    f"create {folder / conda_name} or correct conda_file")
        channels, conda_deps, pip_deps, variables = _load_conda_file(conda_path, problems,
                                                                     env_settings.defaults_channels)
        if pip_deps and not any(requirement_name(dep) == "python" for dep in conda_deps):
            raise declaration_error(conda_path, ["dependencies"],
                                    "a pip: section needs python in the conda dependencies",
                                    "add a python pin, e.g. - python=3.10")
        return EnvironmentSpec(name, Kind.IMAGE_CONDA, folder, image, _text(description), _tags(tags), conda_path,
                               channels, conda_deps, pip_deps, env_settings, tuple(problems),
                               conda_variables=variables)

    if not requirements_path.is_file() and (requirements_path.exists() or requirements_path.is_symlink()):
        raise DeclarationError(requirements_path, "is not a regular file (a folder, a pipe or a broken link)",
                               fix=f"make {REQUIREMENTS_IN} a text file of pip requirements, or remove it")
    if not requirements_path.is_file():
        # Image only: the image digest is the whole lock (e.g. a clone of a curated image).
        return EnvironmentSpec(name, Kind.IMAGE, folder, image, _text(description), _tags(tags), None, (), (), (),
                               env_settings, ())
    if env_settings.python is None:
        raise DeclarationError(
            requirements_path, "a pip-only environment must declare its target Python", field="python",
            fix=f"add to envlock.yaml: environments: {{{name}: {{python: '3.12'}}}} "
            f"(or python: '3.12' in environments/{name}/envlock.yaml)",
        )
    pip_deps = _load_requirements(requirements_path, problems)
    return EnvironmentSpec(name, Kind.BUILD_CONTEXT, folder, image, _text(description), _tags(tags), None, (), (),
                           pip_deps, env_settings, tuple(problems))


def _build_context_spec(repo: Repo, env_path: Path, name: str, data: dict[str, Any],
                        env_settings: EnvironmentSettings) -> EnvironmentSpec:
    from envlock.buildcontext import load_context

    for key in ("image", "conda_file"):
        if key in data:
            raise declaration_error(env_path, [key], f"{key}: and build: cannot be used together "
                                    "(AML builds from one or the other)",
                                    f"remove {key}: and install it in the Dockerfile, or remove build:")
    tags = data.get("tags") or {}
    if not isinstance(tags, dict):
        raise declaration_error(env_path, ["tags"], "tags must be a mapping", "write tags as key: value pairs")
    context = load_context(env_path, repo.root, data["build"])
    base = context.dockerfile.images[-1].image  # the last stage is what runs
    return EnvironmentSpec(name, Kind.BUILD_CONTEXT, env_path.parent, base, _text(data.get("description")),
                           _tags(tags), None, (), (), (), env_settings, (), context)


def installed_spec(spec: EnvironmentSpec, installed: InstalledFile, python: str | None) -> EnvironmentSpec:
    """A file a build context's Dockerfile installs, as a declaration of its own to lock."""
    assert spec.context is not None
    path = spec.context.file_path(installed)
    problems: list[PolicyProblem] = []
    name = f"{spec.name}/{installed.path}"
    if installed.manager == "conda":
        channels, conda_deps, pip_deps, _ = _load_conda_file(path, problems)
        settings = replace(spec.settings, python=None)
        result = EnvironmentSpec(name, Kind.IMAGE_CONDA, path.parent, spec.image, None, (), path, channels,
                                 conda_deps, pip_deps, settings, tuple(problems))
    else:
        if python is None:
            raise DeclarationError(
                path, f"{installed.path} is installed with pip on {spec.image}, whose Python envlock cannot "
                "tell", field="python", line=installed.line,
                fix=f"add to envlock.yaml: environments: {{{spec.name}: {{python: '3.10'}}}}")
        result = EnvironmentSpec(name, Kind.BUILD_CONTEXT, path.parent, spec.image, None, (), None, (), (),
                                 _load_requirements(path, problems), replace(spec.settings, python=python),
                                 tuple(problems))
    if problems:
        raise problems[0].as_error()
    return result


def untemplated(requirement: str) -> str:
    """`pkg=={{latest-pypi-version}}` (azureml-assets templates) -> `pkg`: the lock pins it."""
    if not TEMPLATED.search(requirement):
        return requirement
    match = SPEC_NAME.match(requirement)
    return match.group(1) if match else TEMPLATED.sub("", requirement).strip()


def _load_conda_file(
    path: Path, problems: list[PolicyProblem], defaults: tuple[str, ...] = ()
) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...], tuple[tuple[str, str], ...]]:
    """channels, conda dependencies, pip requirements and variables (name, value) of a conda file."""
    data = load_yaml(path)
    if not isinstance(data, dict):
        raise DeclarationError(path, "a conda environment file must be a mapping",
                               fix="write channels: and dependencies: keys")
    reject_unknown_keys(path, [], data, CONDA_FILE_KEYS, "conda environment file keys")
    channels = data.get("channels")
    if not isinstance(channels, list) or not channels or not all(isinstance(c, str) for c in channels):
        raise declaration_error(path, ["channels"], "channels must be a non-empty list",
                                "add channels: [conda-forge]")
    for index, channel in enumerate(channels):
        if has_credentials(channel):
            raise declaration_error(path, ["channels", index], f"channel '{mask(channel)}' carries credentials, "
                                    "which would be copied into the lock, the rendered file and the registry",
                                    "name the channel without them and read it through a mirror in "
                                    "envlock.yaml (mirrors: {NAME: URL}), which is never written anywhere")
        if is_local_url(channel):
            raise declaration_error(path, ["channels", index], f"channel '{channel}' is a local path, which "
                                    "would put this machine's paths in every package URL of the lock",
                                    "name the canonical channel (e.g. conda-forge) and point envlock.yaml "
                                    "mirrors at the local copy: mirrors: {conda-forge: /srv/conda-forge}")
        if channel == "defaults" and not defaults:
            raise declaration_error(path, ["channels", index], "the 'defaults' channel names no channel by "
                                    "itself (conda expands it to the channels its own configuration lists)",
                                    "say which channels it means in envlock.yaml, e.g. defaults_channels: "
                                    "[conda-forge], or list them here instead of defaults")
    # `defaults` stands for the channels the repository configures for it, in its place in the order
    channels = [expanded for channel in channels
                for expanded in (defaults if channel == "defaults" else (channel,))]
    channels = list(dict.fromkeys(channels))
    dependencies = data.get("dependencies")
    if not isinstance(dependencies, list) or not dependencies:
        raise declaration_error(path, ["dependencies"], "dependencies must be a non-empty list",
                                "list conda packages, e.g. - python=3.10")
    conda_deps: list[str] = []
    pip_deps: list[str] = []
    for index, dep in enumerate(dependencies):
        if isinstance(dep, str) and dep.strip():
            conda_deps.append(untemplated(dep.strip()))
        elif isinstance(dep, dict) and list(dep) == ["pip"] and isinstance(dep["pip"], list):
            for pip_index, requirement in enumerate(dep["pip"]):
                key_path: list[str | int] = ["dependencies", index, "pip", pip_index]
                pip_deps.append(_pip_requirement(path, key_path, untemplated(str(requirement))
                                                 if isinstance(requirement, str) else requirement, problems))
        else:
            raise declaration_error(path, ["dependencies", index],
                                    f"dependency {dep!r} is neither a package spec nor a pip: list",
                                    "write - name=version, or - pip: followed by a list of requirements",
                                    field=f"dependencies[{index}]")
    return (tuple(c for c in channels if c != "nodefaults"), tuple(conda_deps), tuple(pip_deps),
            _conda_variables(path, data.get("variables")))


def _conda_variables(path: Path, variables: Any) -> tuple[tuple[str, str], ...]:
    """The environment variables conda sets on activation (`variables:`), rendered with the lock."""
    from envlock.render import LOCK_VARIABLE

    if variables is None:
        return ()
    if not isinstance(variables, dict):
        raise declaration_error(path, ["variables"], "variables must be a mapping of names to values",
                                "write variables: followed by NAME: value lines")
    result = []
    for key, value in variables.items():
        if not isinstance(key, str) or not VARIABLE_NAME.match(key):
            raise declaration_error(path, ["variables", str(key)], f"'{key}' is not an environment variable name",
                                    "use letters, digits and '_', not starting with a digit")
        if key == LOCK_VARIABLE:
            raise declaration_error(path, ["variables", key], f"{key} is set by envlock to the lock's hash",
                                    "remove it, or name the variable differently")
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise declaration_error(path, ["variables", key], f"variable {key} must be a string or a number",
                                    f"quote it: {key}: 'value'")
        result.append((key, str(value)))
    return tuple(result)


def _load_requirements(path: Path, problems: list[PolicyProblem]) -> tuple[str, ...]:
    requirements = []
    for number, raw in enumerate(read_text(path).removeprefix("\ufeff").splitlines(), start=1):
        line = _REQUIREMENTS_COMMENT.sub("", raw).strip()
        if line:
            requirements.append(_pip_requirement(path, number, untemplated(line), problems))
    if not requirements:
        raise DeclarationError(path, "no requirements", fix="list at least one package, e.g. numpy>=1.26")
    return tuple(requirements)


def _pip_requirement(path: Path, where: list[str | int] | int, value: Any,
                     problems: list[PolicyProblem]) -> str:
    """One requirement, parsed as PEP 508 says: bad syntax is an error, unlockable forms are problems."""
    from envlock.yamlio import line_of

    line = where if isinstance(where, int) else None
    field = "requirements" if isinstance(where, int) else "dependencies.pip"

    def found_line() -> int | None:
        return line if line else line_of(path, where)  # type: ignore[arg-type]

    def error(problem: str, fix: str) -> DeclarationError:
        return DeclarationError(path, problem, field=field, line=found_line(), fix=fix)

    if not isinstance(value, str) or not value.strip():
        raise error(f"pip requirement {value!r} is not a string",
                    "write each pip requirement as a string, e.g. requests>=2.31")
    text = value.strip()
    if "\n" in text or "\r" in text or "\x00" in text:
        raise error(f"pip requirement {text.splitlines()[0]!r}... spans several lines",
                    "write one requirement per list item (options such as --extra-index-url are not "
                    "requirements: set pip_index_url in envlock.yaml)")

    def problem(message: str, fix: str) -> str:
        problems.append(PolicyProblem(path, found_line(), field, message, fix))
        return text

    first = text.split()[0]
    if first in INDEX_OPTIONS or first.startswith(tuple(f"{o}=" for o in INDEX_OPTIONS)):
        return problem(f"'{mask(text)}': index options do not belong in a declaration",
                       "remove it and set pip_index_url in envlock.yaml")
    if first in ("-r", "-c", "--requirement", "--constraint"):
        return problem(f"'{text}': nested requirement files are not supported", "list the requirements themselves")
    if first in ("-e", "--editable") or is_local_url(text.split(" @ ", 1)[-1].strip()):
        return problem(f"'{text}' installs from a local path, which no other machine has",
                       "publish the package to an index and pin it, e.g. mypkg==1.2.3")
    if first.startswith("-"):
        raise error(f"'{text}': pip options are not requirements",
                    "list only requirements; index settings go in envlock.yaml (pip_index_url)")
    url = text.split(";")[0].strip() if URL_REQUIREMENT.match(text) else None
    if url is None and not PLAIN_REQUIREMENT.fullmatch(text):
        from packaging.requirements import InvalidRequirement, Requirement

        try:
            url = Requirement(text).url
        except InvalidRequirement as exc:
            raise error(f"'{mask(text)}' is not a valid pip requirement: {str(exc).splitlines()[0]}",
                        "write name, name==1.2.3, name[extra]>=1,<2; python_version>='3.10', or "
                        "name @ https://host/file.whl") from None
    if url and has_credentials(url):
        raise error(f"'{mask(text)}' carries credentials, which would be stored in the lock and registry",
                    "remove them; give the index in pip_index_url and let pip/uv read credentials "
                    "from keyring or netrc on the machine that locks")
    if url and "git+" in url and not GIT_COMMIT.search(url):
        return problem(f"'{text}' is a git URL without a pinned commit",
                       "pin the full 40-character commit: git+https://host/repo.git@<sha>")
    return text


def requirement_name(spec: str) -> str:
    spec = spec.split("::")[-1]
    return re.split(r"[\s=<>!~\[]", spec, maxsplit=1)[0].lower()


def _runtime(path: Path, data: dict[str, Any]) -> Runtime:
    os_type = None
    if "os_type" in data:
        os_type = canonical_os_type(data["os_type"])
        if os_type is None:
            raise declaration_error(path, ["os_type"], f"os_type {data['os_type']!r} is not an operating "
                                    "system AML builds for", "write os_type: linux or os_type: windows (any case)")
    inference = _inference_config(path, data["inference_config"]) if "inference_config" in data else None
    return Runtime(os_type, inference)


def _inference_config(path: Path, value: Any) -> InferenceConfig:
    """AML's InferenceConfigSchema: all three routes, each an integer port and a path."""
    example = "{port: 8080, path: /score}"
    if not isinstance(value, dict):
        raise declaration_error(path, ["inference_config"], "inference_config must be a mapping of routes",
                                f"write liveness_route:, readiness_route: and scoring_route:, each {example}")
    reject_unknown_keys(path, ["inference_config"], value, ROUTES, "inference_config routes")
    routes = []
    for name in ROUTES:
        key_path: list[str | int] = ["inference_config", name]
        route = value.get(name)
        if not isinstance(route, dict):
            problem = f"inference_config has no {name}" if route is None else f"{name} must be a mapping"
            raise declaration_error(path, key_path, problem, f"AML needs all three routes: write {name}: {example}",
                                    field=f"inference_config.{name}")
        reject_unknown_keys(path, key_path, route, ROUTE_KEYS, "route keys")
        port = route.get("port")
        if isinstance(port, str) and port.strip().isdigit():
            port = int(port)  # AML's schema reads "8080" as 8080
        if not isinstance(port, int) or isinstance(port, bool) or not 1 <= port <= 65535:
            raise declaration_error(path, [*key_path, "port"], f"{name} port {port!r} is not a TCP port",
                                    "write port: 8080 (a number from 1 to 65535)",
                                    field=f"inference_config.{name}.port")
        route_path = route.get("path")
        if not isinstance(route_path, str) or not route_path.startswith("/") or any(c.isspace() for c in route_path):
            raise declaration_error(path, [*key_path, "path"], f"{name} path {route_path!r} is not an HTTP path",
                                    "write path: /score (starting with '/', no spaces)",
                                    field=f"inference_config.{name}.path")
        routes.append(Route(port, route_path))
    return InferenceConfig(*routes)


def _declared_version(path: Path, data: dict[str, Any]) -> DeclaredVersion | None:
    from envlock.yamlio import line_of

    if "version" not in data:
        return None
    value = data["version"]
    if isinstance(value, float):
        raise declaration_error(path, ["version"], f"version is the number {value!r} to YAML, not the text "
                                "written (1.10 would become 1.1)", "quote it as written, e.g. version: '1.10'")
    if isinstance(value, bool) or not isinstance(value, (int, str)) or not AML_VERSION.match(str(value).strip()):
        raise declaration_error(path, ["version"], f"version {value!r} is not an AML version",
                                "write version: 1 (or a string of letters, digits, '.', '-', '_'), or remove "
                                "it to let envlock number versions")
    return DeclaredVersion(str(value).strip(), path, line_of(path, ["version"]))


def _required_string(path: Path, data: dict[str, Any], key: str, fix: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        problem = f"'{key}' is missing" if value is None else f"'{key}' must be a non-empty string"
        raise declaration_error(path, [key], problem, fix)
    return value.strip()


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _tags(tags: dict[Any, Any]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((str(k), str(v)) for k, v in tags.items()))
