"""`envlock inventory IMAGE`: the conda packages and Python distributions an image holds, read
from its layers through the OCI API (nothing is pulled to disk)."""

from __future__ import annotations

from pathlib import Path

from envlock.errors import UsageError
from envlock.image_inventory import ImageInventory, ReadStats, read_inventory
from envlock.image_ref import parse_image
from envlock.repo import find_repo
from envlock.settings import load_settings


def run_inventory(image_text: str, directory: Path | None) -> tuple[str, ImageInventory, ReadStats]:
    """(the image by digest, its inventory, what reading it cost); mirrors from the repository if any."""
    try:
        mirrors = dict(load_settings(find_repo(directory).root).image_mirrors)
    except UsageError:
        mirrors = {}  # outside a repository: the image's own registry
    image = parse_image(image_text)
    inventory, stats = read_inventory(image, mirrors)
    return image.pinned(inventory.image_digest), inventory, stats
