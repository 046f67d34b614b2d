"""How long one call to a registry or index may wait: short by default, set by environment variables.

Its own module so that uv's environment can be set without importing the HTTP client.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from envlock.errors import UsageError


@dataclass(frozen=True)
class NetworkLimits:
    """How long one call to a registry or index may wait: short by default, set by environment variables."""

    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    retries: int = 3

    def describe(self) -> str:
        return (f"connect timeout {self.connect_timeout:g} s, read timeout {self.read_timeout:g} s, "
                f"{self.retries} retries ({CONNECT_TIMEOUT_VAR}, {READ_TIMEOUT_VAR}, {RETRIES_VAR})")


CONNECT_TIMEOUT_VAR = "ENVLOCK_CONNECT_TIMEOUT"
READ_TIMEOUT_VAR = "ENVLOCK_READ_TIMEOUT"
RETRIES_VAR = "ENVLOCK_RETRIES"


def network_limits() -> NetworkLimits:
    defaults = NetworkLimits()

    def number(name: str, default: float) -> float:
        text = os.environ.get(name, "").strip()
        if not text:
            return default
        try:
            value = float(text)
        except ValueError:
            value = -1
        if value < 0 or value != value:
            raise UsageError(f"{name}={text!r} is not a number of seconds (or retries) >= 0")
        return value

    return NetworkLimits(number(CONNECT_TIMEOUT_VAR, defaults.connect_timeout),
                         number(READ_TIMEOUT_VAR, defaults.read_timeout),
                         int(number(RETRIES_VAR, defaults.retries)))
