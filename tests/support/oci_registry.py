"""A real OCI registry on 127.0.0.1: Debian's docker-registry (distribution 2.8), optionally behind
token auth with a token service whose JWTs the registry verifies against our test CA.

Images are pushed through the registry's HTTP API (blob upload, then manifest PUT).
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from tests.support.image_layers import Layer
from tests.support.tls import make_certificates

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
SERVICE = "envlock-test-registry"
ISSUER = "envlock-test-issuer"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class OciRegistry:
    def __init__(self, folder: Path, token_realm: str | None = None, ca: Path | None = None) -> None:
        binary = shutil.which("docker-registry")
        if binary is None:
            raise RuntimeError("docker-registry is not installed: apt-get install docker-registry "
                               "(.ci/run and make test-deps do this)")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.host = f"127.0.0.1:{self.port}"
        config = {
            "version": 0.1,
            "log": {"level": "error"},
            "storage": {"filesystem": {"rootdirectory": str(folder / "data")}, "delete": {"enabled": True}},
            "http": {"addr": f"127.0.0.1:{self.port}", "secret": "envlock-tests"},
        }
        if token_realm:
            config["auth"] = {"token": {"realm": token_realm, "service": SERVICE, "issuer": ISSUER,
                                        "rootcertbundle": str(ca)}}
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "config.yml").write_text(json.dumps(config))  # JSON is YAML
        self.log = (folder / "registry.log").open("w")
        self.process = subprocess.Popen([binary, "serve", str(folder / "config.yml")], stdout=self.log,
                                        stderr=subprocess.STDOUT)
        self.tokens: TokenService | None = None
        self._repository = ""
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"{self.url}/v2/", timeout=1)
                return
            except urllib.error.HTTPError:
                return  # 401 behind token auth: it is up
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"docker-registry did not start on {self.url}")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)
        self.log.close()

    def _request(self, method: str, url: str, data: bytes | None = None,
                 headers: dict[str, str] | None = None) -> Any:
        all_headers = dict(headers or {})
        if self.tokens:
            token = self.tokens.issue(f"repository:{self._repository}:push,pull")
            all_headers["Authorization"] = f"Bearer {token}"
        request = urllib.request.Request(url, data=data, method=method, headers=all_headers)
        return urllib.request.urlopen(request, timeout=10)

    def push(self, repository: str, tag: str, label: str) -> str:
        """Push a small image (one config blob) under repository:tag; returns the manifest digest."""
        return self.push_image(repository, tag, [], labels={"v": label})

    def push_image(self, repository: str, tag: str, layers: list[Layer], *, env: list[str] | None = None,
                   labels: dict[str, str] | None = None, index: bool = False) -> str:
        """Push an image with real layer blobs; with index=True behind an OCI index that also lists an
        arm64 manifest (as multi-platform images do). Returns the digest the tag names."""
        self._repository = repository
        manifest = self._push_manifest_blobs(repository, layers, env or [], labels or {}, "amd64")
        if not index:
            return self._put_manifest(repository, tag, manifest, OCI_MANIFEST)
        amd64 = self._put_manifest(repository, f"{tag}-amd64", manifest, OCI_MANIFEST)
        arm64_manifest = self._push_manifest_blobs(repository, [], [], {"arch": "arm64"}, "arm64")
        arm64 = self._put_manifest(repository, f"{tag}-arm64", arm64_manifest, OCI_MANIFEST)
        entries = [
            {"mediaType": OCI_MANIFEST, "digest": arm64, "size": len(arm64_manifest),
             "platform": {"os": "linux", "architecture": "arm64"}},
            {"mediaType": OCI_MANIFEST, "digest": amd64, "size": len(manifest),
             "platform": {"os": "linux", "architecture": "amd64"}},
        ]
        document = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}).encode()
        return self._put_manifest(repository, tag, document, OCI_INDEX)

    def _push_manifest_blobs(self, repository: str, layers: list[Layer], env: list[str], labels: dict[str, str],
                             architecture: str) -> bytes:
        config = json.dumps({"architecture": architecture, "os": "linux",
                             "config": {"Labels": labels, "Env": env},
                             "rootfs": {"type": "layers", "diff_ids": [layer.diff_id for layer in layers]}}).encode()
        config_digest = self._upload_blob(repository, config)
        return json.dumps({
            "schemaVersion": 2, "mediaType": OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest,
                       "size": len(config)},
            "layers": [{"mediaType": layer.media_type, "digest": self._upload_blob(repository, layer.blob),
                        "size": len(layer.blob)} for layer in layers],
        }).encode()

    def _put_manifest(self, repository: str, reference: str, body: bytes, media_type: str) -> str:
        response = self._request("PUT", f"{self.url}/v2/{repository}/manifests/{reference}", body,
                                 {"Content-Type": media_type})
        return str(response.headers["Docker-Content-Digest"])

    def _upload_blob(self, repository: str, data: bytes) -> str:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        start = self._request("POST", f"{self.url}/v2/{repository}/blobs/uploads/")
        location = urllib.parse.urljoin(self.url, start.headers["Location"])
        separator = "&" if "?" in location else "?"
        self._request("PUT", f"{location}{separator}digest={digest}", data,
                      {"Content-Type": "application/octet-stream"})
        return digest


class TokenService:
    """An ACR-shaped token service whose ES256 JWTs (with an x5c chain) docker-registry trusts.

    GET /oauth2/token issues anonymous pull tokens, except for private repositories (401, as ACR
    answers without credentials). POST /oauth2/exchange trades an Azure AD access token for a
    refresh token; POST /oauth2/token trades a refresh token for an access token (ACR's flows).
    """

    def __init__(self, folder: Path) -> None:
        self.ca, self.cert, key = make_certificates(folder)
        self.key = serialization.load_pem_private_key(key.read_bytes(), password=None)
        certificate = x509.load_pem_x509_certificate(self.cert.read_bytes())
        self.chain = [base64.b64encode(certificate.public_bytes(serialization.Encoding.DER)).decode()]
        self.requests: list[str] = []  # the scope of every token issued
        self.calls: list[tuple[str, str, dict[str, str]]] = []  # method, path, form fields
        self.private: set[str] = set()  # repositories that need credentials
        self.aad_tokens: set[str] = set()  # Azure AD tokens the exchange accepts
        self.refresh_tokens: set[str] = set()  # refresh tokens the token endpoint accepts
        service = self
        handler = type("TokenHandler", (_TokenHandler,), {"service": service})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.realm = f"http://127.0.0.1:{self.server.server_address[1]}/oauth2/token"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def issue(self, scope: str) -> str:
        now = int(time.time())
        access = []
        if scope.startswith("repository:"):
            _, name, actions = scope.split(":", 2)
            access.append({"type": "repository", "name": name, "actions": actions.split(",")})
        header = {"typ": "JWT", "alg": "ES256", "x5c": self.chain}
        claims = {"iss": ISSUER, "sub": "anonymous", "aud": SERVICE, "exp": now + 300, "nbf": now - 10,
                  "iat": now, "jti": f"{now}-{len(self.requests)}", "access": access}
        signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
        der = self.key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256()))  # type: ignore[union-attr,call-arg]
        r, s = decode_dss_signature(der)
        signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
        return f"{signing_input}.{_b64(signature)}"

    def answer(self, method: str, path: str, fields: dict[str, str]) -> tuple[int, dict[str, Any]]:
        self.calls.append((method, path, fields))
        scope = fields.get("scope", "")
        repository = scope.split(":")[1] if scope.count(":") >= 2 else ""
        if path == "/oauth2/exchange" and method == "POST":
            if fields.get("grant_type") != "access_token" or fields.get("access_token") not in self.aad_tokens:
                return 401, {"errors": [{"code": "UNAUTHORIZED"}]}
            refresh = f"refresh-{len(self.refresh_tokens)}-{fields['access_token']}"
            self.refresh_tokens.add(refresh)
            return 200, {"refresh_token": refresh}
        if path != "/oauth2/token":
            return 404, {}
        if method == "POST":
            if fields.get("grant_type") != "refresh_token" or fields.get("refresh_token") not in self.refresh_tokens:
                return 401, {"errors": [{"code": "UNAUTHORIZED"}]}
        elif repository in self.private:
            return 401, {"errors": [{"code": "UNAUTHORIZED", "message": "authentication required"}]}
        self.requests.append(scope)
        token = self.issue(scope)
        return 200, {"token": token, "access_token": token, "expires_in": 300}

    def stop(self) -> None:
        self.server.shutdown()


class _TokenHandler(BaseHTTPRequestHandler):
    service: TokenService

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        parts = urllib.parse.urlsplit(self.path)
        self._reply(*self.service.answer("GET", parts.path, _fields(parts.query)))

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        form = self.rfile.read(length).decode()
        self._reply(*self.service.answer("POST", urllib.parse.urlsplit(self.path).path, _fields(form)))

    def _reply(self, status: int, payload: dict[str, Any]) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def _fields(query: str) -> dict[str, str]:
    return {k: v[0] for k, v in urllib.parse.parse_qs(query).items()}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@pytest.fixture(scope="session")
def oci_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OciRegistry]:
    registry = OciRegistry(tmp_path_factory.mktemp("oci"))
    yield registry
    registry.stop()


@pytest.fixture(scope="session")
def token_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[OciRegistry, TokenService]]:
    tokens = TokenService(tmp_path_factory.mktemp("tokens"))
    registry = OciRegistry(tmp_path_factory.mktemp("oci-token"), token_realm=tokens.realm, ca=tokens.ca)
    registry.tokens = tokens
    yield registry, tokens
    registry.stop()
    tokens.stop()
