"""An OSV API emulator on 127.0.0.1 serving a folder of OSV records (JSON or YAML), for audit tests.

It answers the two calls a scanner makes (https://google.github.io/osv.dev/api/):
`POST /v1/querybatch` with ids and modified times only, paged per query through
`next_page_token` (a small page size forces paging), and `GET /v1/vulns/<id>` with the full
record. Faults (429 with Retry-After, 500) are injected for the next requests, and every request
is logged. Matching uses the OSV schema's range evaluation (envlock.osv.affects), which is what
the real service implements for the PyPI ecosystem.
"""

from __future__ import annotations

import base64
import datetime
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from envlock.osv import OfflineDatabase

FIXTURE_DB = Path(__file__).parent.parent / "fixtures" / "osv-pypa-2024-10"


class OsvEmulator:
    def __init__(self, folder: Path, page_size: int = 2) -> None:
        self.database = OfflineDatabase.load(folder)
        self.page_size = page_size
        self.requests: list[tuple[str, str, Any]] = []
        self.answered: list[tuple[str, str, Any]] = []  # the requests that were not given a fault
        self.faults: list[int] = []
        self.lock = threading.Lock()
        handler = type("Handler", (_Handler,), {"emulator": self})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def reset(self) -> None:
        with self.lock:
            self.requests.clear()
            self.answered.clear()
            self.faults.clear()

    def inject(self, *statuses: int) -> None:
        """The next requests answer these statuses, in order, before the service answers again."""
        with self.lock:
            self.faults.extend(statuses)

    def queried_packages(self) -> list[tuple[str, str]]:
        """(name, version) of every answered query sent without a page token."""
        return [(q["package"]["name"], q["version"]) for method, _, body in self.answered
                if method == "POST" and body for q in body["queries"] if "page_token" not in q]

    def querybatch(self, body: dict[str, Any]) -> dict[str, Any]:
        results = []
        for query in body.get("queries") or []:
            package = query.get("package") or {}
            if package.get("ecosystem") != "PyPI" or "version" not in query:
                results.append({})
                continue
            ids = self.database.matching(str(package["name"]), str(query["version"]))
            start = int(base64.b64decode(query["page_token"]).decode()) if query.get("page_token") else 0
            page = ids[start:start + self.page_size]
            result: dict[str, Any] = {}
            if page:
                result["vulns"] = [{"id": i, "modified": str(self.database.by_id[i].get("modified", ""))}
                                   for i in page]
            if start + self.page_size < len(ids):
                result["next_page_token"] = base64.b64encode(str(start + self.page_size).encode()).decode()
            results.append(result)
        return {"results": results}


class _Handler(BaseHTTPRequestHandler):
    emulator: OsvEmulator
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length)) if length else None
        emulator = self.emulator
        with emulator.lock:
            emulator.requests.append((method, self.path, body))
            fault = emulator.faults.pop(0) if emulator.faults else None
            if fault is None:
                emulator.answered.append((method, self.path, body))
        if fault is not None:
            self._reply(fault, {"code": fault, "message": "injected"}, {"Retry-After": "0"} if fault == 429 else {})
            return
        if method == "POST" and self.path == "/v1/querybatch":
            self._reply(200, emulator.querybatch(body or {}))
        elif method == "GET" and self.path.startswith("/v1/vulns/"):
            record = emulator.database.by_id.get(self.path.removeprefix("/v1/vulns/"))
            self._reply(200 if record else 404, record or {"code": 5, "message": "Bug not found."})
        else:
            self._reply(404, {"code": 5, "message": "not found"})

    def _reply(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload, default=_json_value).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)


def _json_value(value: Any) -> str:
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    raise TypeError(type(value).__name__)


@pytest.fixture(scope="session")
def osv_service() -> Iterator[OsvEmulator]:
    server = OsvEmulator(FIXTURE_DB)
    yield server
    server.stop()


@pytest.fixture
def osv(osv_service: OsvEmulator) -> Iterator[OsvEmulator]:
    osv_service.reset()
    yield osv_service
    osv_service.reset()
