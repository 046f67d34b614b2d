"""How AML runs a version beyond its packages: the OS it is built for and, for a custom inference
container, the routes AML probes and scores on (`os_type` and `inference_config` of AML's YAML).

Part of a version's content: two versions differing only in a route are different versions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

OS_TYPES = ("Linux", "Windows")  # AML's OperatingSystemType, case-insensitive on input
DEFAULT_OS_TYPE = "Linux"  # what the service records when a version names none
ROUTES = ("liveness_route", "readiness_route", "scoring_route")  # all three required, as in AML's schema
ROUTE_KEYS = ("port", "path")


@dataclass(frozen=True)
class Route:
    """An inference server route: port and path."""

    port: int
    path: str

    def __str__(self) -> str:
        return f"port {self.port} {self.path}"


@dataclass(frozen=True)
class InferenceConfig:
    """The liveness, readiness and scoring routes of an inference environment."""

    liveness_route: Route
    readiness_route: Route
    scoring_route: Route

    def routes(self) -> tuple[tuple[str, Route], ...]:
        return tuple((name, getattr(self, name)) for name in ROUTES)

    def as_dict(self) -> dict[str, dict[str, Any]]:
        """The snake_case mapping AML's YAML and azure-ai-ml's Environment(inference_config=) take."""
        return {name: {"port": route.port, "path": route.path} for name, route in self.routes()}

    @classmethod
    def from_stored(cls, value: Any) -> InferenceConfig | None:
        """From what a registry returns: a mapping (snake_case or the REST camelCase) or a model
        object with route attributes (azure-ai-ml's InferenceContainerProperties)."""
        if value is None:
            return None
        routes = []
        for name in ROUTES:
            route = _member(value, name)
            if route is None:
                return None
            port, path = _member(route, "port"), _member(route, "path")
            routes.append(Route(int(port), str(path)))
        return cls(*routes)


@dataclass(frozen=True)
class Runtime:
    """`os_type` (canonical: Linux or Windows) and `inference_config`; None where not declared."""

    os_type: str | None = None
    inference_config: InferenceConfig | None = None

    @property
    def effective_os_type(self) -> str:
        return self.os_type or DEFAULT_OS_TYPE

    def same_as(self, other: Runtime) -> bool:
        """Equal as AML runs them: no os_type is the service's default, Linux."""
        return self.effective_os_type == other.effective_os_type and self.inference_config == other.inference_config

    def declared(self) -> dict[str, Any]:
        """The declared fields by their AML YAML names (os_type canonical), nothing when none is:
        a lock's inputs and azure-ai-ml's Environment(os_type=, inference_config=) take these."""
        found: dict[str, Any] = {}
        if self.os_type is not None:
            found["os_type"] = self.os_type
        if self.inference_config is not None:
            found["inference_config"] = self.inference_config.as_dict()
        return found

    def yaml_fields(self) -> dict[str, Any]:
        """The keys of an AML environment YAML (env.yml) for this runtime."""
        fields = self.declared()
        if "os_type" in fields:
            fields["os_type"] = fields["os_type"].lower()  # as az ml environment show writes it
        return fields

    def described(self) -> dict[str, str]:
        """One line per field, for diffs: os_type and each route."""
        rows = {"os_type": self.effective_os_type}
        if self.inference_config is not None:
            rows.update({f"inference_config.{name}": str(route) for name, route in self.inference_config.routes()})
        return rows


def canonical_os_type(value: object) -> str | None:
    """'linux', 'LINUX', 'Linux' -> 'Linux'; anything AML does not take -> None."""
    if not isinstance(value, str):
        return None
    return next((known for known in OS_TYPES if known.lower() == value.strip().lower()), None)


def _member(value: Any, name: str) -> Any:
    if isinstance(value, Mapping):
        camel = name.split("_")[0] + "".join(part.title() for part in name.split("_")[1:])
        return value.get(name, value.get(camel))
    return getattr(value, name, None)
