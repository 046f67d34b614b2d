"""The embedded registry: a SQLite file where version content is immutable at the database level.

UNIQUE(name, version) stops a second create; triggers refuse any change to a version's content
and any delete, so even a hand-written UPDATE cannot overwrite a registered environment.
WAL mode and a busy timeout let several processes register at once.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

from envlock.errors import EXIT_BAD_INPUT, UsageError
from envlock.hashing import canonical_json
from envlock.kinds import DOCKERFILE, BuildContext, EnvironmentContent, ImageOnly, ImageWithConda, Kind
from envlock.registries import EnvironmentVersion, RegistryError, RegistryUnreachable, VersionExists
from envlock.runtime import InferenceConfig, Runtime

SCHEMA = """
CREATE TABLE IF NOT EXISTS environment_versions (
    name        TEXT NOT NULL,
    version     TEXT NOT NULL,
    image       TEXT,
    conda_file  TEXT,
    build_files TEXT NOT NULL DEFAULT '{}',
    description TEXT,
    tags        TEXT NOT NULL DEFAULT '{}',
    created_at  TEXT NOT NULL,
    archived    INTEGER NOT NULL DEFAULT 0 CHECK (archived IN (0, 1)),
    kind        TEXT,
    dockerfile_path TEXT,
    os_type     TEXT,
    inference_config TEXT,
    UNIQUE (name, version)
);
CREATE TRIGGER IF NOT EXISTS environment_content_is_immutable
BEFORE UPDATE OF name, version, image, conda_file, build_files, created_at, kind, dockerfile_path
ON environment_versions
BEGIN
    SELECT RAISE(ABORT, 'environment version content is immutable');
END;
CREATE TRIGGER IF NOT EXISTS environment_versions_are_never_deleted
BEFORE DELETE ON environment_versions
BEGIN
    SELECT RAISE(ABORT, 'environment versions are archived, never deleted');
END;
"""

COLUMNS = ("name, version, image, conda_file, build_files, description, tags, created_at, archived, kind, "
           "dockerfile_path, os_type, inference_config")
# Columns added after 0.1: a database made before gains them when it is opened (NULL in old rows:
# no os_type is AML's default, Linux; no inference_config is none).
ADDED_COLUMNS = ("kind", "dockerfile_path", "os_type", "inference_config")
# Created once the columns exist, so a database made before them is guarded the same way.
RUNTIME_TRIGGER = """
CREATE TRIGGER IF NOT EXISTS environment_runtime_is_immutable
BEFORE UPDATE OF os_type, inference_config ON environment_versions
BEGIN
    SELECT RAISE(ABORT, 'environment version content is immutable');
END;
"""
# How long a write waits for another process's transaction before giving up.
BUSY_SECONDS = 30.0


class RegistryUnusable(RegistryError):
    """The database file cannot serve as a registry (not SQLite, damaged, another schema, unwritable): exit 2."""

    exit_code = EXIT_BAD_INPUT


class SqliteRegistry:
    def __init__(self, path: Path, url: str | None = None, busy_seconds: float = BUSY_SECONDS) -> None:
        self.path = path
        self.url = url or f"sqlite://{path}"
        self.busy_seconds = busy_seconds
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UsageError(f"registry {self.url}: cannot create the folder {path.parent}: "
                             f"{exc.strerror or exc}") from None
        if path.is_dir():
            raise UsageError(f"registry {self.url}: {path} is a folder; name a database file")
        self._create_schema()

    def _create_schema(self) -> None:
        # Switching to WAL (persistent in the file) ignores the busy timeout, so a process that
        # opens the database while another sets it up waits and tries again.
        deadline = time.monotonic() + self.busy_seconds
        while True:
            try:
                with self._connect() as connection:
                    connection.execute("PRAGMA journal_mode=WAL")
                    self._refuse_foreign_table(connection)
                    connection.executescript(SCHEMA)
                    _add_columns(connection)
                return
            except sqlite3.OperationalError as exc:
                if not _is_busy(exc) or time.monotonic() > deadline:
                    raise self._translate(exc) from None
                time.sleep(0.05)
            except sqlite3.Error as exc:
                raise self._translate(exc) from None

    def _refuse_foreign_table(self, connection: sqlite3.Connection) -> None:
        """A table of the same name made by something else is never altered, only reported."""
        present = {row[1] for row in connection.execute("PRAGMA table_info(environment_versions)")}
        needed = [c.strip() for c in COLUMNS.split(",") if c.strip() not in ADDED_COLUMNS]
        missing = [column for column in needed if column not in present]
        if present and missing:
            raise RegistryUnusable(
                f"registry {self.url}: {self.path} has a table environment_versions without the columns "
                f"{', '.join(missing)}: it is not an envlock registry\n"
                "  fix: point --registry (or registry: in envlock.yaml) at an envlock registry or a new file")

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        connection = sqlite3.connect(self.path, timeout=self.busy_seconds, isolation_level=None)
        try:
            connection.execute(f"PRAGMA busy_timeout={int(self.busy_seconds * 1000)}")
            yield connection
        finally:
            connection.close()

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        """A connection whose SQLite errors leave as envlock's (a unique-key clash stays for create_version)."""
        try:
            with self._connect() as connection:
                yield connection
        except sqlite3.IntegrityError:
            raise
        except sqlite3.Error as exc:
            raise self._translate(exc) from None

    def _translate(self, error: sqlite3.Error) -> RegistryError:
        """SQLite's reason, as a message that says which file and what to do."""
        reason = str(error)
        where = f"registry {self.url}: {self.path}"
        if _is_busy(error):
            return RegistryUnreachable(
                f"{where} is locked by another process (waited {self.busy_seconds:g} s): {reason}\n"
                "  fix: let the other envlock (or sqlite3 session) finish, then run this again")
        if "not a database" in reason or "malformed" in reason or type(error) is sqlite3.DatabaseError:
            fix = ("it is not an envlock registry, or it is damaged: restore it from a backup, or point --registry "
                   "at another file")
        elif "readonly" in reason or "unable to open" in reason:
            fix = "check that the file and its folder exist and can be written, or point --registry elsewhere"
        elif "disk" in reason and "full" in reason:
            fix = "free disk space, then run this again"
        else:
            fix = "check the file, or point --registry at another one"
        return RegistryUnusable(f"{where}: {reason}\n  fix: {fix}")

    def list_versions(self, name: str, archived_flag: bool = True) -> list[EnvironmentVersion]:
        with self._connection() as connection:
            rows = connection.execute(
                f"SELECT {COLUMNS} FROM environment_versions WHERE name = ?", (name,)
            ).fetchall()
        return [self._version(row) for row in rows]

    def get_version(self, name: str, version: str) -> EnvironmentVersion | None:
        with self._connection() as connection:
            row = connection.execute(
                f"SELECT {COLUMNS} FROM environment_versions WHERE name = ? AND version = ?", (name, version)
            ).fetchone()
        return self._version(row) if row else None

    def latest_version(self, name: str) -> EnvironmentVersion | None:
        with self._connection() as connection:
            row = connection.execute(
                f"SELECT {COLUMNS} FROM environment_versions WHERE name = ? ORDER BY created_at DESC, "
                "CAST(version AS INTEGER) DESC LIMIT 1", (name,)
            ).fetchone()
        return self._version(row) if row else None

    def create_version(self, draft: EnvironmentVersion) -> EnvironmentVersion:
        created_at = datetime.now(timezone.utc).isoformat(timespec="microseconds")
        image, conda_file, build_files, dockerfile_path = _content_columns(draft.content)
        try:
            with self._connection() as connection:
                connection.execute(
                    f"INSERT INTO environment_versions ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?)",
                    (draft.name, draft.version, image, conda_file, json.dumps(build_files, sort_keys=True),
                     draft.description, json.dumps(draft.tags, sort_keys=True), created_at,
                     draft.content.kind.value, dockerfile_path, *_runtime_columns(draft.runtime)),
                )
        except sqlite3.IntegrityError:
            raise VersionExists(f"{draft.name}:{draft.version} already exists") from None
        created = self.get_version(draft.name, draft.version)
        assert created is not None
        return created

    def set_archived(self, name: str, version: str, archived: bool) -> None:
        with self._connection() as connection:
            cursor = connection.execute(
                "UPDATE environment_versions SET archived = ? WHERE name = ? AND version = ?",
                (int(archived), name, version),
            )
        if cursor.rowcount == 0:
            raise RegistryError(f"no environment version {name}:{version} in {self.url}")


    def _version(self, row: tuple[object, ...]) -> EnvironmentVersion:
        try:
            return _from_row(row)
        except (ValueError, TypeError, AttributeError) as exc:  # json, Kind(...) and a hand-edited row
            raise RegistryUnusable(
                f"registry {self.url}: {self.path}: the row {row[0]}:{row[1]} is damaged ({exc})\n"
                "  fix: restore the database from a backup; envlock never writes such a row") from None


def _is_busy(error: sqlite3.Error) -> bool:
    return isinstance(error, sqlite3.OperationalError) and ("locked" in str(error) or "busy" in str(error))


def _add_columns(connection: sqlite3.Connection) -> None:
    present = {row[1] for row in connection.execute("PRAGMA table_info(environment_versions)")}
    for column in ADDED_COLUMNS:
        if column not in present:
            try:
                connection.execute(f"ALTER TABLE environment_versions ADD COLUMN {column} TEXT")
            except sqlite3.OperationalError as exc:
                if "duplicate column" not in str(exc):  # another process added it first
                    raise
    connection.executescript(RUNTIME_TRIGGER)


def _runtime_columns(runtime: Runtime) -> tuple[str | None, str | None]:
    inference = runtime.inference_config
    return runtime.os_type, canonical_json(inference.as_dict()) if inference is not None else None


def _content_columns(content: EnvironmentContent) -> tuple[str | None, str | None, dict[str, str], str | None]:
    match content:
        case ImageOnly(image=image):
            return image, None, {}, None
        case ImageWithConda(image=image, conda_file=conda_file):
            return image, conda_file, {}, None
        case BuildContext(files=files, dockerfile_path=dockerfile_path):
            return None, None, dict(files), dockerfile_path


def _content(kind: object, image: object, conda_file: object, build_files: object,
             dockerfile_path: object) -> EnvironmentContent:
    files = tuple(sorted(json.loads(str(build_files)).items()))
    if kind is None:  # a row written before the kind column: its columns tell what it is
        kind = Kind.BUILD_CONTEXT.value if files else Kind.IMAGE_CONDA.value if conda_file else Kind.IMAGE.value
    match Kind(kind):
        case Kind.IMAGE:
            return ImageOnly(str(image))
        case Kind.IMAGE_CONDA:
            return ImageWithConda(str(image), str(conda_file))
        case Kind.BUILD_CONTEXT:
            return BuildContext(files, str(dockerfile_path or DOCKERFILE))


def _from_row(row: tuple[object, ...]) -> EnvironmentVersion:
    (name, version, image, conda_file, build_files, description, tags, created_at, archived, kind,
     dockerfile_path, os_type, inference_config) = row
    tags = json.loads(str(tags))
    if not isinstance(tags, dict):
        raise ValueError("its tags are not a JSON object")
    return EnvironmentVersion(
        name=str(name), version=str(version),
        content=_content(kind, image, conda_file, build_files, dockerfile_path),
        description=description,  # type: ignore[arg-type]
        tags=tags, created_at=str(created_at), archived=bool(archived),
        runtime=Runtime(None if os_type is None else str(os_type),
                        InferenceConfig.from_stored(json.loads(str(inference_config)) if inference_config else None)),
    )
