"""Where advisories come from: the OSV API (or a mirror of it) with a one-day cache, or an export.

Both answer the same two questions, so `audit` cannot tell them apart: which advisory ids affect
each (package, version), and the full record of an id.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

from envlock.errors import ServiceUnreachable, UsageError
from envlock.httpget import FetchError, http_request
from envlock.osv import ECOSYSTEM, OfflineDatabase, Record, record_problem

DEFAULT_AUDIT_URL = "https://api.osv.dev"
CACHE_FILE = "audit-cache.sqlite"
CACHE_SECONDS = 24 * 3600
BATCH_SIZE = 1000  # the OSV API's limit per querybatch
RETRIES = 5

PackageVersion = tuple[str, str]
CACHE_TABLES = {"queries": ("service", "name", "version", "ids", "fetched"),
                "records": ("service", "id", "record", "fetched")}


class AdvisoryError(ServiceUnreachable):
    """The advisory service could not be read (unreachable, or failing after retries): exit 4."""


class AdvisorySource(Protocol):
    label: str
    requests: int  # HTTP requests sent so far (0 for an export)

    def affecting(self, packages: Sequence[PackageVersion]) -> dict[PackageVersion, list[str]]: ...

    def records(self, ids: Iterable[str]) -> dict[str, Record]: ...


class OfflineSource:
    """An OSV export on disk (`--offline-db DIR`): matched here with the same rules as the service."""

    def __init__(self, folder: Path) -> None:
        if not folder.is_dir():
            raise UsageError(f"--offline-db {folder}: no such folder; give the folder of an OSV export "
                             "(one JSON or YAML record per advisory)")
        self.database = OfflineDatabase.load(folder)
        self.label = f"offline export {folder}"
        self.requests = 0

    def affecting(self, packages: Sequence[PackageVersion]) -> dict[PackageVersion, list[str]]:
        return {package: self.database.matching(*package) for package in packages}

    def records(self, ids: Iterable[str]) -> dict[str, Record]:
        return {record_id: self.database.by_id[record_id] for record_id in ids}


class OsvService:
    """The OSV API: POST /v1/querybatch (paged), GET /v1/vulns/<id>; answers cached for a day."""

    def __init__(self, url: str, cache_folder: Path | None, *, now: float | None = None,
                 retry_pause: float = 1.0) -> None:
        self.url = url.rstrip("/")
        self.label = self.url
        self.requests = 0
        self.now = time.time() if now is None else now
        self.retry_pause = retry_pause
        self.cache = AnswerCache(cache_folder / CACHE_FILE) if cache_folder is not None else None

    def affecting(self, packages: Sequence[PackageVersion]) -> dict[PackageVersion, list[str]]:
        wanted = list(dict.fromkeys(packages))
        found: dict[PackageVersion, list[str]] = {}
        if self.cache is not None:
            found.update(self.cache.queries(self.url, wanted, self.now - CACHE_SECONDS))
        missing = [package for package in wanted if package not in found]
        for start in range(0, len(missing), BATCH_SIZE):
            answered = self._query_batch(missing[start:start + BATCH_SIZE])
            if self.cache is not None:
                self.cache.store_queries(self.url, answered, self.now)
            found.update(answered)
        return {package: found[package] for package in wanted}

    def records(self, ids: Iterable[str]) -> dict[str, Record]:
        wanted = sorted(set(ids))
        found: dict[str, Record] = {}
        if self.cache is not None:
            found.update(self.cache.records(self.url, wanted, self.now - CACHE_SECONDS))
        for record_id in wanted:
            if record_id not in found:
                path = f"/v1/vulns/{record_id}"
                record = self._json(self._send("GET", path), path)
                problem = record_problem(record)
                if problem:
                    raise AdvisoryError(f"{self.url}{path} answered a record that is not OSV's: {problem}")
                found[record_id] = record
                if self.cache is not None:
                    self.cache.store_record(self.url, record_id, record, self.now)
        return found

    def _query_batch(self, packages: list[PackageVersion]) -> dict[PackageVersion, list[str]]:
        ids: dict[PackageVersion, set[str]] = {package: set() for package in packages}
        pending: list[tuple[PackageVersion, str | None]] = [(package, None) for package in packages]
        while pending:
            queries = []
            for (name, version), token in pending:
                query: dict[str, object] = {"package": {"name": name, "ecosystem": ECOSYSTEM}, "version": version}
                if token:
                    query["page_token"] = token
                queries.append(query)
            answer = self._json(self._send("POST", "/v1/querybatch", {"queries": queries}), "/v1/querybatch")
            results = _batch_results(answer)
            if results is None:
                raise AdvisoryError(f"{self.url}/v1/querybatch answered JSON that is not an OSV batch answer "
                                    '(want {"results": [{"vulns": [{"id": ...}]}]}); is audit_url an OSV API?')
            if len(results) != len(pending):
                raise AdvisoryError(f"{self.url}: querybatch answered {len(results)} results for "
                                    f"{len(pending)} queries")
            following: list[tuple[PackageVersion, str | None]] = []
            for (package, _), result in zip(pending, results, strict=True):
                ids[package].update(str(vuln["id"]) for vuln in result.get("vulns") or [])
                if result.get("next_page_token"):
                    following.append((package, str(result["next_page_token"])))
            pending = following
        return {package: sorted(found) for package, found in ids.items()}

    def _json(self, data: bytes, path: str) -> Any:
        try:
            return json.loads(data)
        except ValueError:  # a proxy's login page, a truncated answer, bytes that are not text
            start = data[:60].decode("utf-8", errors="replace").strip()
            raise AdvisoryError(f"{self.url}{path} answered something that is not JSON ({start!r}...)\n"
                                "  fix: check that audit_url in envlock.yaml is an OSV API (not a proxy's page), "
                                "or pass --offline-db DIR") from None

    def _send(self, method: str, path: str, payload: object | None = None) -> bytes:
        """One API call; 429 and 5xx are retried (after Retry-After when the server gives one)."""
        body = json.dumps(payload).encode() if payload is not None else None
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        for attempt in range(RETRIES):
            self.requests += 1
            try:
                status, reply_headers, data = http_request(method, self.url + path, headers, body)
            except FetchError as exc:
                raise AdvisoryError(f"cannot reach the advisory service: {exc.message}\n"
                                    "  fix: check the network, set audit_url in envlock.yaml to a mirror, "
                                    "or pass --offline-db DIR") from None
            if status == 200:
                return data
            if status == 429 or status >= 500:
                if attempt + 1 < RETRIES:
                    time.sleep(_pause(reply_headers.get("Retry-After"), self.retry_pause * 2 ** attempt))
                continue
            raise AdvisoryError(f"{self.url}{path}: HTTP {status}: {data[:200].decode(errors='replace')}")
        raise AdvisoryError(f"{self.url}{path}: still failing after {RETRIES} attempts (HTTP {status})")


def _batch_results(answer: object) -> list[dict[str, Any]] | None:
    """The `results` of a querybatch answer when every part has the schema's shape, else None."""
    results = answer.get("results") if isinstance(answer, dict) else None
    if not isinstance(results, list) or not all(isinstance(result, dict) for result in results):
        return None
    for result in results:
        vulns = result.get("vulns") or []
        if not isinstance(vulns, list) or not all(isinstance(v, dict) and "id" in v for v in vulns):
            return None
    return results


def _pause(retry_after: str | None, default: float) -> float:
    try:
        return min(float(retry_after), 60.0) if retry_after is not None else default
    except ValueError:
        return default


class AnswerCache:
    """Answers per (service, package, version) and records per (service, id), in SQLite."""

    def __init__(self, path: Path) -> None:
        self.path = path
        with self._guarded():
            path.parent.mkdir(parents=True, exist_ok=True)
            self.connection = sqlite3.connect(path, timeout=30)
            for table, columns in CACHE_TABLES.items():
                present = [row[1] for row in self.connection.execute(f"PRAGMA table_info({table})")]
                if present and present != list(columns):  # made by something else: never altered
                    raise ValueError(f"its table {table} has the columns {', '.join(present)}, not envlock's")
            with self.connection:
                self.connection.execute("CREATE TABLE IF NOT EXISTS queries (service TEXT, name TEXT, version TEXT, "
                                        "ids TEXT, fetched REAL, PRIMARY KEY (service, name, version))")
                self.connection.execute("CREATE TABLE IF NOT EXISTS records (service TEXT, id TEXT, record TEXT, "
                                        "fetched REAL, PRIMARY KEY (service, id))")

    @contextmanager
    def _guarded(self) -> Iterator[None]:
        """A damaged cache (not SQLite, another schema, bad JSON in a row, a folder in its place) is named."""
        try:
            yield
        except (sqlite3.Error, OSError, ValueError, TypeError) as exc:
            raise UsageError(f"{self.path}: the answer cache cannot be used ({exc})\n"
                             f"  fix: delete {self.path}; it is only a cache and is rebuilt on the next run") \
                from None

    def queries(self, service: str, packages: list[PackageVersion],
                newer_than: float) -> dict[PackageVersion, list[str]]:
        with self._guarded():
            rows = self.connection.execute("SELECT name, version, ids FROM queries WHERE service = ? AND fetched > ?",
                                           (service, newer_than)).fetchall()
            cached = {(name, version): list(json.loads(ids)) for name, version, ids in rows}
        return {package: cached[package] for package in packages if package in cached}

    def store_queries(self, service: str, answers: dict[PackageVersion, list[str]], now: float) -> None:
        with self._guarded(), self.connection:
            self.connection.executemany("INSERT OR REPLACE INTO queries VALUES (?, ?, ?, ?, ?)", [
                (service, name, version, json.dumps(ids), now) for (name, version), ids in answers.items()
            ])

    def records(self, service: str, ids: list[str], newer_than: float) -> dict[str, Record]:
        found = {}
        with self._guarded():
            for record_id in ids:
                row = self.connection.execute("SELECT record FROM records WHERE service = ? AND id = ? "
                                              "AND fetched > ?", (service, record_id, newer_than)).fetchone()
                if row:
                    record = json.loads(row[0])
                    if record_problem(record):
                        raise ValueError(f"the cached record {record_id} is not an OSV record")
                    found[record_id] = record
        return found

    def store_record(self, service: str, record_id: str, record: Record, now: float) -> None:
        with self._guarded(), self.connection:
            self.connection.execute("INSERT OR REPLACE INTO records VALUES (?, ?, ?, ?)",
                                    (service, record_id, json.dumps(record, sort_keys=True), now))

