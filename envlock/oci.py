"""Image references and tag -> digest resolution through the OCI distribution API.

GET /v2/<repository>/manifests/<tag> with the index, manifest-list and manifest media types,
following an anonymous bearer-token challenge; the digest is Docker-Content-Digest, checked
against the body. Loopback registries may be plain http, as docker allows; all others https.
"""

from __future__ import annotations

import hashlib
import json
import re
import urllib.parse
from dataclasses import dataclass
from email.message import Message

from envlock.errors import EnvlockError
from envlock.httpget import FetchError, http_get

MANIFEST_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
)
DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
DOCKER_HUB = "docker.io"
LOOPBACK = ("127.0.0.1", "localhost", "[::1]")


class ImageError(EnvlockError):
    """An image reference could not be resolved (unreachable, unknown tag, malformed manifest)."""


@dataclass(frozen=True)
class ImageRef:
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


def registry_base_url(registry: str, mirrors: dict[str, str] | None = None) -> str:
    if mirrors and registry in mirrors:
        return mirrors[registry].rstrip("/")
    host = "registry-1.docker.io" if registry == DOCKER_HUB else registry
    scheme = "http" if host.split(":")[0] in LOOPBACK or host.startswith("[::1]") else "https"
    return f"{scheme}://{host}"


def resolve_digest(image: ImageRef, mirrors: dict[str, str] | None = None, timeout: float = 30) -> str:
    """The digest the image's tag points at now."""
    if image.tag is None:
        assert image.digest
        return image.digest
    url = f"{registry_base_url(image.registry, mirrors)}/v2/{image.repository}/manifests/{image.tag}"
    headers = {"Accept": ", ".join(MANIFEST_TYPES)}
    status, response_headers, body = _fetch(url, headers, timeout)
    if status == 401:
        token = _anonymous_token(response_headers.get("WWW-Authenticate", ""), image, timeout)
        status, response_headers, body = _fetch(url, {**headers, "Authorization": f"Bearer {token}"}, timeout)
    if status == 404:
        raise ImageError(f"{image}: no such tag or repository in {image.registry}")
    if status != 200:
        raise ImageError(f"{image}: the registry answered {status} for {url}")
    _check_manifest(image, response_headers.get("Content-Type", ""), body)
    actual = "sha256:" + hashlib.sha256(body).hexdigest()
    declared = response_headers.get("Docker-Content-Digest")
    if declared and declared != actual:
        raise ImageError(f"{image}: Docker-Content-Digest {declared} does not match the manifest's sha256")
    return declared or actual


def _check_manifest(image: ImageRef, content_type: str, body: bytes) -> None:
    media_type = content_type.split(";")[0].strip()
    try:
        document = json.loads(body)
    except ValueError:
        document = None
    valid = (
        isinstance(document, dict)
        and document.get("schemaVersion") == 2
        and (isinstance(document.get("manifests"), list) or isinstance(document.get("layers"), list))
        and (media_type in MANIFEST_TYPES or document.get("mediaType") in MANIFEST_TYPES)
    )
    if not valid:
        raise ImageError(f"{image}: the registry returned a malformed manifest ({media_type or 'no type'}); "
                         "nothing was written")


def _anonymous_token(challenge: str, image: ImageRef, timeout: float) -> str:
    if not challenge.lower().startswith("bearer "):
        raise ImageError(f"{image}: the registry wants '{challenge.split(' ')[0] or 'unknown'}' "
                         "authentication; only anonymous bearer tokens are supported")
    params = dict(re.findall(r'(\w+)="([^"]*)"', challenge))
    realm = params.pop("realm", "")
    host = urllib.parse.urlsplit(realm).hostname or ""
    if not realm.startswith("https://") and not (realm.startswith("http://") and host in ("127.0.0.1", "localhost")):
        raise ImageError(f"{image}: refusing token realm '{realm}' (must be https)")
    params.setdefault("scope", f"repository:{image.repository}:pull")
    status, _, body = _fetch(f"{realm}?{urllib.parse.urlencode(params)}", {}, timeout)
    if status != 200:
        raise ImageError(f"{image}: the token service {realm} answered {status}")
    try:
        payload = json.loads(body)
        return str(payload.get("token") or payload["access_token"])
    except (ValueError, KeyError, TypeError):
        raise ImageError(f"{image}: the token service {realm} returned no token") from None


def _fetch(url: str, headers: dict[str, str], timeout: float) -> tuple[int, Message, bytes]:
    try:
        return http_get(url, headers, timeout)
    except FetchError as error:
        raise ImageError(error.message) from None
