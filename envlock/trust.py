"""Trust content, not tags: does a registered version hold what the current lock renders to?

A version carrying envlock's lock-hash tag may still have been edited (created by hand from an
edited file with the tag copied); register, pin and preflight compare the content itself.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from envlock.errors import EnvlockError
from envlock.hashing import canonical_json, sha256_text
from envlock.kinds import BuildContext, canonical_content
from envlock.lockfile import Lock, LockHeader
from envlock.render import RenderedEnvironment, render_environment
from envlock.runtime import Runtime
from envlock.spec import EnvironmentSpec

if TYPE_CHECKING:  # lock records a render digest without the registry module
    from envlock.registries import EnvironmentVersion

# What a render digest has in place of the lock hash: a lock records the digest of its own render,
# which names the lock hash (ENVLOCK_LOCK_SHA256), before that hash exists.
LOCK_HASH_STAND_IN = "envlock-lock-sha256-stand-in"


def rendered_content(rendered: RenderedEnvironment) -> EnvironmentVersion:
    """What a registry holds for this render: its content (image, conda file or build context), description, tags."""
    from envlock.registries import EnvironmentVersion

    return EnvironmentVersion(name=rendered.name, version="", content=rendered.content,
                              description=rendered.description, tags=dict(rendered.tags), runtime=rendered.runtime)


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


def holds_recorded_render(stored: EnvironmentVersion, header: LockHeader) -> bool:
    """`matches` decided from a lock's header alone: the stored version carries the lock's hash and
    its content digests to the render the lock recorded (or, unreadable, goes by its tag as in
    `matches`). False is no verdict: the caller renders the lock and compares with `matches`."""
    if stored.lock_sha256 != header.recorded_lock_sha256:
        return False
    if not content_readable(stored):
        return True
    return header.render_sha256 is not None and stored_render_sha256(stored) == header.render_sha256


def render_sha256(spec: EnvironmentSpec, lock: Lock) -> str | None:
    """The digest of what `lock` renders to, recorded in the lock (`render-sha256`) when it is written.

    register compares it with stored_render_sha256 of the newest registered version: equal, and
    the version holds this lock's content without the lock being parsed or rendered again.
    None where nothing can be rendered (no linux-64 part) or compared (see canonical_content).
    """
    try:
        rendered = render_environment(spec, replace(lock, lock_sha256=LOCK_HASH_STAND_IN))
    except EnvlockError:
        return None
    canonical = canonical_content(rendered.content)
    return sha256_text(_with_runtime(canonical, rendered.runtime)) if canonical is not None else None


def stored_render_sha256(stored: EnvironmentVersion) -> str | None:
    """render_sha256 of a stored version's content, its lock hash (from its tag) put back to the stand-in.

    None when its content cannot be read, or already holds the stand-in (it could pass for a render).
    """
    canonical = canonical_content(stored.content)
    if canonical is None or not stored.lock_sha256 or LOCK_HASH_STAND_IN in canonical:
        return None
    return sha256_text(_with_runtime(canonical.replace(stored.lock_sha256, LOCK_HASH_STAND_IN), stored.runtime))


def _with_runtime(canonical: str, runtime: Runtime) -> str:
    """os_type and inference routes are content too (same_content compares them); AML's defaults
    add nothing, so digests of versions without them are as before."""
    if runtime.same_as(Runtime()):
        return canonical
    described = {"os_type": runtime.effective_os_type, "inference_config":
                 runtime.inference_config.as_dict() if runtime.inference_config is not None else None}
    return canonical + "\n" + canonical_json(described)
