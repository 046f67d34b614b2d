"""`envlock outdated`: has a cloned curated environment moved on, or a tag moved under us?"""

from __future__ import annotations

from dataclasses import dataclass

from envlock.buildcontext import ContextDeclaration
from envlock.dockerfile import is_templated
from envlock.lockfile import Lock, read_lock
from envlock.oci import parse_image, resolve_digest
from envlock.repo import Repo
from envlock.settings import load_settings
from envlock.spec import load_environment


@dataclass(frozen=True)
class OutdatedEntry:
    """One environment's base: what it is pinned to and what upstream offers now."""

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
        if spec.context is not None:
            entries += _context_entries(name, spec.context, read_lock(name, spec.folder), mirrors)
            continue
        image = parse_image(spec.image)
        if image.is_pinned:
            continue
        lock = read_lock(name, spec.folder)
        entries.append(_tag_entry(name, spec.image, lock.image_digest if lock is not None else None, mirrors,
                                  pin="image: {}"))
    return entries


def _context_entries(name: str, context: ContextDeclaration, lock: Lock | None,
                     mirrors: dict[str, str]) -> list[OutdatedEntry]:
    """Each FROM image given by tag: the digest it names now against the one the context lock recorded."""
    recorded_images = lock.context.images if lock is not None and lock.context is not None else ()
    pinned = {(i.line, i.image): i.pinned for i in recorded_images}
    # A Dockerfile edited since the lock may have moved the line: fall back to the image as written.
    pinned_by_image = {i.image: i.pinned for i in recorded_images}
    entries = []
    for line in context.dockerfile.images:
        if is_templated(line.image):
            continue  # check reports it; no registry can resolve it
        if parse_image(line.image).is_pinned:
            continue
        recorded = pinned.get((line.line, line.image)) or pinned_by_image.get(line.image)
        where = f"{context.dockerfile_path}:{line.line}"
        entries.append(_tag_entry(name, line.image, recorded.partition("@")[2] if recorded else None, mirrors,
                                  pin=f"FROM {{}} on {where}", where=where))
    return entries


def _tag_entry(name: str, tag: str, recorded: str | None, mirrors: dict[str, str], *,
               pin: str, where: str = "") -> OutdatedEntry:
    """An image given by tag: its digest now against the one its lock recorded (None: not recorded).

    `pin` says where to write the image by digest, `{}` standing for it; `where` is the Dockerfile line.
    """
    image = parse_image(tag)
    digest = resolve_digest(image, mirrors)
    if recorded is None:
        return OutdatedEntry(name, "image-by-tag", tag, digest, False, f"pin it: {pin.format(image.pinned(digest))}")
    if recorded != digest:
        on = f" on {where}" if where else ""
        return OutdatedEntry(name, "tag-moved", recorded, digest, True,
                             f"the tag {tag}{on} moved since the lock: envlock lock {name} --upgrade, "
                             f"or pin it: {pin.format(image.pinned(recorded))}")
    return OutdatedEntry(name, "current", recorded, digest, False, "")
