"""`envlock export NAME:VERSION`: write a registered version back as a declaration to manage."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from envlock.errors import EnvlockError, UsageError
from envlock.fsutil import atomic_write_many, remove, safe_path
from envlock.kinds import DOCKERFILE, BuildContext, ImageOnly, ImageWithConda
from envlock.refs import parse_reference
from envlock.registries import Registry
from envlock.render import ENV_SCHEMA, LOCK_VARIABLE, PYTHON_TAG
from envlock.repo import ENV_FILE, Repo
from envlock.spec import AML_NAME, REQUIREMENTS_IN, load_environment
from envlock.yamlio import dump_yaml

_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*==[^\s\\]+)")


def run_export(repo: Repo, registry: Registry, reference: str, *, new_name: str | None = None,
               force: bool = False) -> Path:
    ref = parse_reference(reference)
    if ref.version is None:
        raise UsageError(f"'{reference}': export needs an exact version, e.g. {ref.name}:3")
    name = new_name or ref.name
    if not AML_NAME.match(name):
        raise UsageError(f"'{name}' is not a valid AML environment name; use letters, digits, '-', '_' or '.'")
    stored = registry.get_version(ref.name, ref.version)
    if stored is None:
        raise EnvlockError(f"{ref.name}:{ref.version} is not registered in {registry.url}")
    folder = repo.environments_dir / name
    if folder.exists() and not force:
        raise EnvlockError(f"{folder.relative_to(repo.root)} already exists; pass --force to replace it "
                           "or --as NEWNAME to export beside it")
    env_yml: dict[str, object] = {"$schema": ENV_SCHEMA, "name": name}
    if stored.description:
        env_yml["description"] = stored.description
    user_tags = {k: v for k, v in stored.tags.items() if not k.startswith("envlock.")}
    if user_tags:
        env_yml["tags"] = user_tags
    provenance = {"source_registry": registry.url, "source_name": stored.name,
                  "source_version": stored.version, "source_lock_sha256": stored.lock_sha256 or ""}
    settings: dict[str, object] = {"provenance": provenance}
    files: dict[Path, str] = {}
    match stored.content:
        case ImageWithConda(image=image, conda_file=conda_file):
            env_yml["image"] = image
            env_yml["conda_file"] = "conda.yaml"
            conda = yaml.safe_load(conda_file)
            if isinstance(conda, dict) and "name" in conda:
                conda["name"] = name
            if isinstance(conda, dict) and isinstance(conda.get("variables"), dict):
                conda["variables"].pop(LOCK_VARIABLE, None)  # the new lock will name itself
                if not conda["variables"]:
                    del conda["variables"]
            files[folder / "conda.yaml"] = dump_yaml(conda)
        case ImageOnly(image=image):
            env_yml["image"] = image  # image only: the digest is the whole declaration
        case BuildContext(files=context) if {"requirements.txt", DOCKERFILE} <= dict(context).keys():
            build = dict(context)
            env_yml["image"] = _base_image(build[DOCKERFILE])
            pins = [m.group(1) for line in build["requirements.txt"].splitlines() if (m := _PIN.match(line))]
            files[folder / REQUIREMENTS_IN] = "".join(pin + "\n" for pin in pins)
            if PYTHON_TAG in stored.tags:
                settings["python"] = stored.tags[PYTHON_TAG]
        case BuildContext():
            raise EnvlockError(f"{ref.name}:{ref.version} is a build context envlock did not make; "
                               "envlock cannot declare it")
    env_yml.update(stored.runtime.yaml_fields())  # a custom inference container keeps its routes
    files[folder / ENV_FILE] = dump_yaml(env_yml)
    files[folder / "envlock.yaml"] = dump_yaml(settings)
    atomic_write_many(files, root=repo.root)
    for leftover in safe_path(repo.root, folder).iterdir():  # --force: what the new declaration lacks
        if folder / leftover.name not in files:
            remove(repo.root, folder / leftover.name)
    load_environment(repo, name)  # what was written must be a valid declaration
    return folder


def _base_image(dockerfile: str) -> str | None:
    for line in dockerfile.splitlines():
        if line.startswith("FROM "):
            return line.split()[1]
    return None
