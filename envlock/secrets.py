"""Credentials in URLs: masked in every message, never written into a lock, file or registry.

A URL may carry them as userinfo (https://user:token@host), as an Anaconda token path
(/t/<token>/) or as a query parameter (?token=..., an Azure SAS ?sig=...).
"""

from __future__ import annotations

import re
import urllib.parse

MASK = "***"
_USERINFO = re.compile(r"(?P<scheme>\b[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<userinfo>[^/@\s:]*(?::[^/@\s]*)?)@")
_TOKEN_PATH = re.compile(r"(?P<prefix>://[^/\s]+(?:/[^\s]*?)?/t/)(?P<token>[^/\s]+)")
_SECRET_QUERY = re.compile(
    r"(?P<key>[?&](?:token|access_token|sig|signature|key|secret|password|passwd|pwd|api_key|apikey|code)=)"
    r"(?P<value>[^&#\s]+)", re.IGNORECASE)


def mask(text: str) -> str:
    """`text` with every credential inside a URL replaced by ***."""
    if "@" not in text and "?" not in text and "/t/" not in text:
        return text
    text = _USERINFO.sub(lambda m: f"{m['scheme']}{MASK}@", text)
    text = _TOKEN_PATH.sub(lambda m: f"{m['prefix']}{MASK}", text)
    return _SECRET_QUERY.sub(lambda m: f"{m['key']}{MASK}", text)


def has_credentials(url: str) -> bool:
    return mask(url) != url


def strip_credentials(url: str) -> str:
    """The URL without userinfo (what a lock records for a file read through a credentialed index)."""
    parts = urllib.parse.urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urllib.parse.urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


def is_local_url(url: str) -> bool:
    """A file: URL or a bare path: meaningful on this machine only."""
    return (url.startswith(("file:", "/", "./", "../", ".\\", "\\\\")) or url in (".", "..")
            or bool(re.match(r"^[A-Za-z]:[\\/]", url)) or bool(_HOME_PATH.match(url)))


_HOME_PATH = re.compile(r"^~[\w.-]*(?:[/\\]|$)")  # ~/pkg, ~user/pkg; not a specifier such as ~=1.2
