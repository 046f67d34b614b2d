"""What an environment's current lock renders to, for the steps after locking (build, register,
pin, preflight): a missing, hand-edited or stale lock is refused, never rendered."""

from __future__ import annotations

from envlock.errors import DeclarationError, EnvlockError
from envlock.fsutil import safe_path
from envlock.lockfile import Lock, LockHeader, read_checked_lock, read_header
from envlock.render import RenderedEnvironment, render_environment
from envlock.repo import Repo
from envlock.settings import Settings, load_settings
from envlock.sources import declared_as_locked
from envlock.spec import load_environment


def edited_lock_error(repo: Repo, name: str, header: LockHeader) -> DeclarationError:
    return DeclarationError(
        repo.relative(header.files[0]), "the lock no longer matches the lock-sha256 it records: it was edited "
        "by hand (its header or packages) or a write was interrupted", field="lock-sha256",
        fix=f"run envlock lock {name} to regenerate it from the declaration",
    )


def rendered_for(repo: Repo, names: list[str]) -> list[RenderedEnvironment]:
    """Render environments from their current, fresh locks (no solving)."""
    return [rendered for rendered, _ in rendered_with_locks(repo, names)]


def rendered_with_locks(repo: Repo, names: list[str]) -> list[tuple[RenderedEnvironment, Lock]]:
    """rendered_for, each with the lock it was rendered from (parsed once, for whoever needs it next)."""
    settings = load_settings(repo.root)
    result = []
    for name in names:
        spec = load_environment(repo, name, settings)
        checked = read_checked_lock(name, spec.folder)
        _refuse_unusable(repo, name, checked[0] if checked else None, spec.inputs_sha256())
        assert checked is not None
        result.append((render_environment(spec, checked[1]), checked[1]))
    return result


def fresh_header(repo: Repo, name: str, settings: Settings) -> LockHeader:
    """The header of an environment's current lock, refused as rendered_for refuses it (missing,
    edited, stale) without parsing the lock; the declaration is parsed only when its files are not
    byte for byte what the lock recorded (envlock.sources)."""
    folder = repo.environments_dir / name
    safe_path(repo.root, folder)  # a declaration linked in from outside is refused, not followed
    header = read_header(folder)
    if declared_as_locked(header, settings, name, folder):
        assert header is not None
        return header
    spec = load_environment(repo, name, settings)  # an invalid declaration says so first
    _refuse_unusable(repo, name, header, spec.inputs_sha256())
    assert header is not None
    return header


def _refuse_unusable(repo: Repo, name: str, header: LockHeader | None, inputs_sha256: str) -> None:
    """A missing, hand-edited or stale lock is never rendered or registered."""
    if header is None:
        raise EnvlockError(f"{name}: the lock is missing; run envlock lock {name}")
    if not header.is_untouched:
        raise edited_lock_error(repo, name, header)
    if not header.is_fresh_for(inputs_sha256):
        raise EnvlockError(f"{name}: the lock is stale; run envlock lock {name}")
