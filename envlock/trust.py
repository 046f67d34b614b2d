"""Trust content, not tags: does a registered version hold what the current lock renders to?

A version carrying envlock's lock-hash tag may still have been edited (created by hand from an
edited file with the tag copied); register, pin and preflight compare the content itself.
"""

from __future__ import annotations

from envlock.kinds import BuildContext
from envlock.registries import EnvironmentVersion
from envlock.render import RenderedEnvironment


def rendered_content(rendered: RenderedEnvironment) -> EnvironmentVersion:
    """What a registry holds for this render: its content (image, conda file or build context), description, tags."""
    return EnvironmentVersion(name=rendered.name, version="", content=rendered.content,
                              description=rendered.description, tags=dict(rendered.tags))


def content_readable(stored: EnvironmentVersion) -> bool:
    """False for a build context a workspace keeps only as an uploaded blob: its tag is all there is to go by."""
    return not (isinstance(stored.content, BuildContext) and not stored.content.files)


def matches(stored: EnvironmentVersion, draft: EnvironmentVersion) -> bool:
    """Same lock hash, and the same content wherever the content can be read."""
    return stored.lock_sha256 == draft.lock_sha256 and (not content_readable(stored) or stored.same_content(draft))


def holds(stored: EnvironmentVersion, rendered: RenderedEnvironment) -> bool:
    """The stored version carries this render's lock hash and its content is the render's."""
    return matches(stored, rendered_content(rendered))


def tampered(stored: EnvironmentVersion, rendered: RenderedEnvironment) -> bool:
    """Tagged with this render's lock hash, yet holding other content (edited by hand)."""
    return stored.lock_sha256 == rendered.lock_sha256 and not holds(stored, rendered)
