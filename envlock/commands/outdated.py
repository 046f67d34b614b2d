"""`envlock outdated`: has a cloned curated environment moved on, or a tag moved under us?"""

from __future__ import annotations

from dataclasses import dataclass

from envlock.lockfile import read_lock
from envlock.oci import parse_image, resolve_digest
from envlock.repo import Repo
from envlock.settings import load_settings
from envlock.spec import load_environment


@dataclass(frozen=True)
class OutdatedEntry:
    environment: str
    kind: str  # "newer-curated-version", "tag-moved", "image-by-tag", "current"
    # tag-moved: the tag names another digest than the one the lock (or the clone) recorded;
    # image-by-tag: a tag whose digest the lock did not record (locked without the registry)
    current: str
    latest: str
    outdated: bool
    fix: str



def run_outdated(repo: Repo, names: list[str]) -> list[OutdatedEntry]:
    from envlock.registries.azureml import AzureMLRegistry

    settings = load_settings(repo.root)
    mirrors = dict(settings.image_mirrors)
    registries: dict[str, AzureMLRegistry] = {}
    entries: list[OutdatedEntry] = []
    for name in names:
        spec = load_environment(repo, name, settings)
        provenance = dict(spec.settings.provenance)
        if "image_digest" in provenance and "source_name" in provenance:
            source = provenance.get("source_registry", "azureml")
            if source not in registries:
                registries[source] = AzureMLRegistry.from_url(f"azureml://registries/{source}", repo.root)
            latest = registries[source].get_definition(provenance["source_name"], label="latest")
            fix = f"envlock clone-curated {provenance['source_name']} --as {name}"
            found = False
            if latest is not None and latest.version != provenance.get("source_version"):
                entries.append(OutdatedEntry(name, "newer-curated-version", provenance.get("source_version", ""),
                                             latest.version, True, fix))
                found = True
            now = resolve_digest(parse_image(provenance["image_tag"]), mirrors)
            if now != provenance["image_digest"]:
                entries.append(OutdatedEntry(name, "tag-moved", provenance["image_digest"], now, True,
                                             f"{fix} (the tag {provenance['image_tag']} now names another image)"))
                found = True
            if not found:
                entries.append(OutdatedEntry(name, "current", provenance.get("source_version", ""),
                                             provenance.get("source_version", ""), False, ""))
            continue
        image = parse_image(spec.image)
        if image.is_pinned:
            continue
        digest = resolve_digest(image, mirrors)
        lock = read_lock(name, spec.folder)
        recorded = lock.image_digest if lock is not None else None
        if recorded is None:
            entries.append(OutdatedEntry(name, "image-by-tag", spec.image, digest, False,
                                         f"pin it: image: {image.pinned(digest)}"))
        elif recorded != digest:
            entries.append(OutdatedEntry(name, "tag-moved", recorded, digest, True,
                                         f"the tag {spec.image} moved since the lock: envlock lock {name} --upgrade, "
                                         f"or pin it: image: {image.pinned(recorded)}"))
        else:
            entries.append(OutdatedEntry(name, "current", recorded, digest, False, ""))
    return entries
