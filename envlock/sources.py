"""A fingerprint of the files an environment is declared in, recorded in its lock.

`check` runs on every commit: when a lock records the fingerprint of the declaration's files
and they still hash to it, the declaration is byte for byte what was locked, and `lock` refused
it unless it was valid and free of policy problems, so `check` trusts the lock without parsing
YAML. Anything else (a changed byte, a symlink, a file beside the folder) takes the full path,
which decides freshness from the parsed inputs as before; a mismatch never makes a finding.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import asdict
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from envlock.fileread import read_regular
from envlock.fsutil import folder_entries
from envlock.hashing import canonical_json
from envlock.lockfile import LockHeader, is_lock_file_name

if TYPE_CHECKING:
    from envlock.settings import EnvironmentSettings, Settings
    from envlock.spec import EnvironmentSpec

# Bump when the rules a declaration must pass change, so older fingerprints stop vouching for it.
SOURCES_FORMAT = "envlock-sources/1"
_MAX_SOURCE_BYTES = 2 * 1024 * 1024


def sources_sha256(folder: Path, settings: EnvironmentSettings,
                   entries: Mapping[str, os.DirEntry[str]] | None = None) -> str | None:
    """sha256 of the settings and every file directly in `folder` but its locks; None when a
    symlink or an unreadable or oversized file makes the folder unfit to vouch for itself.
    `entries`: the folder's listing, when the caller has read it already."""
    digest = hashlib.sha256(_settings_line(settings))
    try:
        if os.path.islink(folder):
            return None
        if entries is None:
            entries = folder_entries(folder)
            if entries is None:
                return None
        for name in sorted(entries):
            entry = entries[name]
            if entry.is_symlink():
                return None
            if not entry.is_file(follow_symlinks=False) or is_lock_file_name(name):
                continue
            # a file changing meanwhile only makes a fingerprint that does not match
            _, data = read_regular(entry.path, _MAX_SOURCE_BYTES + 1)
            if len(data) > _MAX_SOURCE_BYTES:
                return None
            digest.update(f"{name}\n{len(data)}\n".encode())
            digest.update(data)
    except OSError:
        return None
    return digest.hexdigest()


def declared_as_locked(header: LockHeader | None, settings: Settings, name: str, folder: Path,
                       entries: Mapping[str, os.DirEntry[str]] | None = None) -> bool:
    """The declaration's files are byte for byte what the (untouched) lock recorded: `lock` accepted
    them then, so they are valid and the lock is fresh without parsing them."""
    from envlock.errors import DeclarationError
    from envlock.settings import SETTINGS_FILE

    if header is None or header.sources_sha256 is None or not header.is_untouched:
        return False
    try:
        local = entries.get(SETTINGS_FILE) if entries is not None else None
        environment_settings = settings.for_environment(
            name, folder, has_local_file=None if entries is None else local is not None and local.is_file())
    except DeclarationError:
        return False  # the full path reports it
    return sources_sha256(folder, environment_settings, entries) == header.sources_sha256


def recordable_sources_sha256(spec: EnvironmentSpec) -> str | None:
    """The fingerprint a new lock of `spec` records: only for an image + conda file declaration
    whose files all lie directly in its folder (a file elsewhere could change unseen)."""
    from envlock.kinds import Kind

    if spec.kind is not Kind.IMAGE_CONDA or spec.context is not None or spec.conda_file is None:
        return None
    if spec.env_file.parent != spec.folder or spec.conda_file.parent != spec.folder.resolve():
        return None
    return sources_sha256(spec.folder, spec.settings)


@lru_cache(maxsize=64)
def _settings_line(settings: EnvironmentSettings) -> bytes:
    """Most environments share their settings: serialised once per process, not once per environment."""
    return f"{SOURCES_FORMAT}\n{canonical_json(asdict(settings))}\n".encode()
