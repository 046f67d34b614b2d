"""Pull tokens for OCI registries: anonymous, or Azure Container Registry's OAuth2 flows.

ACR answers a bearer challenge whose realm is `https://<registry>/oauth2/token`. A refresh token
(what `az acr login --expose-token` prints as accessToken) is exchanged there for an access token;
without one, an Azure AD token of the signed-in identity (DefaultAzureCredential, as for the AML
workspace) is first exchanged at `/oauth2/exchange` for a refresh token. Tokens stay in memory and
are sent only to a token service on the registry's own host; no message ever contains one.
"""

from __future__ import annotations

import base64
import json
import os
import re
import urllib.parse
from dataclasses import dataclass

from envlock.errors import ImageError
from envlock.httpget import FetchError, http_request

ACR_TOKEN_VARIABLE = "ENVLOCK_ACR_TOKEN"
ARM_SCOPE = "https://management.azure.com/.default"
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@dataclass(frozen=True)
class Challenge:
    """A registry's WWW-Authenticate Bearer challenge."""

    realm: str
    service: str
    scope: str

    @property
    def is_acr_shaped(self) -> bool:
        """ACR (and only a few others) serve tokens at /oauth2/token and exchanges beside it."""
        return urllib.parse.urlsplit(self.realm).path.endswith("/oauth2/token")

    @property
    def exchange_url(self) -> str:
        return self.realm[: -len("/token")] + "/exchange"


def parse_challenge(header: str, default_scope: str, what: str) -> Challenge:
    if not header.lower().startswith("bearer "):
        raise ImageError(f"{what}: the registry wants '{header.split(' ')[0] or 'unknown'}' "
                         "authentication; only bearer tokens (anonymous or ACR) are supported")
    params = dict(re.findall(r'(\w+)="([^"]*)"', header))
    realm = params.get("realm", "")
    parts = urllib.parse.urlsplit(realm)
    if not (parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS)):
        raise ImageError(f"{what}: refusing token realm '{realm}' (must be https)")
    return Challenge(realm, params.get("service", ""), params.get("scope") or default_scope)


class TokenSource:
    """Access tokens for one registry host (the host envlock connects to, mirror or not)."""

    def __init__(self, registry_host: str, timeout: float) -> None:
        self.registry_host = registry_host
        self.timeout = timeout
        self._refresh_token: str | None = None

    def access_token(self, challenge: Challenge, what: str) -> str:
        refresh = self._refresh_token or refresh_token_from_environment(self.registry_host)
        if refresh is not None:
            self._require_same_host(challenge, what)
            return self._oauth_token(challenge, refresh, what)
        query = urllib.parse.urlencode({"service": challenge.service, "scope": challenge.scope})
        status, body = self._call("GET", f"{challenge.realm}?{query}", None, what)
        if status == 200:
            return _field(body, ("token", "access_token"), challenge.realm, what)
        if status in (401, 403) and challenge.is_acr_shaped:
            self._require_same_host(challenge, what)
            self._refresh_token = self._exchange(challenge, what)
            return self._oauth_token(challenge, self._refresh_token, what)
        raise ImageError(f"{what}: the token service {challenge.realm} answered {status}"
                         + ("; this registry needs credentials" if status in (401, 403) else ""))

    def _oauth_token(self, challenge: Challenge, refresh: str, what: str) -> str:
        form = {"grant_type": "refresh_token", "service": challenge.service, "scope": challenge.scope,
                "refresh_token": refresh, "client_id": "envlock"}
        status, body = self._call("POST", challenge.realm, form, what)
        if status != 200:
            raise ImageError(f"{what}: the token service {challenge.realm} refused the refresh token "
                             f"({status}); renew it: az acr login --name <registry> --expose-token")
        return _field(body, ("access_token", "token"), challenge.realm, what)

    def _exchange(self, challenge: Challenge, what: str) -> str:
        aad_token = _azure_ad_token(what)
        form = {"grant_type": "access_token", "service": challenge.service, "access_token": aad_token}
        tenant = _jwt_claim(aad_token, "tid")
        if tenant:
            form["tenant"] = tenant
        status, body = self._call("POST", challenge.exchange_url, form, what)
        if status != 200:
            raise ImageError(f"{what}: {challenge.exchange_url} refused the Azure credential ({status}); "
                             f"grant the identity AcrPull on the registry, or set {ACR_TOKEN_VARIABLE}")
        return _field(body, ("refresh_token",), challenge.exchange_url, what)

    def _require_same_host(self, challenge: Challenge, what: str) -> None:
        realm_host = urllib.parse.urlsplit(challenge.realm).hostname
        if realm_host != urllib.parse.urlsplit(f"//{self.registry_host}").hostname:
            raise ImageError(f"{what}: the token service {challenge.realm} is not on the registry's host "
                             f"{self.registry_host}; refusing to send it credentials")

    def _call(self, method: str, url: str, form: dict[str, str] | None, what: str) -> tuple[int, bytes]:
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        try:
            status, _, body = http_request(method, url, FORM if data else {}, data, self.timeout)
        except FetchError as error:  # unreachable stays unreachable (exit 4)
            raise FetchError(f"{what}: {error.message}") from None
        return status, body


def refresh_token_from_environment(registry_host: str) -> str | None:
    """The refresh token for this host from $ENVLOCK_ACR_TOKEN: the JSON of `az acr login --expose-token`
    (one object, or a list for several registries), matched by its loginServer."""
    raw = os.environ.get(ACR_TOKEN_VARIABLE, "").strip()
    if not raw:
        return None
    try:
        data = json.loads(raw)
    except ValueError:
        data = None
    entries = data if isinstance(data, list) else [data]
    if not all(isinstance(e, dict) and isinstance(e.get("accessToken"), str) and isinstance(e.get("loginServer"), str)
               for e in entries):
        raise ImageError(f"${ACR_TOKEN_VARIABLE} must hold what `az acr login --name <registry> --expose-token` "
                         "prints (JSON with accessToken and loginServer)")
    for entry in entries:
        if str(entry["loginServer"]).lower() == registry_host.lower():
            return str(entry["accessToken"])
    return None


def _azure_ad_token(what: str) -> str:
    from azure.core.exceptions import ClientAuthenticationError
    from azure.identity import DefaultAzureCredential

    try:
        return str(DefaultAzureCredential().get_token(ARM_SCOPE).token)
    except ClientAuthenticationError:
        raise ImageError(f"{what}: the registry needs credentials and no Azure sign-in was found; run "
                         f"az login, or set {ACR_TOKEN_VARIABLE} from az acr login --expose-token") from None


def _jwt_claim(token: str, claim: str) -> str | None:
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except ValueError:
        return None
    value = payload.get(claim) if isinstance(payload, dict) else None
    return str(value) if value else None


def _field(body: bytes, names: tuple[str, ...], url: str, what: str) -> str:
    try:
        payload = json.loads(body)
        value = next(payload[n] for n in names if isinstance(payload.get(n), str) and payload[n])
    except (ValueError, AttributeError, StopIteration):
        raise ImageError(f"{what}: {url} returned no {names[0]}") from None
    return str(value)
