"""An Azure ML emulator on 127.0.0.1 (HTTPS) for the real azure-ai-ml client.

It speaks the REST shapes azure-ai-ml 1.x sends and reads (see ../shared/AML-WIRE.md) and
enforces the service's semantics: environment version content is immutable (409 on a changed
PUT), lists page through nextLink, archive/restore flip isArchived, archived versions are hidden
from ActiveOnly lists. Faults (429 with Retry-After, 500, dropped connections, slow answers) are
injected per request pattern, and every request is logged for counting.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import ssl
import stat
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from tests.support.connect_proxy import ConnectProxy
from tests.support.tls import make_certificates

SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
RESOURCE_GROUP = "rg-envlock"
WORKSPACE = "ws-envlock"
# A version's content: a PUT that changes any of these on an existing version is refused (409).
IMMUTABLE = ("image", "condaFile", "build", "osType", "inferenceConfig")
OS_TYPES = ("Linux", "Windows")  # the REST enum; the service reads it case-insensitively
ENVIRONMENTS_PATH = re.compile(
    r"^(?P<prefix>/mferp/managementfrontend)?/subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<rg>[^/]+)/providers/"
    r"Microsoft\.MachineLearningServices/(?P<kind>workspaces|registries)/(?P<scope>[^/]+)/environments"
    r"(?P<versions_part>(?:/(?P<name>[^/]+)(?:/versions(?:/(?P<version>[^/]+))?)?)?)$",
    re.IGNORECASE,
)
TEMPDATAREF_PATH = re.compile(
    r"/registries/(?P<registry>[^/]+)/tempdatarefs/(?P<name>[^/]+)/versions/(?P<version>[^/]+)$"
)
DISCOVERY_PATH = re.compile(r"^/registrymanagement/v1\.0/registries/(?P<registry>[^/]+)/discovery$")
REGISTRY_RESOURCE_GROUP = "rg-registry"
STORAGE_SUFFIX = "core.emulator.test"  # the custom cloud's storage endpoint suffix
STORAGE_ACCOUNT = "envlockstore"
BLOB_CONTAINER = "azureml-blobstore-envlock"
DATASTORE_PATH = re.compile(r"/workspaces/[^/]+/datastores(?:/(?P<name>[^/]+)(?P<secrets>/listSecrets)?)?$",
                            re.IGNORECASE)


@dataclass
class Fault:
    method: str
    path_pattern: str
    kind: str  # "429", "500", "drop", "drop-after", "slow"
    remaining: int = 1
    seconds: float = 1.0


@dataclass
class Version:
    scope: str  # "workspace" or "registry:<name>"
    name: str
    version: str
    properties: dict[str, Any]
    created_at: str


WORKSPACE_SCOPE = "workspace"


@dataclass
class EmulatorState:
    versions: dict[tuple[str, str, str], Version] = field(default_factory=dict)
    containers_archived: set[tuple[str, str]] = field(default_factory=set)
    blobs: dict[str, bytes] = field(default_factory=dict)
    blob_metadata: dict[str, dict[str, str]] = field(default_factory=dict)
    blocks: dict[str, dict[str, bytes]] = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)
    requests: list[tuple[str, str]] = field(default_factory=list)
    # (name, version, tags before, tags after) for every accepted PUT on an existing version
    updates: list[tuple[str, str, Any, Any]] = field(default_factory=list)
    page_size: int = 2
    in_flight: int = 0  # requests being answered now, and the most at once (proves concurrent clients)
    peak_in_flight: int = 0


class AmlEmulator:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.ca, cert, key = make_certificates(folder / "tls", (f"*.blob.{STORAGE_SUFFIX}",))
        self.state = EmulatorState()
        self.lock = threading.RLock()
        handler = type("Handler", (_Handler,), {"emulator": self})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.base_url = f"https://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.proxy: ConnectProxy | None = None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> AmlEmulator:
        self.thread.start()
        return self

    def stop(self) -> None:
        if self.proxy is not None:
            self.proxy.stop()
        self.server.shutdown()
        self.server.server_close()

    def reset(self) -> None:
        with self.lock:
            self.state = EmulatorState()

    @property
    def workspace_url(self) -> str:
        return f"azureml://subscriptions/{SUBSCRIPTION}/resourcegroups/{RESOURCE_GROUP}/workspaces/{WORKSPACE}"

    def client_environment(self) -> dict[str, str]:
        """Environment variables that point an unmodified envlock (and azure-ai-ml) here."""
        stub = self.folder / "bin"
        stub.mkdir(exist_ok=True)
        az = stub / "az"
        token = {
            "accessToken": "emulator-token", "expiresOn": "2099-01-01 00:00:00.000000",
            "expires_on": 4070908800, "subscription": SUBSCRIPTION, "tenant": "emulator-tenant",
            "tokenType": "Bearer",
        }
        az.write_text(f"#!/bin/sh\necho '{json.dumps(token)}'\n")
        az.chmod(az.stat().st_mode | stat.S_IEXEC)
        return {
            "ARM_CLOUD_METADATA_URL": f"{self.base_url}/metadata/endpoints?api-version=2019-05-01",
            "REQUESTS_CA_BUNDLE": str(self.ca),
            "AZURE_TOKEN_CREDENTIALS": "AzureCliCredential",
            # azure-ai-ml 1.35 reads the registry discovery endpoint of a custom cloud from here only
            "REGISTRY_DISCOVERY_ENDPOINT_URL": f"{self.base_url}/",
            "PATH": f"{stub}{os.pathsep}{os.environ.get('PATH', '')}",
            "ENVLOCK_REGISTRY": self.workspace_url,
        }

    def storage_environment(self) -> dict[str, str]:
        """Also route blob uploads (https://<account>.blob.<suffix>) through the CONNECT proxy to here.

        Kept apart from client_environment: with it, every other https host is refused (PyPI too)."""
        return {"HTTPS_PROXY": self.storage_proxy().url, "NO_PROXY": "127.0.0.1,localhost"}

    def storage_proxy(self) -> ConnectProxy:
        if self.proxy is None:
            self.proxy = ConnectProxy(self.port, f".blob.{STORAGE_SUFFIX}")
        return self.proxy

    def uploaded(self, prefix: str = "") -> dict[str, bytes]:
        """Blobs of the workspace's default datastore (container-relative path -> bytes)."""
        start = f"/{BLOB_CONTAINER}/"
        with self.lock:
            return {path[len(start):]: data for path, data in self.state.blobs.items()
                    if path.startswith(start + prefix)}

    # ------------------------------------------------------------------ test controls

    def inject(self, method: str, path_pattern: str, kind: str, times: int = 1, seconds: float = 1.0) -> None:
        with self.lock:
            self.state.faults.append(Fault(method, path_pattern, kind, times, seconds))

    def requests_matching(self, method: str | None = None, pattern: str = "") -> list[tuple[str, str]]:
        with self.lock:
            return [(m, p) for m, p in self.state.requests
                    if (method is None or m == method) and re.search(pattern, p)]

    def version_numbers(self, name: str, scope: str = WORKSPACE_SCOPE) -> list[str]:
        with self.lock:
            return sorted((v for s, n, v in self.state.versions if (s, n) == (scope, name)), key=_version_key)

    def workspace_version(self, name: str, version: str) -> Version:
        return self.state.versions[(WORKSPACE_SCOPE, name, version)]

    def add_curated(self, name: str, version: str, *, files: dict[str, str] | None = None,
                    image: str | None = None, conda_file: str | None = None, description: str = "",
                    tags: dict[str, str] | None = None, registry: str = "azureml",
                    inference_config: dict[str, Any] | None = None) -> None:
        """A curated environment as the azureml registry holds it: usually a build context.
        `inference_config` in the REST shape (livenessRoute: {port, path}, ...)."""
        properties: dict[str, Any] = {"description": description, "tags": tags or {}, "osType": "Linux",
                                      "isAnonymous": False, "isArchived": False, "properties": {}}
        if inference_config:
            properties["inferenceConfig"] = inference_config
        if files:
            context = f"blobs/{registry}/{name}/{version}/context"
            for file_name, text in files.items():
                self.state.blobs[f"/{context}/{file_name}"] = text.encode()
            properties["build"] = {"contextUri": f"{self.base_url}/{context}/", "dockerfilePath": "Dockerfile"}
        if image:
            properties["image"] = image
        if conda_file:
            properties["condaFile"] = conda_file
        with self.lock:
            scope = f"registry:{registry}"
            self.state.versions[(scope, name, version)] = Version(scope, name, version, properties, _now())

    def take_fault(self, method: str, path: str) -> Fault | None:
        with self.lock:
            for fault in self.state.faults:
                if fault.remaining > 0 and fault.method == method and re.search(fault.path_pattern, path):
                    fault.remaining -= 1
                    return fault
        return None

    # ------------------------------------------------------------------ resources

    def version_resource(self, entry: Version) -> dict[str, Any]:
        if entry.scope == WORKSPACE_SCOPE:
            resource_id = (f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{RESOURCE_GROUP}/providers/"
                           f"Microsoft.MachineLearningServices/workspaces/{WORKSPACE}/environments/"
                           f"{entry.name}/versions/{entry.version}")
        else:
            registry = entry.scope.split(":", 1)[1]
            resource_id = f"azureml://registries/{registry}/environments/{entry.name}/versions/{entry.version}"
        return {
            "id": resource_id,
            "name": entry.version,
            "type": "Microsoft.MachineLearningServices/workspaces/environments/versions",
            "properties": {**entry.properties, "environmentType": "UserCreated",
                           "provisioningState": "Succeeded"},
            "systemData": {"createdAt": entry.created_at, "createdBy": "envlock-tests",
                           "createdByType": "User", "lastModifiedAt": entry.created_at},
        }

    def container_resource(self, scope: str, name: str) -> dict[str, Any] | None:
        numbers = [v for s, n, v in self.state.versions if (s, n) == (scope, name)]
        if not numbers:
            return None
        integers = [int(v) for v in numbers if v.isdigit()]
        latest = max(numbers, key=lambda v: self.state.versions[(scope, name, v)].created_at)
        return {
            "id": (f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{RESOURCE_GROUP}/providers/"
                   f"Microsoft.MachineLearningServices/workspaces/{WORKSPACE}/environments/{name}"),
            "name": name,
            "type": "Microsoft.MachineLearningServices/workspaces/environments",
            "properties": {"latestVersion": latest, "nextVersion": str(max(integers, default=0) + 1),
                           "isArchived": (scope, name) in self.state.containers_archived, "tags": {},
                           "properties": {}},
            "systemData": {"createdAt": _now()},
        }


class _Handler(BaseHTTPRequestHandler):
    emulator: AmlEmulator
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_HEAD(self) -> None:
        self._dispatch("HEAD")

    def _dispatch(self, method: str) -> None:
        url = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        emulator = self.emulator
        host = (self.headers.get("Host") or "").split(":")[0]
        with emulator.lock:
            emulator.state.requests.append((method, f"//{host}{url.path}" if ".blob." in host else url.path))
        if host.endswith(f".blob.{STORAGE_SUFFIX}"):
            self._blob(method, url.path, query, raw)
            return
        with emulator.lock:
            emulator.state.in_flight += 1
            emulator.state.peak_in_flight = max(emulator.state.peak_in_flight, emulator.state.in_flight)
        try:
            self._answer(method, url.path, query, raw)
        finally:
            with emulator.lock:
                emulator.state.in_flight -= 1

    def _answer(self, method: str, path: str, query: dict[str, str], raw: bytes) -> None:
        emulator = self.emulator
        body = json.loads(raw or b"null") if raw else None
        fault = emulator.take_fault(method, path)
        if fault and fault.kind == "slow":
            time.sleep(fault.seconds)
        elif fault and fault.kind == "drop":
            self._drop()
            return
        elif fault and fault.kind in ("429", "500"):
            headers = {"Retry-After": str(int(fault.seconds))} if fault.kind == "429" else {}
            self._reply(int(fault.kind), {"error": {"code": "Injected", "message": f"injected {fault.kind}"}},
                        headers)
            return
        status, payload = self._handle(method, path, query, body)
        if fault and fault.kind == "drop-after":
            self._drop()
            return
        self._reply(status, payload)

    def _drop(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(2)

    def _reply(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        raw = isinstance(payload, bytes)
        data = payload if raw else (json.dumps(payload).encode() if payload is not None else b"")
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream" if raw else "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-ms-request-id", f"req-{time.monotonic_ns()}")
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    # ------------------------------------------------------------------ blob storage (block blobs)

    def _blob(self, method: str, path: str, query: dict[str, str], raw: bytes) -> None:
        state = self.emulator.state
        path = unquote(path)
        metadata = {k[len("x-ms-meta-"):]: v for k, v in self.headers.items() if k.lower().startswith("x-ms-meta-")}
        with self.emulator.lock:
            if method == "PUT" and query.get("comp") == "block":
                state.blocks.setdefault(path, {})[query["blockid"]] = raw
                self._blob_reply(201)
            elif method == "PUT" and query.get("comp") == "blocklist":
                ids = re.findall(r"<(?:Latest|Uncommitted|Committed)>([^<]+)</", raw.decode())
                staged = state.blocks.pop(path, {})
                state.blobs[path] = b"".join(staged[i] for i in ids)
                state.blob_metadata[path] = metadata
                self._blob_reply(201)
            elif method == "PUT" and query.get("comp") == "metadata":
                if path not in state.blobs:
                    self._blob_reply(404, error="BlobNotFound")
                else:
                    state.blob_metadata[path] = metadata
                    self._blob_reply(200)
            elif method == "PUT":
                state.blobs[path] = raw
                state.blob_metadata[path] = metadata
                self._blob_reply(201)
            elif method in ("HEAD", "GET"):
                if path not in state.blobs:
                    self._blob_reply(404, error="BlobNotFound", body=method == "GET")
                else:
                    headers = {f"x-ms-meta-{k}": v for k, v in state.blob_metadata.get(path, {}).items()}
                    self._blob_reply(200, headers, state.blobs[path], length=len(state.blobs[path]),
                                     body=method == "GET")
            else:
                self._blob_reply(405, error="UnsupportedHttpVerb")

    def _blob_reply(self, status: int, headers: dict[str, str] | None = None, data: bytes = b"", *,
                    error: str | None = None, length: int | None = None, body: bool = True) -> None:
        if error:
            data = f"<?xml version=\"1.0\"?><Error><Code>{error}</Code><Message>{error}</Message></Error>".encode()
        self.send_response(status)
        self.send_header("Content-Length", str(length if length is not None else len(data) if body else 0))
        self.send_header("Content-Type", "application/xml" if error else "application/octet-stream")
        self.send_header("ETag", f'"0x{time.monotonic_ns():X}"')
        self.send_header("Last-Modified", datetime.now(timezone.utc).strftime("%a, %d %b %Y %H:%M:%S GMT"))
        self.send_header("x-ms-request-id", f"req-{time.monotonic_ns()}")
        self.send_header("x-ms-version", "2021-08-06")
        self.send_header("x-ms-blob-type", "BlockBlob")
        self.send_header("x-ms-request-server-encrypted", "true")
        if error:
            self.send_header("x-ms-error-code", error)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if body:
            self.wfile.write(data)

    # ------------------------------------------------------------------ routes

    def _handle(self, method: str, path: str, query: dict[str, str], body: Any) -> tuple[int, Any]:
        emulator = self.emulator
        if path == "/metadata/endpoints":
            return 200, [_cloud(emulator.base_url)]
        if path.startswith("/blobs/"):
            blob = emulator.state.blobs.get(path)
            return (200, blob) if blob is not None else (404, _error("BlobNotFound", path))
        discovery = DISCOVERY_PATH.match(path)
        if discovery:
            return 200, {"registryName": discovery["registry"], "subscriptionId": SUBSCRIPTION,
                         "resourceGroup": REGISTRY_RESOURCE_GROUP, "primaryRegion": "emulator",
                         "primaryRegionResourceProviderUri": f"{emulator.base_url}/"}
        if method == "PUT" and (tempdataref := TEMPDATAREF_PATH.search(path)):
            # Where a registry asset's files would be uploaded; an inline conda file needs none.
            blob = f"{emulator.base_url}/blobs/{tempdataref['registry']}/{tempdataref['name']}/{tempdataref['version']}"
            return 200, {"blobReferenceForConsumption": {"blobUri": blob, "credential": {
                "credentialType": "SAS", "sasUri": f"{blob}?sig=emulator"}}}
        datastore = DATASTORE_PATH.search(path)
        if datastore:
            return self._datastore(method, datastore["name"], bool(datastore["secrets"]))
        match = ENVIRONMENTS_PATH.match(path)
        if not match:
            return 404, _error("NotFound", f"no route for {method} {path}")
        scope = WORKSPACE_SCOPE if match["kind"].lower() == "workspaces" else f"registry:{match['scope']}"
        name, version = match["name"], match["version"]
        with emulator.lock:
            if name is None:
                return self._list_containers(scope)
            if match["versions_part"].endswith("/versions"):
                return self._list_versions(scope, name, query, path)
            if version is None:
                return self._container(method, scope, name, body)
            return self._version(method, scope, name, version, body)

    def _datastore(self, method: str, name: str | None, secrets: bool) -> tuple[int, Any]:
        """The workspace's default blob datastore, with a SAS token from listSecrets."""
        if secrets and method == "POST":
            return 200, {"secretsType": "Sas", "sasToken": "sv=2021-08-06&sr=c&sp=racwl&sig=emulator"}
        resource = {
            "id": (f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{RESOURCE_GROUP}/providers/"
                   f"Microsoft.MachineLearningServices/workspaces/{WORKSPACE}/datastores/workspaceblobstore"),
            "name": "workspaceblobstore", "type": "Microsoft.MachineLearningServices/workspaces/datastores",
            "properties": {"datastoreType": "AzureBlob", "accountName": STORAGE_ACCOUNT,
                           "containerName": BLOB_CONTAINER, "endpoint": STORAGE_SUFFIX, "protocol": "https",
                           "credentials": {"credentialsType": "Sas"}, "isDefault": True,
                           "serviceDataAccessAuthIdentity": "None", "tags": {}, "properties": {}},
            "systemData": {"createdAt": _now()},
        }
        if name is None:
            return 200, {"value": [resource], "nextLink": None}
        if name != "workspaceblobstore":
            return 404, _error("UserError", f"datastore {name} not found")
        return 200, resource

    def _list_containers(self, scope: str) -> tuple[int, Any]:
        names = sorted({n for s, n, _ in self.emulator.state.versions if s == scope})
        value = [self.emulator.container_resource(scope, n) for n in names]
        return 200, {"value": value, "nextLink": None}

    def _container(self, method: str, scope: str, name: str, body: Any) -> tuple[int, Any]:
        state = self.emulator.state
        if method == "PUT":
            archived = bool(((body or {}).get("properties") or {}).get("isArchived"))
            for (s, n, _), entry in state.versions.items():
                if (s, n) == (scope, name):
                    entry.properties["isArchived"] = archived
            (state.containers_archived.add if archived else state.containers_archived.discard)((scope, name))
        resource = self.emulator.container_resource(scope, name)
        if resource is None:
            return 404, _error("UserError", f"Environment container {name} not found")
        return 200, resource

    def _list_versions(self, scope: str, name: str, query: dict[str, str], path: str) -> tuple[int, Any]:
        state = self.emulator.state
        entries = [e for (s, n, _), e in state.versions.items() if (s, n) == (scope, name)]
        default_view = "All" if "$orderBy" in query or scope != WORKSPACE_SCOPE else "ActiveOnly"
        view = query.get("listViewType", default_view)
        if view == "ActiveOnly":
            entries = [e for e in entries if not e.properties.get("isArchived")]
        elif view == "ArchivedOnly":
            entries = [e for e in entries if e.properties.get("isArchived")]
        entries.sort(key=lambda e: e.created_at, reverse=True)
        if "$top" in query:
            entries = entries[: int(query["$top"])]
        start = int(query.get("$skipToken", "0"))
        page = entries[start:start + state.page_size]
        next_link = None
        if start + state.page_size < len(entries):
            rest = "&".join(f"{k}={v}" for k, v in query.items() if k != "$skipToken")
            next_link = f"{self.emulator.base_url}{path}?{rest}&$skipToken={start + state.page_size}"
        return 200, {"value": [self.emulator.version_resource(e) for e in page], "nextLink": next_link}

    def _version(self, method: str, scope: str, name: str, version: str, body: Any) -> tuple[int, Any]:
        state = self.emulator.state
        existing = state.versions.get((scope, name, version))
        if method == "GET":
            if existing is None:
                return 404, _error("UserError", f"Environment {name}:{version} not found")
            return 200, self.emulator.version_resource(existing)
        if method != "PUT":
            return 405, _error("MethodNotAllowed", method)
        properties = dict((body or {}).get("properties") or {})
        # The service records the OS it builds for: Linux unless the PUT names one (any case).
        os_type = str(properties.get("osType") or "Linux")
        canonical = next((known for known in OS_TYPES if known.lower() == os_type.lower()), None)
        if canonical is None:
            return 400, _error("UserError", f"osType '{os_type}' is not one of {', '.join(OS_TYPES)}")
        properties["osType"] = canonical
        if existing is not None:
            if any(existing.properties.get(k) != properties.get(k) for k in IMMUTABLE):
                return 409, _error(
                    "UserError",
                    f"Environment {name} with version {version} is already registered and cannot be changed.",
                )
            before = existing.properties.get("tags")
            existing.properties.update({k: v for k, v in properties.items() if k not in IMMUTABLE})
            state.updates.append((name, version, before, existing.properties.get("tags")))
            return 200, self.emulator.version_resource(existing)
        entry = Version(scope, name, version, properties, _now())
        state.versions[(scope, name, version)] = entry
        return 201, self.emulator.version_resource(entry)


def _cloud(base_url: str) -> dict[str, Any]:
    return {
        "name": f"EnvlockEmulator{base_url.rsplit(':', 1)[-1]}",
        "portal": "https://portal.emulator.azure.test",
        "resourceManager": f"{base_url}/",
        "authentication": {"loginEndpoint": f"{base_url}/login/", "audiences": [f"{base_url}/"]},
        "suffixes": {"storage": STORAGE_SUFFIX},
        "registryDiscoveryEndpoint": f"{base_url}/",
    }


def _error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _version_key(version: str) -> tuple[int, str]:
    return (int(version), "") if version.isdigit() else (1 << 30, version)
