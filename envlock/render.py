"""A lock -> exactly what AML receives: an image plus a pinned conda file, or a build context.

AML builds and runs environments on linux-64, so that platform's part of the lock is rendered.
"""

from __future__ import annotations

from dataclasses import dataclass

from envlock import __version__
from envlock.errors import EnvlockError
from envlock.hashing import sha256_text
from envlock.kinds import DOCKERFILE, BuildContext, EnvironmentContent, ImageOnly, ImageWithConda, Kind
from envlock.lockfile import Lock, pip_requirement_lines
from envlock.runtime import Runtime
from envlock.spec import DeclaredVersion, EnvironmentSpec
from envlock.yamlio import dump_yaml

AML_PLATFORM = "linux-64"
ENV_SCHEMA = "https://azuremlschemas.azureedge.net/latest/environment.schema.json"
LOCK_TAG = "envlock.lock-sha256"
DECLARATION_TAG = "envlock.declaration-sha256"
PYTHON_TAG = "envlock.python"
CONTEXT_DIR = "context"
LOCK_VARIABLE = "ENVLOCK_LOCK_SHA256"  # also set inside the running job by conda
GIT_TAG = "envlock.git-commit"
VERSION_TAG = "envlock.version"


@dataclass(frozen=True)
class RenderedEnvironment:
    """What AML receives for one lock, and the files build/<name>/ holds."""

    name: str
    lock_sha256: str
    inputs_sha256: str
    content: EnvironmentContent  # exactly what AML receives
    files: tuple[tuple[str, str], ...]  # what build/<name>/ holds: file name -> text, env.yml among them
    description: str | None
    tags: tuple[tuple[str, str], ...]
    runtime: Runtime = Runtime()  # os_type and inference_config: content too
    declared_version: DeclaredVersion | None = None  # register creates exactly this version

    def file_hashes(self) -> dict[str, str]:
        return {name: sha256_text(text) for name, text in self.files}


def render_environment(spec: EnvironmentSpec, lock: Lock) -> RenderedEnvironment:
    if AML_PLATFORM not in lock.platforms:
        raise EnvlockError(f"{spec.name}: the lock has no {AML_PLATFORM} part, which AML runs on; "
                           f"add {AML_PLATFORM} to its platforms in envlock.yaml and run envlock lock")
    tags = {**dict(spec.tags), LOCK_TAG: lock.lock_sha256, DECLARATION_TAG: lock.inputs_sha256}
    if spec.kind is Kind.BUILD_CONTEXT and lock.python:
        tags[PYTHON_TAG] = lock.python
    header = (f"# Rendered by envlock {__version__} from environments/{spec.name} for {AML_PLATFORM}."
              f" DO NOT EDIT.\n# lock sha256: {lock.lock_sha256}\n")
    env_yml: dict[str, object] = {"$schema": ENV_SCHEMA, "name": spec.name}
    if spec.version is not None:
        env_yml["version"] = spec.version.value  # az ml environment create --file registers exactly this
    if spec.description:
        env_yml["description"] = spec.description
    env_yml["tags"] = dict(sorted(tags.items()))
    content: EnvironmentContent
    match spec.kind:
        case Kind.IMAGE:
            # the image the lock inventoried, by digest, is what AML runs
            image = spec.image
            if lock.inventory is not None and lock.image_digest:
                from envlock.image_ref import parse_image

                image = parse_image(spec.image).pinned(lock.image_digest)
            content = ImageOnly(image)
            env_yml["image"] = image
            files: dict[str, str] = {}
        case Kind.IMAGE_CONDA:
            content = ImageWithConda(spec.image, header + render_conda_file(spec.name, lock, spec.conda_variables))
            env_yml["image"] = spec.image
            env_yml["conda_file"] = "conda.yaml"
            files = {"conda.yaml": content.conda_file}
        case Kind.BUILD_CONTEXT:
            if spec.context is not None and lock.context is not None:
                from envlock.context_render import render_context

                content = render_context(spec.context, lock.context, AML_PLATFORM, header)
            else:
                content = BuildContext(tuple(sorted({
                    "requirements.txt": header + pip_requirement_lines(lock.for_platform(AML_PLATFORM)),
                    DOCKERFILE: header + render_dockerfile(spec.image),
                }.items())))
            # The context in its own folder: what AML uploads is the context, not env.yml beside it.
            env_yml["build"] = {"path": CONTEXT_DIR, "dockerfile_path": content.dockerfile_path}
            files = {f"{CONTEXT_DIR}/{path}": text for path, text in content.files}
    env_yml.update(spec.runtime.yaml_fields())
    files["env.yml"] = header + dump_yaml(env_yml)
    return RenderedEnvironment(spec.name, lock.lock_sha256, lock.inputs_sha256, content,
                               tuple(sorted(files.items())), spec.description, tuple(sorted(tags.items())),
                               spec.runtime, spec.version)


def render_conda_file(name: str, lock: Lock, variables: tuple[tuple[str, str], ...] = ()) -> str:
    """The conda file AML builds from: every conda package by build, pip by hash, the declared variables."""
    packages = lock.for_platform(AML_PLATFORM)
    dependencies: list[object] = [
        f"{p.name}={p.version}={p.build}" for p in sorted(packages, key=lambda p: p.name)
        if p.manager == "conda"
    ]
    pip_lines = pip_requirement_lines(packages, separator=" ")
    if pip_lines:
        dependencies.append({"pip": pip_lines.splitlines()})
    # The lock hash as data (AML drops YAML comments): two locks never render the same content, so
    # the service's immutable content turns a concurrent register of another lock into a 409.
    return dump_yaml({"name": name, "channels": list(lock.channels), "dependencies": dependencies,
                      "variables": {**dict(variables), LOCK_VARIABLE: lock.lock_sha256}})


def render_dockerfile(image: str) -> str:
    return (
        f"FROM {image}\n"
        "COPY requirements.txt /tmp/envlock/requirements.txt\n"
        "RUN python -m pip install --no-cache-dir --no-deps --require-hashes "
        "-r /tmp/envlock/requirements.txt && rm -rf /tmp/envlock\n"
    )
