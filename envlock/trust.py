"""Trust content, not tags: does a registered version hold what the current lock renders to?

A version carrying envlock's lock-hash tag may still have been edited (created by hand from an
edited file with the tag copied); register, pin and preflight compare the content itself.
"""

from __future__ import annotations

from envlock.registries import EnvironmentVersion
from envlock.render import RenderedEnvironment


def rendered_content(rendered: RenderedEnvironment) -> EnvironmentVersion:
    """What a registry holds for this render: its content (image, conda file or build context), description, tags."""
    return EnvironmentVersion(name=rendered.name, version="", content=rendered.content,
                              description=rendered.description, tags=dict(rendered.tags))


def holds(stored: EnvironmentVersion, rendered: RenderedEnvironment) -> bool:
    """The stored version carries this render's lock hash and its content is the render's."""
    return stored.lock_sha256 == rendered.lock_sha256 and stored.same_content(rendered_content(rendered))


def tampered(stored: EnvironmentVersion, rendered: RenderedEnvironment) -> bool:
    """Tagged with this render's lock hash, yet holding other content (edited by hand)."""
    return stored.lock_sha256 == rendered.lock_sha256 and not stored.same_content(rendered_content(rendered))
