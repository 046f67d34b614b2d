"""Lockfiles: conda-lock.yml (conda-lock's own models) and pip-tools style requirements.txt.

Each lock records the hash of its inputs (staleness is decidable offline) and `lock_sha256`,
which names the environment's content when it is registered. It is a sha256 over the lock's
whole text with its own line left out, so the header (channels, platforms, image, recorded
inputs hash) is protected as much as the packages, and checking it costs one pass over the bytes.
A multi-file pip lock hashes every file, in order, under its name. Nothing here talks to the network.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from envlock import __version__
from envlock.errors import DeclarationError
from envlock.fsutil import folder_entries
from envlock.kinds import Kind
from envlock.yamlio import MAX_LOCK_BYTES, decode_text, parse_yaml, read_bytes, read_text

if TYPE_CHECKING:
    from envlock.image_inventory import ImageInventory

CONDA_LOCK_FILE = "conda-lock.yml"
CONTEXT_LOCK_FILE = "context-lock.yml"
LOCKS_DIR = "locks"  # a build context's installed files, each locked on its own
REQUIREMENTS_TXT = "requirements.txt"
IMAGE_LOCK_FILE = "image-lock.yml"  # an image-only environment: its digest and inventory
MAIN_FILES = (CONDA_LOCK_FILE, REQUIREMENTS_TXT)  # the file that records the hash; written last
PACKAGE_SECTION = "\npackage:\n"
IMAGE_ONLY = "image only"
META_PREFIX = "envlock."

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class LockedPackage:
    """One package of a lock for one platform: exact version, file URL and hash."""

    manager: str  # "conda" or "pip"
    name: str
    version: str
    platform: str
    url: str
    sha256: str | None
    md5: str | None = None
    build: str | None = None
    dependencies: tuple[tuple[str, str], ...] = ()
    # pip only: every file hash installable on the platform (requirements.txt lists them all)
    hashes: tuple[str, ...] = ()

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.manager, self.name, self.platform)


@dataclass(frozen=True)
class PinnedImage:
    """A FROM image of a build context, pinned to the digest its tag named."""

    line: int  # the FROM line in the Dockerfile
    image: str  # as written
    pinned: str  # repository@sha256:<digest it named when locked>


@dataclass(frozen=True)
class LockedInstall:
    """A file a build context's Dockerfile installs, with its own lock."""

    line: int  # the RUN line that installs it
    manager: str  # "pip" or "conda"
    path: str  # the file in the build context
    lock: Lock


@dataclass(frozen=True)
class ContextLock:
    """What a declared build context's lock adds: pinned images and one lock per installed file."""

    context_sha256: str
    dockerfile_path: str
    base_python: str | None
    images: tuple[PinnedImage, ...]
    installs: tuple[LockedInstall, ...]


@dataclass(frozen=True)
class Lock:
    """A resolved environment: every package for every platform, and what it was made from."""

    name: str
    kind: Kind
    image: str
    platforms: tuple[str, ...]
    channels: tuple[str, ...]
    packages: tuple[LockedPackage, ...]
    inputs_sha256: str
    resolvers: tuple[tuple[str, str], ...]
    sources: tuple[str, ...] = ()
    python: str | None = None  # the target Python of a pip-only lock
    lock_sha256: str = ""
    base_python: str | None = None  # the Python the base image provides, from its inventory when read
    context: ContextLock | None = None  # a declared build context's images and installed files
    image_digest: str | None = None  # what the image reference named when the lock was made
    inventory: ImageInventory | None = None  # image only: what the image holds
    sources_sha256: str | None = None  # the declaration's files when locked (envlock.sources)
    render_sha256: str | None = None  # what the lock renders to for AML (trust.render_sha256), for register

    def for_platform(self, platform: str) -> list[LockedPackage]:
        return [p for p in self.packages if p.platform == platform]

    def python_version(self, platform: str) -> str | None:
        for package in self.for_platform(platform):
            if package.manager == "conda" and package.name == "python":
                return package.version
        return None


@dataclass(frozen=True)
class LockHeader:
    """What `check` needs, read without parsing the package list."""

    files: tuple[Path, ...]
    inputs_sha256: str | None
    recorded_lock_sha256: str | None
    actual_lock_sha256: str
    image: str | None
    base_python: str | None = None
    sources_sha256: str | None = None  # see envlock.sources: lets check skip parsing the declaration
    render_sha256: str | None = None  # see trust.render_sha256: lets register skip parsing and rendering

    @property
    def is_untouched(self) -> bool:
        """The content still hashes to what was recorded (not edited by hand)."""
        return self.recorded_lock_sha256 == self.actual_lock_sha256

    def is_fresh_for(self, inputs_sha256: str) -> bool:
        return self.is_untouched and self.inputs_sha256 == inputs_sha256


_CONDA_HASH_LINE = re.compile(r"^ *envlock\.lock-sha256: *'?([0-9a-f]*)'? *\n", re.MULTILINE)
_CONDA_HASH_LINE_BYTES = re.compile(_CONDA_HASH_LINE.pattern.encode(), re.MULTILINE)
_REQUIREMENTS_HASH_LINE = re.compile(r"^# envlock-lock-sha256: ([0-9a-f]*) *\n", re.MULTILINE)
HASH_PLACEHOLDER = "f" * 64  # dumped unquoted, like a real digest


def lock_sha256(files: list[tuple[str, str]]) -> tuple[str, str | None]:
    """(the hash of a lock's files, the hash the first of them records).

    Each file's text is hashed with its first lock-sha256 line removed (that line cannot hash
    itself); every other byte counts. Texts are as read in text mode (LF line endings).
    """
    digest = hashlib.sha256()
    recorded = None
    for name, text in sorted(files, key=lambda item: (item[0] not in MAIN_FILES, item[0])):
        pattern = _CONDA_HASH_LINE if name == CONDA_LOCK_FILE else _REQUIREMENTS_HASH_LINE
        match = pattern.search(text)
        if match:
            text = text[:match.start()] + text[match.end():]
            if name in MAIN_FILES:
                recorded = match.group(1)
        digest.update(f"{name}\n{len(text)}\n".encode())
        digest.update(text.encode("utf-8"))
    return digest.hexdigest(), recorded


def _seal(files: list[tuple[Path, str]]) -> tuple[str, dict[Path, str]]:
    """Fill in the placeholder hash line of freshly rendered lock files."""
    digest, _ = lock_sha256([(path.name, text) for path, text in files])
    ordered = sorted(files, key=lambda item: item[0].name in MAIN_FILES)  # the main file last
    return digest, {path: _fill_hash_line(path.name, text, digest) for path, text in ordered}


def _fill_hash_line(name: str, text: str, digest: str) -> str:
    """The placeholder replaced in the hash line only (an image digest may also be all f)."""
    pattern = _CONDA_HASH_LINE if name == CONDA_LOCK_FILE else _REQUIREMENTS_HASH_LINE
    match = pattern.search(text)
    if match is None or match.group(1) != HASH_PLACEHOLDER:
        return text
    line = match.group(0).replace(HASH_PLACEHOLDER, digest, 1)
    return text[:match.start()] + line + text[match.end():]


def lock_files(folder: Path, entries: Mapping[str, os.DirEntry[str]] | None = None) -> list[Path]:
    """The lock files present for an environment folder (context-lock.yml, image-lock.yml, conda-lock.yml
    or requirements*.txt). `entries`: the folder's listing, when the caller has read it already."""
    if entries is None:
        entries = folder_entries(folder)
        if entries is None:
            return []
    files = {name for name in _LOCK_NAMES if name in entries and entries[name].is_file()}
    for single in (CONTEXT_LOCK_FILE, IMAGE_LOCK_FILE, CONDA_LOCK_FILE):
        if single in files:
            return [folder / single]
    if REQUIREMENTS_TXT not in files:
        return []
    others = sorted(name for name in entries if _is_platform_requirements(name))
    return [folder / REQUIREMENTS_TXT, *(folder / name for name in others)]


_LOCK_NAMES = frozenset((CONTEXT_LOCK_FILE, IMAGE_LOCK_FILE, CONDA_LOCK_FILE, REQUIREMENTS_TXT))


def is_lock_file_name(name: str) -> bool:
    """A name lock writers give a file in an environment folder: never part of what was declared."""
    return name in _LOCK_NAMES or _is_platform_requirements(name)


def _is_platform_requirements(name: str) -> bool:
    return name.startswith("requirements-") and name.endswith(".txt")


def requirements_file_name(platform: str, first: bool) -> str:
    return REQUIREMENTS_TXT if first else f"requirements-{platform}.txt"


# ---------------------------------------------------------------- writing


def render_lock_files(lock: Lock, folder: Path) -> tuple[Lock, dict[Path, str]]:
    """The lock with its lock_sha256 filled in, and the text of every file it is written as."""
    if lock.context is not None:
        from envlock.context_lock import render_context_lock

        return render_context_lock(lock, folder)
    if lock.inventory is not None:
        from envlock.image_lockfile import render_image_lock

        hint = "The packages the image holds, read from its layers; envlock diff/verify/outdated compare them."
        return render_image_lock(lock, lock.inventory, _header_lines(lock, hint), folder)
    lock = _without_machine_details(lock)
    if lock.kind is Kind.IMAGE_CONDA:
        return _render_conda_lock(lock, folder)
    return _render_requirements(lock, folder)


def _without_machine_details(lock: Lock) -> Lock:
    """Credentials and local paths never reach a lock: a file's URL loses its user:password@
    (it was read through a credentialed index); a local URL or a credentialed channel is refused."""
    from dataclasses import replace

    from envlock.errors import EnvlockError
    from envlock.secrets import has_credentials, is_local_url, mask, strip_credentials

    for channel in lock.channels:
        if has_credentials(channel) or is_local_url(channel):
            raise EnvlockError(f"{lock.name}: channel {mask(channel)} carries credentials or a local path; "
                               "name the canonical channel and read it through mirrors: in envlock.yaml")
    packages = []
    for package in lock.packages:
        url = strip_credentials(package.url) if package.url else package.url
        if url and (is_local_url(url) or has_credentials(url)):
            raise EnvlockError(f"{lock.name}: {package.name} would be locked to {mask(url)}, a local or "
                               "credentialed URL no other machine can use; read it through a mirror "
                               "(mirrors: in envlock.yaml) so the lock keeps the canonical URL")
        packages.append(package if url == package.url else replace(package, url=url))
    return replace(lock, packages=tuple(packages))


def _header_lines(lock: Lock, install_hint: str) -> list[str]:
    resolvers = ", ".join(f"{name} {version}" for name, version in lock.resolvers) or "no resolver: image only"
    return [
        f"# Generated by envlock {__version__} ({resolvers}). DO NOT EDIT.",
        "# To regenerate after changing the declaration:",
        f"#    envlock lock {lock.name}",
        "# To update one package and keep the rest:",
        f"#    envlock lock {lock.name} --update PACKAGE",
        f"# {install_hint}",
    ]


def _render_conda_lock(lock: Lock, folder: Path) -> tuple[Lock, dict[Path, str]]:
    custom = {
        f"{META_PREFIX}version": __version__,
        f"{META_PREFIX}inputs-sha256": lock.inputs_sha256,
        f"{META_PREFIX}image": lock.image,
        f"{META_PREFIX}resolvers": ", ".join(f"{n} {v}" for n, v in lock.resolvers),
        f"{META_PREFIX}lock-sha256": HASH_PLACEHOLDER,
    }
    if lock.image_digest:
        custom[f"{META_PREFIX}image-digest"] = lock.image_digest
    if lock.sources_sha256:
        custom[f"{META_PREFIX}sources-sha256"] = lock.sources_sha256
    if lock.render_sha256:
        custom[f"{META_PREFIX}render-sha256"] = lock.render_sha256
    header = _header_lines(lock, f"To install locally: conda-lock install -n {lock.name} {CONDA_LOCK_FILE}")
    document = {"version": 1, "metadata": conda_lock_metadata(lock, custom), "package": conda_lock_packages(lock)}
    text = "\n".join(header) + "\n" + _dump(document)
    digest, files = _seal([(folder / CONDA_LOCK_FILE, text)])
    return _with_hash(lock, digest), files


def conda_lock_metadata(lock: Lock, custom: dict[str, str]) -> dict[str, Any]:
    """What conda-lock's LockMeta dumps for output (unset and None fields left out), in its field order.

    conda-lock's models stay the source of truth for the format: tests/test_lockfile_writer.py
    proves this writer byte-identical to `Lockfile(...).to_v1().dict_for_output()`. Importing
    conda-lock costs 0.5-1 s and 65 MiB (its package __init__ loads its CLI), more than a small
    solve, so the write path does not pay it.
    """
    return {
        "content_hash": {platform: lock.inputs_sha256 for platform in lock.platforms},
        "channels": [{"url": channel, "used_env_vars": []} for channel in lock.channels],
        "platforms": list(lock.platforms),
        "sources": list(lock.sources),
        "custom_metadata": dict(custom),
    }


def conda_lock_packages(lock: Lock) -> list[dict[str, Any]]:
    """conda-lock's v1 package entries: sorted by (manager, name, platform), virtual packages dropped."""
    entries = []
    for package in sorted(lock.packages, key=lambda p: p.key):
        if package.manager == "conda" and package.name.startswith("__"):
            continue
        if not package.url:
            raise ValueError(f"{package.name} {package.version} on {package.platform} has no URL")
        if package.manager == "conda" and package.md5 is None:
            raise ValueError(f"conda package {package.name} {package.version} has no md5")
        entry: dict[str, Any] = {
            "name": package.name, "version": package.version, "manager": package.manager,
            "platform": package.platform, "dependencies": dict(sorted(package.dependencies)),
            "url": package.url,
            "hash": {key: value for key, value in (("md5", package.md5), ("sha256", package.sha256))
                     if value is not None},
        }
        if package.build is not None:
            entry["build"] = package.build
        entry["category"] = "main"
        entry["optional"] = False
        entries.append(entry)
    return entries


def pip_requirement_lines(packages: list[LockedPackage], separator: str = " \\\n    ") -> str:
    """`name==version --hash=sha256:...` for each pip package, in pip-tools' layout by default."""
    lines = []
    for package in sorted((p for p in packages if p.manager == "pip"), key=lambda p: p.name):
        if package.url.startswith("git+"):
            lines.append(f"{package.name} @ {package.url}")
            continue
        hashes = package.hashes or ((package.sha256,) if package.sha256 else ())
        parts = [f"{package.name}=={package.version}", *(f"--hash=sha256:{digest}" for digest in sorted(hashes))]
        lines.append(separator.join(parts))
    return "".join(line + "\n" for line in lines)


def _render_requirements(lock: Lock, folder: Path) -> tuple[Lock, dict[Path, str]]:
    bodies = {platform: pip_requirement_lines(lock.for_platform(platform)) for platform in lock.platforms}
    files: list[tuple[Path, str]] = []
    for index, platform in enumerate(lock.platforms):
        python = lock.python_version(platform) or lock.python
        name = requirements_file_name(platform, index == 0)
        header = _header_lines(lock, f"To install: pip install --require-hashes --no-deps -r {name}")
        header += [
            f"# envlock-kind: {lock.kind.value}",
            f"# envlock-target: {f'python {python}' if python else IMAGE_ONLY} on {platform}",
            f"# envlock-inputs-sha256: {lock.inputs_sha256}",
            f"# envlock-lock-sha256: {HASH_PLACEHOLDER}",
            f"# envlock-image: {lock.image}",
            *([f"# envlock-base-python: {lock.base_python}"] if lock.base_python else []),
            *([f"# envlock-image-digest: {lock.image_digest}"] if lock.image_digest else []),
            *([f"# envlock-render-sha256: {lock.render_sha256}"] if lock.render_sha256 else []),
            "",
        ]
        files.append((folder / name, "\n".join(header) + "\n" + bodies[platform]))
    digest, sealed = _seal(files)
    return _with_hash(lock, digest), sealed


def _with_hash(lock: Lock, digest: str) -> Lock:
    from dataclasses import replace

    return replace(lock, lock_sha256=digest)


def _dump(data: Any) -> str:
    from envlock.blockyaml import dump

    return dump(data)  # PyYAML's text, as conda-lock writes it


# ---------------------------------------------------------------- reading

_REQ_META = re.compile(r"^# envlock-([a-z0-9-]+): (.*)$")


def read_header(folder: Path, entries: Mapping[str, os.DirEntry[str]] | None = None) -> LockHeader | None:
    """The recorded hashes and the recomputed content hash, without parsing packages."""
    files = lock_files(folder, entries)
    if not files:
        return None
    if files[0].name == CONTEXT_LOCK_FILE:
        from envlock.context_lock import read_context_header

        return read_context_header(folder)
    if files[0].name == IMAGE_LOCK_FILE:
        from envlock.image_lockfile import image_lock_header

        return image_lock_header(files[0])
    if files[0].name == CONDA_LOCK_FILE:
        return _conda_header(files[0])
    return _header_from_texts(files, [read_text(path, MAX_LOCK_BYTES) for path in files])


def _conda_header(path: Path) -> LockHeader:
    """`check` reads one per environment: an ASCII file with LF endings (what envlock writes) is its
    own text, so it is hashed as bytes without decoding and copying 100 KB."""
    data = read_bytes(path, MAX_LOCK_BYTES)
    if b"\r" in data or not data.isascii():
        return _header_from_texts([path], [decode_text(path, data)])
    match = _hash_line(data)
    digest = hashlib.sha256()
    if match is None:
        digest.update(f"{CONDA_LOCK_FILE}\n{len(data)}\n".encode())
        digest.update(data)
    else:
        digest.update(f"{CONDA_LOCK_FILE}\n{len(data) - (match.end() - match.start())}\n".encode())
        view = memoryview(data)
        digest.update(view[:match.start()])
        digest.update(view[match.end():])
    end = data.find(_PACKAGE_SECTION_BYTES)
    head = data[:end if end >= 0 else len(data)].decode("ascii")
    return _conda_lock_header(path, head, match.group(1).decode() if match else None, digest.hexdigest())


def _conda_lock_header(path: Path, head: str, recorded: str | None, actual: str) -> LockHeader:
    """A conda-lock.yml's header from the text before its package list (both read paths end here)."""
    custom = _custom_values(head)
    return LockHeader((path,), custom.get("inputs-sha256"), recorded, actual, custom.get("image"),
                      sources_sha256=custom.get("sources-sha256"), render_sha256=custom.get("render-sha256"))


def _header_from_texts(files: list[Path], texts: list[str]) -> LockHeader:
    actual, recorded = lock_sha256([(path.name, text) for path, text in zip(files, texts, strict=True)])
    if files[0].name == CONDA_LOCK_FILE:
        # The hash covers every byte, so when it verifies these lines are exactly what envlock wrote:
        # reading two values by pattern is safe, and a fraction of the cost of parsing the header.
        return _conda_lock_header(files[0], texts[0].partition(PACKAGE_SECTION)[0], recorded, actual)
    metas = [_split_requirements(text)[0] for text in texts]
    first = metas[0]
    consistent = all(m.get("inputs-sha256") == first.get("inputs-sha256") for m in metas)
    return LockHeader(tuple(files), first.get("inputs-sha256") if consistent else None,
                      recorded, actual, first.get("image"), first.get("base-python"),
                      render_sha256=first.get("render-sha256"))


def package_counts(header: LockHeader) -> tuple[int, int]:
    """Conda and pip package entries of an untouched lock, without parsing it.

    A relock of fresh locks reports their counts; parsing a 92 KB conda-lock.yml to count would
    cost more than the rest of the relock. The writer puts each entry's manager on its own line,
    and an untouched lock (hash as recorded) is exactly what the writer wrote.
    """
    if header.files[0].name == CONDA_LOCK_FILE:
        data = header.files[0].read_bytes().replace(b"\r\n", b"\n")
        return data.count(b"\n  manager: conda\n"), data.count(b"\n  manager: pip\n")
    lock = _requirements_from_texts("", [read_text(path, MAX_LOCK_BYTES) for path in header.files])
    return 0, len(lock.packages)


def _hash_line(data: bytes) -> re.Match[bytes] | None:
    """_CONDA_HASH_LINE's first match, found by its literal text (a regex scan of 100 KB costs more)."""
    start = data.find(b"envlock.lock-sha256:")
    while start >= 0:
        match = _CONDA_HASH_LINE_BYTES.match(data, data.rfind(b"\n", 0, start) + 1)
        if match:
            return match
        start = data.find(b"envlock.lock-sha256:", start + 1)
    return None


def _custom_values(head: str) -> dict[str, str]:
    """The envlock.<key> values of a conda-lock header's custom_metadata (an indented `key: value`
    line each), each key found by its text: `check` reads one header per environment."""
    values = {}
    for key, marker in _CUSTOM_MARKERS:
        start = head.find(marker)
        if start < 0:
            continue
        indent = head[head.rfind("\n", 0, start) + 1:start]
        if len(indent) < 2 or indent.strip(" "):
            continue
        end = head.find("\n", start)
        values[key] = _yaml_scalar(head[start + len(marker):end if end >= 0 else len(head)].strip(" "))
    return values


_PACKAGE_SECTION_BYTES = PACKAGE_SECTION.encode()
_CUSTOM_KEYS = ("inputs-sha256", "image", "sources-sha256", "render-sha256")  # what a header reader needs
_CUSTOM_MARKERS = tuple((key, f"envlock.{key}:") for key in _CUSTOM_KEYS)


def _yaml_scalar(text: str) -> str:
    """A one-line scalar as PyYAML's dumper writes it: plain, 'single' or "double" quoted."""
    if len(text) >= 2 and text[0] == text[-1] == "'":
        return text[1:-1].replace("''", "'")
    if len(text) >= 2 and text[0] == text[-1] == '"':
        import json

        try:
            return str(json.loads(text))
        except ValueError:
            return text[1:-1]
    return text


def _split_requirements(text: str) -> tuple[dict[str, str], str]:
    meta: dict[str, str] = {}
    lines = text.splitlines(keepends=True)
    index = 0
    while index < len(lines) and (lines[index].startswith("#") or not lines[index].strip()):
        match = _REQ_META.match(lines[index].rstrip("\n"))
        if match:
            meta[match.group(1)] = match.group(2)
        index += 1
    return meta, "".join(lines[index:])


def read_lock(name: str, folder: Path, *, validate: bool = False) -> Lock | None:
    """The whole lock of an environment folder, or None when there is none.

    With `validate` (diff, verify, lock --update) a conda-lock.yml is also read through conda-lock's
    own models, as it was written; every read checks the format version and the fields envlock uses,
    which keeps conda-lock's import (seconds) off the other paths (they check the lock hash too).
    """
    checked = read_checked_lock(name, folder, validate=validate)
    return checked[1] if checked else None


def read_checked_lock(name: str, folder: Path, *, validate: bool = False) -> tuple[LockHeader, Lock] | None:
    """The lock and its header from one read of its files (what is verified is what is used)."""
    files = lock_files(folder)
    if not files:
        return None
    if files[0].name == CONTEXT_LOCK_FILE:
        from envlock.context_lock import read_context_header, read_context_lock

        return read_context_header(folder), read_context_lock(name, folder)
    if files[0].name == IMAGE_LOCK_FILE:
        from envlock.image_lockfile import image_lock_header

        text = read_text(files[0], MAX_LOCK_BYTES)
        return image_lock_header(files[0]), parse_lock_text(name, IMAGE_LOCK_FILE, text)
    texts = [read_text(path, MAX_LOCK_BYTES) for path in files]
    header = _header_from_texts(files, texts)
    if files[0].name == CONDA_LOCK_FILE:
        return header, _parsed(files[0], lambda: _conda_lock_from_text(name, texts[0], files[0], validate), name)
    return header, _parsed(files[0], lambda: _requirements_from_texts(name, texts), name)


def parse_lock_text(name: str, file_name: str, text: str, source: str | None = None) -> Lock:
    """A lock from the text of one lock file (for example one read from another git revision)."""
    if file_name == IMAGE_LOCK_FILE:
        from envlock.image_lockfile import image_lock_from_text

        return image_lock_from_text(name, text)
    label = source or file_name
    # any YAML file is conda-lock's format (a copy such as train-head.yml); the rest is requirements text
    # the kind from the content, not the name: a copy called training-old.yml is still conda-lock's format
    if file_name == CONDA_LOCK_FILE or is_conda_lock_text(text):
        return _parsed(label, lambda: _conda_lock_from_text(name, text, label, validate=True), name)
    return _parsed(label, lambda: _requirements_from_texts(name, [text]), name)


def _validated(data: dict[str, Any], source: Path | str, fix: str) -> dict[str, Any]:
    """`data` checked by conda-lock's own v1 models, the way conda-lock's parse_conda_lock_file reads it."""
    try:
        import pydantic
        from conda_lock.lockfile.v1.models import Lockfile as LockfileV1
    except ImportError:  # the core install (verify inside a job) has no conda-lock: the checks above stand
        return data
    try:
        model = LockfileV1.model_validate({k: v for k, v in data.items() if k != "version"})
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"])
        raise DeclarationError(source, f"not valid for conda-lock: {first['msg']}", field=field, fix=fix) from None
    except (KeyError, TypeError, ValueError) as exc:  # conda-lock's own validators may fail this way
        raise DeclarationError(source, f"not valid for conda-lock ({exc!r})", fix=fix) from None
    return {"version": 1, **model.model_dump(mode="json")}


def _parsed(source: Path | str, parse: Callable[[], Lock], name: str) -> Lock:
    """Malformed lock content becomes one DeclarationError naming the file, never a traceback."""
    try:
        return parse()
    except (KeyError, TypeError, AttributeError, ValueError, IndexError) as exc:
        raise DeclarationError(source, f"is not a lock envlock can read ({type(exc).__name__}: {exc})",
                               fix=f"regenerate it with envlock lock {name} (locks are written, not edited)"
                               ) from None


def is_conda_lock_text(text: str) -> bool:
    return bool(re.search(r"^(?:package|metadata):", text, re.MULTILINE)) and \
        bool(re.search(r"^version:", text, re.MULTILINE))


def _conda_lock_from_text(name: str, text: str, source: Path | str = CONDA_LOCK_FILE,
                          validate: bool = False) -> Lock:
    data = parse_yaml(text, source)
    fix = f"regenerate it with envlock lock {name}"
    if not isinstance(data, dict) or not isinstance(data.get("metadata"), dict):
        raise DeclarationError(source, "is not a conda-lock file: no metadata: mapping at the top level", fix=fix)
    if data.get("version") != 1:  # conda-lock's v1 layout, which envlock writes
        raise DeclarationError(source, f"conda-lock format version {data.get('version')!r}; envlock reads "
                               "version 1", field="version", fix=fix)
    if validate:
        data = _validated(data, source, fix)
    meta = data["metadata"]
    custom = meta.get("custom_metadata") or {}
    packages = tuple(
        LockedPackage(
            manager=p["manager"], name=p["name"], version=str(p["version"]), platform=p["platform"],
            url=p["url"], sha256=(p.get("hash") or {}).get("sha256"), md5=(p.get("hash") or {}).get("md5"),
            build=p.get("build"), dependencies=tuple(sorted((p.get("dependencies") or {}).items())),
        )
        for p in data.get("package") or []
    )
    resolvers = tuple(
        tuple(item.strip().rsplit(" ", 1)) for item in str(custom.get("envlock.resolvers", "")).split(",")
        if item.strip()
    )
    return Lock(
        name=name, kind=Kind.IMAGE_CONDA, image=str(custom.get("envlock.image", "")),
        platforms=tuple(meta["platforms"]),
        channels=tuple(c["url"] for c in meta["channels"]), packages=packages,
        inputs_sha256=str(custom.get("envlock.inputs-sha256", "")),
        resolvers=resolvers,  # type: ignore[arg-type]
        sources=tuple(meta.get("sources") or ()), lock_sha256=str(custom.get("envlock.lock-sha256", "")),
        image_digest=custom.get("envlock.image-digest"), sources_sha256=custom.get("envlock.sources-sha256"),
        render_sha256=custom.get("envlock.render-sha256"),
    )


_REQ_LINE = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)")
_REQ_URL_LINE = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*) @ (\S+)")  # what pip_requirement_lines writes for git


def _requirements_from_texts(name: str, texts: list[str]) -> Lock:
    packages = []
    platforms = []
    meta: dict[str, str] = {}
    python_part = ""
    for text in texts:
        meta, body = _split_requirements(text)
        target = meta.get("target", "")
        python_part, _, platform = target.partition(" on ")
        platforms.append(platform)
        for entry in body.replace("\\\n", " ").splitlines():
            match = _REQ_LINE.match(entry.strip())
            if not match:
                if url_match := _REQ_URL_LINE.match(entry.strip()):
                    # The version is not in the line; the URL (with its commit) is the pin.
                    packages.append(LockedPackage("pip", url_match.group(1), "", platform, url_match.group(2), None))
                continue
            hashes = tuple(re.findall(r"--hash=sha256:([0-9a-f]{64})", entry))
            packages.append(LockedPackage("pip", match.group(1), match.group(2), platform, "",
                                          hashes[0] if hashes else None, hashes=hashes))
    # Locks written before the kind was recorded: an image-only lock says so in its target.
    kind = Kind(meta["kind"]) if "kind" in meta else Kind.IMAGE if python_part == IMAGE_ONLY else Kind.BUILD_CONTEXT
    return Lock(name=name, kind=kind, image=meta.get("image", ""), platforms=tuple(platforms), channels=(),
                packages=tuple(packages), inputs_sha256=meta.get("inputs-sha256", ""),
                resolvers=(), python=None if python_part == IMAGE_ONLY else python_part.removeprefix("python "),
                lock_sha256=meta.get("lock-sha256", ""), base_python=meta.get("base-python"),
                image_digest=meta.get("image-digest"), render_sha256=meta.get("render-sha256"))
