"""What an image holds: conda packages (conda-meta/*.json) and Python distributions (*.dist-info)
read from its layer tarballs through the OCI API, streamed, with whiteouts applied layer by layer.

Layers are read bottom to top as the container runtime stacks them: a `.wh.<name>` entry removes
<name> (and all below it) from the layers beneath, `.wh..wh..opq` empties its directory of them.
gzip, zstd and plain tar layers are read; each layer's sha256 is checked as it streams past.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import posixpath
import re
import tarfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from email.parser import BytesHeaderParser
from typing import IO, Any

from envlock.errors import ImageError
from envlock.extras import require_extra
from envlock.oci import ImageRef, RegistryClient

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
WHITEOUT = ".wh."
OPAQUE = ".wh..wh..opq"
MAX_RECORD_BYTES = 64 * 1024 * 1024  # a conda-meta record lists every file; the largest are a few MB
CHUNK = 1024 * 1024
SITE_PACKAGES = re.compile(r"^(.*?)/lib/python[^/]*/(?:site|dist)-packages/[^/]+$")
# Where a job's Python lives, in the order AML's curated images and conda images declare it.
PREFIX_VARIABLES = ("AZUREML_CONDA_ENVIRONMENT_PATH", "CONDA_PREFIX")


@dataclass(frozen=True)
class ImagePackage:
    """One package installed in an image, as its metadata in the layers records it."""

    manager: str  # "conda" or "pip"
    name: str
    version: str
    prefix: str  # the environment the package is installed in, e.g. /opt/conda or /usr/local
    build: str | None = None
    channel: str | None = None
    url: str | None = None
    sha256: str | None = None
    md5: str | None = None
    installer: str | None = None  # pip only: INSTALLER ("pip", "conda", "uv", ...)

    @property
    def sort_key(self) -> tuple[str, str, str, str]:
        return (self.prefix, self.manager, self.name.lower(), self.version)


@dataclass(frozen=True)
class ImageInventory:
    """Every conda and pip package an image holds, and which image was read."""

    image_digest: str  # what the reference names (an index or a manifest): the digest to pin
    manifest_digest: str  # the linux/amd64 image manifest read
    environment_prefix: str | None  # the prefix a job runs in, when the image config says so
    packages: tuple[ImagePackage, ...]

    def in_environment(self) -> list[ImagePackage]:
        """The packages of the environment a job runs in (all of them when that is not known)."""
        if self.environment_prefix is None:
            return list(self.packages)
        return [p for p in self.packages if p.prefix == self.environment_prefix]


@dataclass(frozen=True)
class ReadStats:
    """How much of an image was read to take its inventory, and how long it took."""

    layers: int
    compressed_bytes: int
    uncompressed_bytes: int
    seconds: float


@dataclass(frozen=True)
class _CondaRecord:
    """A conda-meta record found in a layer."""

    record: dict[str, Any]


@dataclass(frozen=True)
class _DistMetadata:
    """A Python distribution's METADATA found in a layer."""

    name: str
    version: str


@dataclass(frozen=True)
class _Installer:
    """A distribution's INSTALLER file found in a layer."""

    text: str


_Fact = _CondaRecord | _DistMetadata | _Installer


def read_inventory(image: ImageRef, mirrors: dict[str, str] | None = None,
                   timeout: float = 60) -> tuple[ImageInventory, ReadStats]:
    """The inventory of the image's linux/amd64 manifest (image must name a digest or a tag)."""
    started = time.perf_counter()
    client = RegistryClient(image, mirrors, timeout)
    reference = image.digest or image.tag
    assert reference
    named, manifest = client.platform_manifest(reference)
    layers = manifest.document.get("layers") or []
    config_descriptor = manifest.document.get("config") or {}
    facts: dict[str, _Fact] = {}
    compressed = uncompressed = 0
    for layer in layers:
        digest = _descriptor_digest(image, layer)
        with client.blob(digest) as stream:
            counted = _HashingReader(stream)
            raw_read, expanded = _read_layer(image, digest, counted, facts)
        compressed += raw_read
        uncompressed += expanded
    environment = _config_environment(client, image, _descriptor_digest(image, config_descriptor))
    packages = _assemble(facts)
    inventory = ImageInventory(named.digest, manifest.digest, _environment_prefix(environment, packages),
                               tuple(sorted(packages, key=lambda p: p.sort_key)))
    return inventory, ReadStats(len(layers), compressed, uncompressed, time.perf_counter() - started)


class _HashingReader:
    """Counts and hashes the raw (compressed) bytes of a blob as the decompressor pulls them."""

    def __init__(self, stream: IO[bytes]) -> None:
        self.stream = stream
        self.sha256 = hashlib.sha256()
        self.count = 0
        self._peeked = b""

    def peek(self, size: int) -> bytes:
        while len(self._peeked) < size:
            chunk = self.stream.read(size - len(self._peeked))
            if not chunk:
                break
            self._peeked += chunk
        return self._peeked[:size]

    def read(self, size: int = -1) -> bytes:
        if self._peeked:
            take = len(self._peeked) if size < 0 else min(size, len(self._peeked))
            data, self._peeked = self._peeked[:take], self._peeked[take:]
            if size < 0:
                data += self.stream.read()
        else:
            data = self.stream.read(size)
        self.sha256.update(data)
        self.count += len(data)
        return data

    def drain(self) -> None:
        while self.read(CHUNK):
            pass


class _ForwardReader:
    """The uncompressed tar as a forward-only seekable file: what tarfile's random-access reader
    needs to skip member data in large reads. (tarfile's own stream mode re-copies its buffer on
    every 512-byte header, which made reading a layer several times slower.)"""

    KEEP = 4096  # tarfile seeks one byte back before each header; keep a little of the past

    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.buffer = b""
        self.start = 0  # position of buffer[0] in the tar
        self.offset = 0  # read position inside buffer
        self.count = 0  # uncompressed bytes pulled from the stream

    def tell(self) -> int:
        return self.start + self.offset

    def seekable(self) -> bool:
        return True

    def _fill(self) -> bool:
        chunk: bytes = self.stream.read(CHUNK)
        if not chunk:
            return False
        self.count += len(chunk)
        kept = self.buffer[-self.KEEP:]
        self.start += len(self.buffer) - len(kept)
        self.offset -= len(self.buffer) - len(kept)
        self.buffer = kept + chunk
        return True

    def read(self, size: int = -1) -> bytes:
        pieces = []
        wanted = size if size >= 0 else float("inf")
        while wanted > 0:
            if self.offset >= len(self.buffer) and not self._fill():
                break
            take = int(min(wanted, len(self.buffer) - self.offset))
            pieces.append(self.buffer[self.offset:self.offset + take])
            self.offset += take
            wanted -= take
        return b"".join(pieces)

    def seek(self, position: int, whence: int = 0) -> int:
        if whence == 1:
            position += self.tell()
        if whence == 2 or position < self.start:
            raise OSError("a layer is read once, front to back")
        while position > self.start + len(self.buffer):
            self.offset = len(self.buffer)
            if not self._fill():
                break
        self.offset = min(position - self.start, len(self.buffer))
        return self.tell()


def _read_layer(image: ImageRef, digest: str, raw: _HashingReader, facts: dict[str, _Fact]) -> tuple[int, int]:
    magic = raw.peek(4)
    source: Any = raw  # file-like enough for gzip, zstandard and tarfile: read(size)
    if magic.startswith(GZIP_MAGIC):
        decompressed: Any = gzip.GzipFile(fileobj=source, mode="rb")
    elif magic == ZSTD_MAGIC:
        # Python 3.11 has no zstd; zstandard comes with envlock[azure] (and with conda-lock)
        require_extra("azure", "reading a zstd image layer", "zstandard")
        import zstandard

        decompressed = zstandard.ZstdDecompressor().stream_reader(source, read_across_frames=True, closefd=False)
    else:
        decompressed = source
    tar_stream = _ForwardReader(decompressed)
    try:
        with tarfile.TarFile(fileobj=tar_stream, mode="r") as archive:  # type: ignore[arg-type]
            _apply_layer(archive, facts)
    except (tarfile.TarError, OSError, EOFError, ValueError) as error:
        if isinstance(error, ImageError):
            raise
        raise ImageError(f"{image}: layer {digest} is not a readable tar archive ({error})") from None
    raw.drain()
    actual = "sha256:" + raw.sha256.hexdigest()
    if actual != digest:
        raise ImageError(f"{image}: layer {digest} arrived with sha256 {actual}; nothing was written")
    return raw.count, tar_stream.count


def _apply_layer(archive: tarfile.TarFile, facts: dict[str, _Fact]) -> None:
    added: dict[str, _Fact] = {}
    removed: list[str] = []  # whited-out paths: they and everything below them
    emptied: list[str] = []  # opaque directories: everything below them
    replaced: set[str] = set()  # paths this layer writes (a record replaced by something else is gone)
    for member in archive:
        path = _normalize(member.name)
        folder, base = posixpath.split(path)
        if base == OPAQUE:
            emptied.append(folder)
            continue
        if base.startswith(WHITEOUT):
            removed.append(posixpath.join(folder, base[len(WHITEOUT):]))
            continue
        replaced.add(path)
        if not _is_interesting(folder, base):
            continue
        if member.isfile():
            handle = archive.extractfile(member)
            if handle is not None and member.size <= MAX_RECORD_BYTES:
                fact = _parse_fact(base, handle.read())
                if fact is not None:
                    added[path] = fact
        elif member.islnk():
            target = _normalize(member.linkname)
            fact = added.get(target) or facts.get(target)
            if fact is not None:
                added[path] = fact
    for folder in emptied:
        for path in [p for p in facts if p.startswith(folder.rstrip("/") + "/")]:
            del facts[path]
    for gone in removed:
        for path in [p for p in facts if p == gone or p.startswith(gone + "/")]:
            del facts[path]
    for path in replaced:
        facts.pop(path, None)
    facts.update(added)


def _normalize(name: str) -> str:
    return "/" + posixpath.normpath("/" + name).lstrip("/")


def _is_interesting(folder: str, base: str) -> bool:
    parent = posixpath.basename(folder)
    if parent == "conda-meta":
        return base.endswith(".json")
    return parent.endswith(".dist-info") and base in ("METADATA", "INSTALLER")


def _parse_fact(base: str, data: bytes) -> _Fact | None:
    if base == "INSTALLER":
        return _Installer(data.decode("utf-8", "replace").strip())
    if base == "METADATA":
        headers = BytesHeaderParser().parsebytes(data)
        name, version = headers.get("Name"), headers.get("Version")
        return _DistMetadata(str(name).strip(), str(version).strip()) if name and version else None
    try:
        record = json.loads(data)
    except ValueError:
        return None
    if not isinstance(record, dict) or not record.get("name") or not record.get("version"):
        return None
    return _CondaRecord({k: record.get(k) for k in ("name", "version", "build", "build_string", "channel",
                                                    "subdir", "url", "sha256", "md5")})


def _assemble(facts: dict[str, _Fact]) -> list[ImagePackage]:
    packages = []
    installers = {posixpath.dirname(p): f.text for p, f in facts.items() if isinstance(f, _Installer)}
    for path, fact in facts.items():
        folder = posixpath.dirname(path)
        if isinstance(fact, _CondaRecord):
            record = fact.record
            packages.append(ImagePackage(
                "conda", str(record["name"]), str(record["version"]), posixpath.dirname(folder),
                build=_text(record.get("build") or record.get("build_string")), channel=_channel(record),
                url=_text(record.get("url")), sha256=_text(record.get("sha256")), md5=_text(record.get("md5")),
            ))
        elif isinstance(fact, _DistMetadata):
            match = SITE_PACKAGES.match(folder)
            prefix = (match.group(1) or "/") if match else posixpath.dirname(folder)
            packages.append(ImagePackage("pip", fact.name, fact.version, prefix,
                                         installer=installers.get(folder) or None))
    return packages


def _channel(record: dict[str, Any]) -> str | None:
    channel = _text(record.get("channel"))
    subdir = _text(record.get("subdir"))
    if channel and subdir and channel.endswith("/" + subdir):
        channel = channel[: -len(subdir) - 1]  # conda writes .../conda-forge/linux-64; keep the channel
    return channel


def _text(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None


def _descriptor_digest(image: ImageRef, descriptor: Any) -> str:
    from envlock.image_ref import DIGEST

    digest = descriptor.get("digest") if isinstance(descriptor, dict) else None
    if not isinstance(digest, str) or not DIGEST.match(digest):
        raise ImageError(f"{image}: the manifest names a layer or config without a sha256 digest")
    return digest


def _config_environment(client: RegistryClient, image: ImageRef, digest: str) -> dict[str, str]:
    with client.blob(digest) as stream:
        data = stream.read(MAX_RECORD_BYTES)
    if "sha256:" + hashlib.sha256(data).hexdigest() != digest:
        raise ImageError(f"{image}: the image config does not match its digest {digest}")
    try:
        variables = (json.loads(data).get("config") or {}).get("Env") or []
    except (ValueError, AttributeError):
        raise ImageError(f"{image}: the image config is not JSON") from None
    return dict(str(v).split("=", 1) for v in variables if "=" in str(v))


def _environment_prefix(environment: dict[str, str], packages: Iterable[ImagePackage]) -> str | None:
    prefixes = {p.prefix for p in packages}
    candidates = [environment.get(v) for v in PREFIX_VARIABLES]
    candidates += [entry[: -len("/bin")] or "/" for entry in environment.get("PATH", "").split(":")
                   if entry.endswith("/bin")]
    for candidate in candidates:
        if candidate and posixpath.normpath(candidate) in prefixes:
            return posixpath.normpath(candidate)
    return None
