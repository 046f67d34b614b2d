"""Plain HTTP for metadata and image layers (manifests, tokens, blobs, build-context files): stdlib only."""

from __future__ import annotations

import http.client
import os
import ssl
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import Message
from typing import IO

from envlock.errors import ServiceUnreachable, UsageError
from envlock.network_limits import network_limits
from envlock.secrets import mask


class FetchError(ServiceUnreachable):
    """The host did not answer (exit 4); HTTP error statuses are answers and are returned instead."""


def http_get(url: str, headers: dict[str, str] | None = None, timeout: float = 30) -> tuple[int, Message, bytes]:
    """(status, headers, body); HTTP error statuses are returned, network failures raised."""
    return http_request("GET", url, headers, None, timeout)


def http_request(method: str, url: str, headers: dict[str, str] | None = None, data: bytes | None = None,
                 timeout: float = 30) -> tuple[int, Message, bytes]:
    """(status, headers, body) of one request; HTTP error statuses are returned, network failures raised."""
    with http_stream(url, headers, timeout, method=method, data=data) as (status, response_headers, body):
        return status, response_headers, body.read()


@contextmanager
def http_stream(url: str, headers: dict[str, str] | None = None, timeout: float = 30, *, method: str = "GET",
                data: bytes | None = None) -> Iterator[tuple[int, Message, IO[bytes]]]:
    """The response body as a stream, for blobs too large to hold in memory.

    The CA bundle that azure-identity and requests honour (REQUESTS_CA_BUNDLE) is honoured here too,
    so a corporate proxy's CA configured once works for every call envlock makes. An Authorization
    header is never sent on after a redirect: registries redirect blob reads to storage hosts
    (ACR to *.blob.core.windows.net with a SAS URL), which must not receive the registry token.
    """
    request = urllib.request.Request(url, data=data, method=method)
    for key, value in (headers or {}).items():
        if key.lower() == "authorization":
            request.add_unredirected_header(key, value)
        else:
            request.add_header(key, value)
    context = _tls_context()
    try:
        limits = network_limits()  # the configured read timeout caps what the caller asked for
        response = urllib.request.urlopen(request, timeout=min(timeout, limits.read_timeout), context=context)
    except urllib.error.HTTPError as error:
        with error:
            yield error.code, error.headers, error
        return
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise FetchError(mask(f"cannot reach {_host(url)}: {reason}")) from None
    except (ValueError, http.client.InvalidURL) as error:  # "unknown url type", "nonnumeric port"
        raise UsageError(mask(f"{url}: not a URL envlock can fetch ({error})")) from None
    except http.client.HTTPException as error:  # something answered, but not in HTTP
        raise FetchError(mask(f"{_host(url)} did not answer in HTTP ({type(error).__name__}: "
                              f"{str(error).strip()[:100]}); is this the right host and port?")) from None
    with response:
        try:
            yield response.status, response.headers, response
        except (OSError, http.client.HTTPException) as error:  # broke, or ended early, while the caller read
            raise FetchError(mask(f"lost the connection to {_host(url)}: {type(error).__name__}: {error}")) \
                from None


def check_ca_bundle() -> None:
    """A CA bundle named by REQUESTS_CA_BUNDLE or SSL_CERT_FILE must be one: checked before a
    client that reads it deep inside (azure-core, requests) would fail with its own traceback."""
    _tls_context()


def _tls_context() -> ssl.SSLContext | None:
    """The default TLS context, with the CA bundle of REQUESTS_CA_BUNDLE or SSL_CERT_FILE when one is set."""
    for variable in ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"):
        bundle = os.environ.get(variable)
        if bundle:
            try:
                return ssl.create_default_context(cafile=bundle)
            except (OSError, ssl.SSLError) as error:
                raise UsageError(f"{variable}={bundle}: not a readable file of PEM CA certificates "
                                 f"({getattr(error, 'strerror', None) or error})\n"
                                 f"  fix: point {variable} at your CA bundle (PEM), or unset it") from None
    return None


def _host(url: str) -> str:
    """host[:port] of a URL, without any user:password@ in front."""
    return urllib.parse.urlsplit(url).netloc.rpartition("@")[2]
