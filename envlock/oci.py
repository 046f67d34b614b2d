"""Image references, manifests and blobs through the OCI distribution API.

GET /v2/<repository>/manifests/<reference> with the index, manifest-list and manifest media
types, and /v2/<repository>/blobs/<digest> streamed, both behind the registry's bearer-token
challenge (envlock.oci_auth). Every digest is checked against the bytes. Loopback registries may
be plain http, as docker allows; all others https.
"""

from __future__ import annotations

import hashlib
import json
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import Message
from typing import IO, Any

from envlock.errors import ImageError
from envlock.httpget import FetchError, http_stream
from envlock.image_ref import DIGEST, DOCKER_HUB, ImageRef, parse_image
from envlock.oci_auth import LOOPBACK_HOSTS, TokenSource, parse_challenge

INDEX_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
)
IMAGE_MANIFEST_TYPES = (
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
)
MANIFEST_TYPES = INDEX_TYPES + IMAGE_MANIFEST_TYPES
# AML runs linux/amd64; this is the manifest an index resolves to.
AML_OS, AML_ARCHITECTURE = "linux", "amd64"
MAX_MANIFEST_BYTES = 4 * 1024 * 1024

__all__ = ["ImageError", "ImageRef", "Manifest", "RegistryClient", "parse_image", "resolve_digest"]


@dataclass(frozen=True)
class Manifest:
    """An image manifest (or index) as a registry served it, with its digest."""

    digest: str
    media_type: str
    document: dict[str, Any]

    @property
    def is_index(self) -> bool:
        return self.media_type in INDEX_TYPES or "manifests" in self.document


def registry_base_url(registry: str, mirrors: dict[str, str] | None = None) -> str:
    if mirrors and registry in mirrors:
        return mirrors[registry].rstrip("/")
    host = "registry-1.docker.io" if registry == DOCKER_HUB else registry
    hostname = urllib.parse.urlsplit(f"//{host}").hostname
    scheme = "http" if hostname in LOOPBACK_HOSTS else "https"
    return f"{scheme}://{host}"


class RegistryClient:
    """One image repository in one registry; tokens are fetched on the first challenge and reused."""

    def __init__(self, image: ImageRef, mirrors: dict[str, str] | None = None, timeout: float = 30) -> None:
        self.image = image
        self.base_url = registry_base_url(image.registry, mirrors)
        self.timeout = timeout
        self._tokens = TokenSource(urllib.parse.urlsplit(self.base_url).netloc, timeout)
        self._authorization: dict[str, str] = {}

    def manifest(self, reference: str) -> Manifest:
        """The manifest (or index) a tag or digest names, its digest checked against its bytes."""
        url = self._url(f"manifests/{reference}")
        with self._open(url, {"Accept": ", ".join(MANIFEST_TYPES)}) as (status, headers, body):
            if status == 404:
                raise ImageError(f"{self.image}: no such tag or repository in {self.image.registry}")
            if status != 200:
                raise ImageError(f"{self.image}: the registry answered {status} for {url}")
            data = body.read(MAX_MANIFEST_BYTES + 1)
        if len(data) > MAX_MANIFEST_BYTES:
            raise ImageError(f"{self.image}: the manifest at {url} is larger than {MAX_MANIFEST_BYTES} bytes")
        media_type = (headers.get("Content-Type") or "").split(";")[0].strip()
        document = _manifest_document(self.image, media_type, data)
        actual = "sha256:" + hashlib.sha256(data).hexdigest()
        declared = headers.get("Docker-Content-Digest")
        if declared and declared != actual:
            raise ImageError(f"{self.image}: Docker-Content-Digest {declared} does not match the manifest's sha256")
        if DIGEST.match(reference) and reference != actual:
            raise ImageError(f"{self.image}: the registry returned a manifest whose sha256 is not {reference}")
        return Manifest(actual, media_type or str(document.get("mediaType", "")), document)

    def platform_manifest(self, reference: str) -> tuple[Manifest, Manifest]:
        """(what the reference names, its linux/amd64 image manifest): the same one unless it is an index."""
        manifest = self.manifest(reference)
        if not manifest.is_index:
            return manifest, manifest
        for entry in manifest.document.get("manifests") or []:
            platform = (entry.get("platform") or {}) if isinstance(entry, dict) else {}
            if platform.get("os") == AML_OS and platform.get("architecture") == AML_ARCHITECTURE:
                return manifest, self.manifest(str(entry.get("digest")))
        raise ImageError(f"{self.image}: the image index has no {AML_OS}/{AML_ARCHITECTURE} manifest, "
                         "which AML runs")

    @contextmanager
    def blob(self, digest: str) -> Iterator[IO[bytes]]:
        """A blob's bytes as a stream (the caller verifies the digest as it reads)."""
        url = self._url(f"blobs/{digest}")
        with self._open(url, {}) as (status, _, body):
            if status != 200:
                raise ImageError(f"{self.image}: the registry answered {status} for blob {digest}")
            yield body

    def _url(self, path: str) -> str:
        return f"{self.base_url}/v2/{self.image.repository}/{path}"

    @contextmanager
    def _open(self, url: str, headers: dict[str, str]) -> Iterator[tuple[int, Message, IO[bytes]]]:
        try:
            with http_stream(url, {**headers, **self._authorization}, self.timeout) as (status, got, body):
                if status != 401 or not got.get("WWW-Authenticate"):
                    yield status, got, body
                    return
                challenge_header = got.get("WWW-Authenticate", "")
            challenge = parse_challenge(challenge_header, f"repository:{self.image.repository}:pull",
                                        str(self.image))
            token = self._tokens.access_token(challenge, str(self.image))
            self._authorization = {"Authorization": f"Bearer {token}"}
            with http_stream(url, {**headers, **self._authorization}, self.timeout) as response:
                yield response
        except FetchError as error:  # unreachable stays unreachable (exit 4), not a bad image
            raise FetchError(f"image registry: {error.message}") from None


def resolve_digest(image: ImageRef, mirrors: dict[str, str] | None = None, timeout: float = 30) -> str:
    """The digest the image's tag points at now."""
    if image.tag is None:
        assert image.digest
        return image.digest
    return RegistryClient(image, mirrors, timeout).manifest(image.tag).digest


def _manifest_document(image: ImageRef, media_type: str, body: bytes) -> dict[str, Any]:
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
    assert isinstance(document, dict)
    return document
