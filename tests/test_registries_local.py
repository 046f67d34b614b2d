"""The SQLite registry when another process holds it: a bounded wait, then envlock's own message (exit 4)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from envlock.errors import EXIT_UNREACHABLE
from envlock.kinds import ImageOnly
from envlock.registries import EnvironmentVersion, RegistryUnreachable
from envlock.registries.local import SqliteRegistry


def test_a_database_locked_by_another_process_is_waited_for_then_named(tmp_path: Path) -> None:
    path = tmp_path / "registry.db"
    registry = SqliteRegistry(path, busy_seconds=0.2)
    holder = sqlite3.connect(path, isolation_level=None)  # another process's open write transaction
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(RegistryUnreachable) as caught:
            registry.create_version(EnvironmentVersion("train", "1", ImageOnly("python:3.12")))
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert caught.value.exit_code == EXIT_UNREACHABLE
    assert str(path) in caught.value.message and "locked by another process" in caught.value.message
    assert "fix:" in caught.value.message
    # once the other transaction ends, the same registry works
    assert registry.create_version(EnvironmentVersion("train", "1", ImageOnly("python:3.12"))).version == "1"


def test_a_database_held_in_exclusive_locking_mode_cannot_even_be_opened(tmp_path: Path) -> None:
    path = tmp_path / "registry.db"
    SqliteRegistry(path)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("PRAGMA locking_mode=EXCLUSIVE")
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(RegistryUnreachable) as caught:
            SqliteRegistry(path, busy_seconds=0.2)
    finally:
        holder.close()
    assert "locked by another process" in caught.value.message
