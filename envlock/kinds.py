"""The three kinds of AML environment version, one frozen type each.

AML builds a version from exactly one of: an image alone, an image plus a conda file it solves
on top, or a docker build context. Every stage (spec, lock, render, register, export, diff)
names the kind it holds instead of guessing it from which fields are empty.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import ClassVar

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
        import yaml

        return first.image == second.image and yaml.safe_load(first.conda_file) == yaml.safe_load(second.conda_file)
    return first == second


def named_image(content: EnvironmentContent) -> str | None:
    """The image a version names directly (a build context names its images in FROM lines)."""
    return None if isinstance(content, BuildContext) else content.image
