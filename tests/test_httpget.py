"""httpget: a registry token never follows a redirect (ACR redirects blob reads to a storage host)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from envlock.httpget import http_get


@pytest.fixture
def redirecting() -> Iterator[tuple[str, list[dict[str, str]]]]:
    """A 'registry' that redirects to a 'storage host' which records the headers it receives."""
    seen: list[dict[str, str]] = []

    class Storage(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            seen.append(dict(self.headers))
            self.send_response(200)
            self.send_header("Content-Length", "4")
            self.end_headers()
            self.wfile.write(b"blob")

    storage = ThreadingHTTPServer(("127.0.0.1", 0), Storage)

    class Registry(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            self.send_response(307)
            self.send_header("Location", f"http://127.0.0.1:{storage.server_address[1]}/blob?sig=sas")
            self.send_header("Content-Length", "0")
            self.end_headers()

    registry = ThreadingHTTPServer(("127.0.0.1", 0), Registry)
    for server in (storage, registry):
        threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{registry.server_address[1]}/v2/x/blobs/sha256:0", seen
    for server in (storage, registry):
        server.shutdown()


def test_authorization_is_not_sent_to_the_redirect_target(redirecting: tuple[str, list[dict[str, str]]]) -> None:
    url, seen = redirecting
    status, _, body = http_get(url, {"Authorization": "Bearer registry-secret", "Accept": "*/*"})
    assert (status, body) == (200, b"blob")
    assert len(seen) == 1 and "Authorization" not in seen[0] and seen[0].get("Accept") == "*/*"
