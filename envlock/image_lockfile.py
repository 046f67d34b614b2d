"""image-lock.yml: the lock of an image-only environment: the digest the image reference named
at lock time and the image's inventory (conda packages and Python distributions per prefix).

The packages of the environment a job runs in become the lock's packages, so diff, verify and
outdated compare an image like any other lock. Nothing here talks to the network.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from envlock import __version__
from envlock.blockyaml import dump
from envlock.hashing import sha256_json
from envlock.image_inventory import ImageInventory, ImagePackage
from envlock.kinds import Kind
from envlock.lockfile import (
    IMAGE_LOCK_FILE,
    META_PREFIX,
    PACKAGE_SECTION,
    Lock,
    LockedPackage,
    LockHeader,
)

IMAGE_PLATFORM = "linux-64"  # AML runs images on linux/amd64; that manifest is the one read
PACKAGE_FIELDS = ("manager", "name", "version", "build", "prefix", "channel", "url", "sha256", "md5", "installer")

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def image_lock_sha256(metadata: dict[str, str], body: str) -> str:
    """The hash of the whole lock: every metadata field (the image and its digests, the prefix jobs run
    in, the inputs hash that decides freshness) and every package; only the hash itself is left out."""
    fields = {key: value for key, value in sorted(metadata.items()) if key != "lock-sha256"}
    return sha256_json({"metadata": fields, "packages": body})


def render_image_lock(lock: Lock, inventory: ImageInventory, header: list[str],
                      folder: Path) -> tuple[Lock, dict[Path, str]]:
    from dataclasses import replace

    body = dump([{key: value for key in PACKAGE_FIELDS if (value := getattr(package, key)) is not None}
                  for package in inventory.packages]) if inventory.packages else ""
    fields = {
        "version": __version__,
        "inputs-sha256": lock.inputs_sha256,
        "image": lock.image,
        "image-digest": inventory.image_digest,
        "manifest-digest": inventory.manifest_digest,
        "environment-prefix": inventory.environment_prefix or "",
        **({"render-sha256": lock.render_sha256} if lock.render_sha256 else {}),
    }
    digest = image_lock_sha256(fields, body)
    metadata = {f"{META_PREFIX}{key}": value for key, value in {**fields, "lock-sha256": digest}.items()}
    text = "\n".join(header) + "\n" + dump({"metadata": metadata}) + PACKAGE_SECTION.lstrip("\n") + body
    return replace(lock, lock_sha256=digest), {folder / IMAGE_LOCK_FILE: text}


def image_lock_header(path: Path) -> LockHeader:
    metadata, body = _split(path.read_text(encoding="utf-8"))
    actual = image_lock_sha256(metadata, body)
    return LockHeader((path,), metadata.get("inputs-sha256"), metadata.get("lock-sha256"), actual,
                      metadata.get("image"), render_sha256=metadata.get("render-sha256"))


def image_lock_from_text(name: str, text: str) -> Lock:
    metadata, body = _split(text)
    inventory = ImageInventory(
        image_digest=metadata.get("image-digest", ""), manifest_digest=metadata.get("manifest-digest", ""),
        environment_prefix=metadata.get("environment-prefix") or None,
        packages=tuple(_package(entry) for entry in yaml.load(body, Loader=_Loader) or []),
    )
    return Lock(name=name, kind=Kind.IMAGE, image=metadata.get("image", ""), platforms=(IMAGE_PLATFORM,), channels=(),
                packages=locked_packages(inventory), inputs_sha256=metadata.get("inputs-sha256", ""),
                resolvers=(), lock_sha256=metadata.get("lock-sha256", ""), image_digest=inventory.image_digest,
                inventory=inventory, render_sha256=metadata.get("render-sha256"))


def locked_packages(inventory: ImageInventory) -> tuple[LockedPackage, ...]:
    """The environment's packages as lock entries; a conda package's own dist-info is not a pip package
    (as `envlock verify` sees an installed environment)."""
    return tuple(
        LockedPackage(p.manager, p.name, p.version, IMAGE_PLATFORM, p.url or "", p.sha256, p.md5, p.build)
        for p in inventory.in_environment() if not (p.manager == "pip" and p.installer == "conda")
    )


def _package(entry: dict[str, Any]) -> ImagePackage:
    fields: dict[str, Any] = {k: str(v) for k, v in entry.items() if k in PACKAGE_FIELDS and v is not None}
    return ImagePackage(**fields)


def _split(text: str) -> tuple[dict[str, str], str]:
    head, _, body = text.partition(PACKAGE_SECTION)
    data = yaml.load(head, Loader=_Loader) or {}
    metadata = data.get("metadata") if isinstance(data, dict) else None
    return ({k[len(META_PREFIX):]: str(v) for k, v in (metadata or {}).items() if str(k).startswith(META_PREFIX)},
            body)

