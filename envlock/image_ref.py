"""Image references (registry, repository, tag, digest), parsed as docker parses them: no network."""

from __future__ import annotations

import re
from dataclasses import dataclass

from envlock.errors import ImageError

DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
DOCKER_HUB = "docker.io"


@dataclass(frozen=True)
class ImageRef:
    """A container image reference split into registry, repository, tag and digest."""

    registry: str
    repository: str
    tag: str | None = None
    digest: str | None = None

    @property
    def is_pinned(self) -> bool:
        return self.digest is not None

    def pinned(self, digest: str) -> str:
        return f"{self.registry}/{self.repository}@{digest}"

    def __str__(self) -> str:
        text = f"{self.registry}/{self.repository}"
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text


def parse_image(text: str) -> ImageRef:
    """Split an image reference the way docker does (registry, repository, tag, digest)."""
    rest, _, digest = text.strip().partition("@")
    first, _, remainder = rest.partition("/")
    if remainder and ("." in first or ":" in first or first == "localhost"):
        registry, path = first, remainder
    else:
        registry, path = DOCKER_HUB, rest if "/" in rest else f"library/{rest}"
    repository, tag = path, None
    if ":" in path.rsplit("/", 1)[-1]:
        repository, tag = path.rsplit(":", 1)
    if not repository or (digest and not DIGEST.match(digest)):
        raise ImageError(f"'{text}' is not an image reference: write registry/repository:tag or "
                         "registry/repository@sha256:<64 hex digits>")
    if not tag and not digest:
        tag = "latest"
    return ImageRef(registry, repository, tag, digest or None)
