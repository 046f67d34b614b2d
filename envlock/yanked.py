"""Yanked releases (PEP 592) read from the simple API: PEP 691 JSON, or the HTML page's data-yanked."""

from __future__ import annotations

import json
from collections.abc import Sequence
from html.parser import HTMLParser
from pathlib import Path

from envlock.advisories import CACHE_FILE, CACHE_SECONDS, AdvisoryError, AnswerCache
from envlock.httpget import FetchError, http_get

JSON_TYPE = "application/vnd.pypi.simple.v1+json"


class IndexFile:
    def __init__(self, filename: str, sha256: str | None, yanked: str | None) -> None:
        self.filename = filename
        self.sha256 = sha256
        self.yanked = yanked  # None, or the reason ("" when the index gives none)


class YankedIndex:
    """Asks the index once per project and caches the verdict per (project, version) for a day."""

    def __init__(self, index_url: str, cache_folder: Path | None, now: float) -> None:
        self.index_url = index_url.rstrip("/")
        self.requests = 0
        self.now = now
        self.cache = AnswerCache(cache_folder / CACHE_FILE) if cache_folder is not None else None
        self.service = f"yanked {self.index_url}"

    def yanked(self, name: str, version: str, hashes: Sequence[str]) -> str | None:
        """The yank reason of the locked file(s) of name==version, or None when not yanked."""
        key = (name, f"{version} {','.join(sorted(hashes))}")
        if self.cache is not None:
            cached = self.cache.queries(self.service, [key], self.now - CACHE_SECONDS)
            if key in cached:
                return cached[key][0] if cached[key] else None
        reason = _yank_reason(self._files(name), version, hashes)
        if self.cache is not None:
            self.cache.store_queries(self.service, {key: [] if reason is None else [reason]}, self.now)
        return reason

    def _files(self, name: str) -> list[IndexFile]:
        url = f"{self.index_url}/{name}/"
        self.requests += 1
        try:
            status, headers, body = http_get(url, {"Accept": f"{JSON_TYPE}, text/html;q=0.1"})
        except FetchError as exc:
            raise AdvisoryError(f"cannot read yanked releases: {exc.message}\n"
                                "  fix: check the network or pip_index_url in envlock.yaml") from None
        if status == 404:
            return []
        if status != 200:
            raise AdvisoryError(f"{url}: HTTP {status} while reading yanked releases")
        if JSON_TYPE in (headers.get("Content-Type") or ""):
            try:
                return [IndexFile(str(f["filename"]), (f.get("hashes") or {}).get("sha256"),
                                  _reason(f.get("yanked"))) for f in json.loads(body).get("files") or []]
            except (ValueError, AttributeError, TypeError, KeyError):  # not the JSON of PEP 691
                raise AdvisoryError(f"{url} answered {JSON_TYPE} that is not a project page (PEP 691)\n"
                                    "  fix: check pip_index_url in envlock.yaml, or pass --no-yanked") from None
        parser = _LinkParser()
        parser.feed(body.decode("utf-8", errors="replace"))
        return parser.files


def _reason(value: object) -> str | None:
    if value is True:
        return ""
    if isinstance(value, str):
        return value
    return None


def _yank_reason(files: list[IndexFile], version: str, hashes: Sequence[str]) -> str | None:
    """Locked files are matched by hash; a lock without hashes is matched by the version in file names."""
    if hashes:
        chosen = [f for f in files if f.sha256 in set(hashes)]
    else:
        chosen = [f for f in files if _file_version(f.filename) == version]
    reasons = [f.yanked for f in chosen if f.yanked is not None]
    return reasons[0] if reasons else None


def _file_version(filename: str) -> str | None:
    from packaging.utils import InvalidSdistFilename, InvalidWheelFilename, parse_sdist_filename, parse_wheel_filename

    try:
        if filename.endswith(".whl"):
            return str(parse_wheel_filename(filename)[1])
        return str(parse_sdist_filename(filename)[1])
    except (InvalidWheelFilename, InvalidSdistFilename):
        return None


class _LinkParser(HTMLParser):
    """PEP 503 anchors: the file name is the text, the hash in the URL fragment, PEP 592 data-yanked."""

    def __init__(self) -> None:
        super().__init__()
        self.files: list[IndexFile] = []
        self._current: dict[str, str | None] | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._current = dict(attrs)
            self._text = []

    def handle_data(self, data: str) -> None:
        if self._current is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag != "a" or self._current is None:
            return
        href = self._current.get("href") or ""
        fragment = href.partition("#")[2]
        sha256 = fragment.partition("=")[2] if fragment.startswith("sha256=") else None
        filename = "".join(self._text).strip() or href.partition("#")[0].rsplit("/", 1)[-1]
        yanked = (self._current.get("data-yanked") or "") if "data-yanked" in self._current else None
        self.files.append(IndexFile(filename, sha256, yanked))
        self._current = None
