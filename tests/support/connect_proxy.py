"""An HTTPS CONNECT proxy on 127.0.0.1 that tunnels storage hosts to the AML emulator.

azure-ai-ml uploads a build context to https://<account>.blob.<storage suffix>/...; with
HTTPS_PROXY pointing here (and NO_PROXY for 127.0.0.1) those connections reach the emulator,
whose certificate (from the test CA) covers *.blob.<storage suffix>. Other hosts are refused,
so nothing leaves the machine.
"""

from __future__ import annotations

import contextlib
import select
import socket
import socketserver
import threading


class ConnectProxy:
    def __init__(self, target_port: int, allowed_suffix: str) -> None:
        self.target_port = target_port
        self.allowed_suffix = allowed_suffix
        self.tunnels: list[str] = []  # host:port of every CONNECT, allowed or not
        handler = type("Handler", (_Tunnel,), {"proxy": self})
        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class _Tunnel(socketserver.StreamRequestHandler):
    proxy: ConnectProxy

    def handle(self) -> None:
        request = self.rfile.readline().decode("latin-1").split()
        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
            pass  # headers
        if len(request) < 2 or request[0] != "CONNECT":
            self.wfile.write(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
            return
        target = request[1]
        self.proxy.tunnels.append(target)
        host = target.rsplit(":", 1)[0]
        if not host.endswith(self.proxy.allowed_suffix):
            self.wfile.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
            return
        upstream = socket.create_connection(("127.0.0.1", self.proxy.target_port))
        self.wfile.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        self.wfile.flush()
        client = self.connection
        with contextlib.closing(upstream):
            while True:
                readable, _, _ = select.select([client, upstream], [], [], 30)
                if not readable:
                    return
                for source in readable:
                    data = source.recv(65536)
                    if not data:
                        return
                    (upstream if source is client else client).sendall(data)
