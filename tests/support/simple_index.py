"""A PEP 503/691 simple index on 127.0.0.1 (HTTPS) that marks files yanked (PEP 592), for audit tests.

Projects are answered as PEP 691 JSON when the client accepts it, or as the HTML page with
`data-yanked` when `html_only` is set (an index that predates PEP 691).
"""

from __future__ import annotations

import html
import json
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.support.tls import make_certificates

JSON_TYPE = "application/vnd.pypi.simple.v1+json"


@dataclass
class IndexFile:
    filename: str
    sha256: str
    yanked: bool | str = False


class SimpleIndex:
    def __init__(self, folder: Path) -> None:
        self.ca, cert, key = make_certificates(folder / "tls")
        self.projects: dict[str, list[IndexFile]] = {}
        self.html_only = False
        self.requests: list[str] = []
        handler = type("Handler", (_Handler,), {"index": self})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.url = f"https://127.0.0.1:{self.server.server_address[1]}/simple"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def page(self, name: str, accept: str) -> tuple[str, bytes] | None:
        files = self.projects.get(name)
        if files is None:
            return None
        if JSON_TYPE in accept and not self.html_only:
            document = {"meta": {"api-version": "1.1"}, "name": name, "files": [
                {"filename": f.filename, "url": f"../../files/{f.filename}", "hashes": {"sha256": f.sha256},
                 "yanked": f.yanked} for f in files]}
            return JSON_TYPE, json.dumps(document).encode()
        anchors = []
        for f in files:
            yanked = "" if f.yanked is False else \
                " data-yanked" + ("" if f.yanked is True else f'="{html.escape(str(f.yanked))}"')
            anchors.append(f'<a href="../../files/{f.filename}#sha256={f.sha256}"{yanked}>{f.filename}</a><br/>')
        body = f"<!DOCTYPE html><html><body><h1>Links for {name}</h1>{''.join(anchors)}</body></html>"
        return "text/html", body.encode()


class _Handler(BaseHTTPRequestHandler):
    index: SimpleIndex

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self.index.requests.append(self.path)
        name = self.path.removeprefix("/simple/").strip("/")
        answer = self.index.page(name, self.headers.get("Accept") or "")
        status, content_type, body = (200, *answer) if answer else (404, "text/plain", b"not found")
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def simple_index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SimpleIndex]:
    index = SimpleIndex(tmp_path / "index")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(index.ca))
    yield index
    index.stop()
