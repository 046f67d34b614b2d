"""The three kinds of AML environment version, one frozen type each.

AML builds a version from exactly one of: an image alone, an image plus a conda file it solves
on top, or a docker build context. Every stage (spec, lock, render, register, export, diff)
names the kind it holds instead of guessing it from which fields are empty.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, ClassVar

DOCKERFILE = "Dockerfile"


class Kind(enum.Enum):
    IMAGE = "image"
    IMAGE_CONDA = "image+conda"
    BUILD_CONTEXT = "build-context"

    @property
    def label(self) -> str:
        return {"image": "image only", "image+conda": "image + conda file",
                "build-context": "build context"}[self.value]


@dataclass(frozen=True)
class ImageOnly:
    """A version that is an image and nothing else (e.g. a curated image pinned by digest)."""

    kind: ClassVar[Kind] = Kind.IMAGE
    image: str


@dataclass(frozen=True)
class ImageWithConda:
    """An image plus the conda file AML solves and installs on it (received inline as YAML)."""

    kind: ClassVar[Kind] = Kind.IMAGE_CONDA
    image: str
    conda_file: str


@dataclass(frozen=True)
class BuildContext:
    """A docker build context: every file by its path inside the context, sorted by path."""

    kind: ClassVar[Kind] = Kind.BUILD_CONTEXT
    files: tuple[tuple[str, str], ...]
    dockerfile_path: str = DOCKERFILE
    # Where a service keeps the uploaded context (AML: build.path, a blob URL); not content.
    location: str | None = field(default=None, compare=False)

    @property
    def dockerfile(self) -> str:
        return dict(self.files).get(self.dockerfile_path, "")


EnvironmentContent = ImageOnly | ImageWithConda | BuildContext


def same_content(first: EnvironmentContent, second: EnvironmentContent) -> bool:
    """Equal as AML treats a version's content: conda files compared as YAML data."""
    if isinstance(first, BuildContext) and isinstance(second, BuildContext) and not (first.files and second.files):
        # A service keeps the uploaded context at a content-addressed location: compare those.
        return first.location is not None and first.location == second.location \
            and first.dockerfile_path == second.dockerfile_path
    if isinstance(first, ImageWithConda) and isinstance(second, ImageWithConda):
        if first.image != second.image:
            return False
        return first.conda_file == second.conda_file or _yaml_data(first.conda_file) == _yaml_data(second.conda_file)
    return first == second


def _yaml_data(text: str) -> Any:
    """A conda file's data, read with libyaml where PyYAML has it."""
    import yaml

    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def canonical_content(content: EnvironmentContent) -> str | None:
    """Every content field as canonical JSON, the conda file as YAML data: equal text exactly when
    same_content holds (or stricter). Fields are read from the kind's dataclass, so a field a kind
    gains is covered without a change here. None for a build context a service keeps only as an
    uploaded blob (its files are not readable) and for a conda file that is not YAML."""
    import dataclasses
    import json

    import yaml

    if isinstance(content, BuildContext) and not content.files:
        return None
    fields: dict[str, object] = {"kind": content.kind.value}
    for field_ in dataclasses.fields(content):
        if field_.compare:
            fields[field_.name] = getattr(content, field_.name)
    if isinstance(content, ImageWithConda):
        try:
            fields["conda_file"] = _yaml_data(content.conda_file)
        except yaml.YAMLError:
            return None
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_typed)


def _typed(value: object) -> dict[str, str]:
    """A YAML value JSON has no type for (a date, a timestamp): kept apart from a string that reads alike."""
    return {f"!{type(value).__name__}": str(value)}


def named_image(content: EnvironmentContent) -> str | None:
    """The image a version names directly (a build context names its images in FROM lines)."""
    return None if isinstance(content, BuildContext) else content.image
