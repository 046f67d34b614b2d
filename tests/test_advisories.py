"""The OSV service as users meet it: a proxy's login page, a truncated or wrongly shaped answer, bytes
that are not HTTP, a certificate nobody trusts, a damaged answer cache. Each is envlock's own message
naming the service or the file (exit 4 for the service, 2 for the cache), never exit 3."""

from __future__ import annotations

import shutil
import sqlite3
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import RepoBuilder
from tests.support.osv_server import OsvEmulator
from tests.support.raw_server import RawServer, closed_port, http_answer
from tests.support.registries import locked_repo
from tests.support.tls import make_certificates

NOT_OSV = "not an OSV batch answer"
NOT_JSON = "not JSON"
ANSWERS = {
    "proxy-login-page": (http_answer("200 OK", "<html><body>Sign in</body></html>", "text/html"), NOT_JSON),
    "truncated-json": (http_answer("200 OK", '{"results": [{"vulns": ['), NOT_JSON),
    "not-utf8": (http_answer("200 OK", b"\xff\xfe{"), NOT_JSON),
    "top-level-list": (http_answer("200 OK", "[1, 2]"), NOT_OSV),
    "results-string": (http_answer("200 OK", '{"results": "x"}'), NOT_OSV),
    "result-int": (http_answer("200 OK", '{"results": [1]}'), NOT_OSV),
    "vulns-string": (http_answer("200 OK", '{"results": [{"vulns": "PYSEC-1"}]}'), NOT_OSV),
    "vuln-without-id": (http_answer("200 OK", '{"results": [{"vulns": [{"modified": "x"}]}]}'), NOT_OSV),
    "401": (http_answer("401 Unauthorized", "sign in first"), "HTTP 401"),
    "403": (http_answer("403 Forbidden", "<html>blocked</html>", "text/html"), "HTTP 403"),
    "not-http": (b"SSH-2.0-OpenSSH_9.6\r\n\r\n", "did not answer in HTTP"),
    "body-shorter-than-its-length": (http_answer("200 OK", '{"results": []}', length=1000), "lost the connection"),
}


@pytest.fixture(scope="module")
def locked(tmp_path_factory: pytest.TempPathFactory) -> Path:
    builder = RepoBuilder(tmp_path_factory.mktemp("locked"))
    (builder.root / "environments").mkdir()
    builder.settings()
    return locked_repo(builder, ["train"]).root


@pytest.fixture
def repo(locked: Path, tmp_path: Path) -> RepoBuilder:
    shutil.copytree(locked, tmp_path / "repo")
    return RepoBuilder(tmp_path / "repo")


def audit_against(repo: RepoBuilder, url: str) -> tuple[int, str]:
    repo.settings(f"audit_url: {url}\n")
    result = repo.run("audit", "--no-yanked")
    return result.exit_code, result.output


@pytest.mark.parametrize("name", ANSWERS)
def test_a_broken_osv_answer_is_a_service_error_naming_the_service(name: str, repo: RepoBuilder) -> None:
    answer, words = ANSWERS[name]
    server = RawServer(answer)
    try:
        code, output = audit_against(repo, server.url)
    finally:
        server.close()
    assert server.requests >= 1
    assert code == 4, output
    assert words in output and "127.0.0.1" in output and "unexpected" not in output, output


def test_connection_refused_is_a_service_error(repo: RepoBuilder) -> None:
    code, output = audit_against(repo, f"http://127.0.0.1:{closed_port()}")
    assert code == 4 and "cannot reach" in output and "--offline-db" in output, output


@pytest.fixture(scope="module")
def untrusted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RawServer]:
    _, cert, key = make_certificates(tmp_path_factory.mktemp("tls"))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = RawServer(http_answer("200 OK", '{"results": []}'), tls=context)
    yield server
    server.close()


def test_a_certificate_nobody_trusts_is_a_service_error(repo: RepoBuilder, untrusted: RawServer) -> None:
    code, output = audit_against(repo, untrusted.url)
    assert code == 4 and "CERTIFICATE_VERIFY_FAILED" in output, output


@pytest.mark.parametrize("bundle", ["missing.pem", "envlock.yaml"])
def test_a_ca_bundle_that_is_not_one_names_the_variable(bundle: str, repo: RepoBuilder, untrusted: RawServer,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(repo.root / bundle))
    code, output = audit_against(repo, untrusted.url)
    assert code == 2 and f"REQUESTS_CA_BUNDLE={repo.root / bundle}" in output and "fix:" in output, output


def test_a_cached_answer_that_is_not_json_names_the_cache(repo: RepoBuilder, osv: OsvEmulator) -> None:
    cache = repo.root / ".envlock" / "audit-cache.sqlite"
    assert audit_against(repo, osv.url)[0] in (0, 1)  # the cache now holds the answers
    with sqlite3.connect(cache) as connection:
        assert connection.execute("UPDATE queries SET ids = '{x'").rowcount > 0
    code, output = audit_against(repo, osv.url)
    assert code == 2 and str(cache) in output and f"delete {cache}" in output, output
