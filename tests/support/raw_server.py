"""A TCP server on 127.0.0.1 that answers every request with the same raw bytes (for broken services).

Unlike http.server it can answer what no well-behaved server would: bytes that are not HTTP, a
body shorter than its Content-Length, an HTML login page where JSON is expected, or the same
over TLS with a certificate nobody trusts.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading


def http_answer(status: str, body: str | bytes, content_type: str = "application/json",
                length: int | None = None) -> bytes:
    data = body.encode() if isinstance(body, str) else body
    size = len(data) if length is None else length
    return (f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {size}\r\n"
            "Connection: close\r\n\r\n").encode() + data


class RawServer:
    def __init__(self, answer: bytes, tls: ssl.SSLContext | None = None) -> None:
        self.answer = answer
        self.tls = tls
        self.socket = socket.create_server(("127.0.0.1", 0))
        self.port = self.socket.getsockname()[1]
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        self.requests = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self.socket.accept()
            except OSError:  # closed
                return
            with contextlib.suppress(OSError), connection:
                self.requests += 1
                stream = self.tls.wrap_socket(connection, server_side=True) if self.tls else connection
                stream.settimeout(5)
                received = b""
                while b"\r\n\r\n" not in received:
                    chunk = stream.recv(65536)
                    if not chunk:
                        break
                    received += chunk
                stream.sendall(self.answer)

    def close(self) -> None:
        self.socket.close()


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (connection refused)."""
    with socket.create_server(("127.0.0.1", 0)) as probe:
        return int(probe.getsockname()[1])
