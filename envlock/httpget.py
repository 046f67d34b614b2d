"""Plain HTTP GETs for metadata (manifests, tokens, build-context files): stdlib only."""

from __future__ import annotations

import os
import ssl
import urllib.error
import urllib.parse
import urllib.request
from email.message import Message

from envlock.errors import EnvlockError


class FetchError(EnvlockError):
    pass


def http_get(url: str, headers: dict[str, str] | None = None, timeout: float = 30) -> tuple[int, Message, bytes]:
    """(status, headers, body); HTTP error statuses are returned, network failures raised.

    The CA bundle that azure-identity and requests honour (REQUESTS_CA_BUNDLE) is honoured here too,
    so a corporate proxy's CA configured once works for every call envlock makes.
    """
    request = urllib.request.Request(url, headers=headers or {}, method="GET")
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("SSL_CERT_FILE")
    context = ssl.create_default_context(cafile=bundle) if bundle else None
    try:
        with urllib.request.urlopen(request, timeout=timeout, context=context) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise FetchError(f"cannot reach {urllib.parse.urlsplit(url).netloc}: {reason}") from None
