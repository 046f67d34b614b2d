"""Conda target platforms: their default virtual packages and what they mean to pip."""

from __future__ import annotations

from dataclasses import dataclass

KNOWN_PLATFORMS = ("linux-64", "linux-aarch64", "osx-64", "osx-arm64", "win-64")

# The oldest systems envlock assumes when an environment does not say: AML images are
# Ubuntu 20.04 or newer (glibc 2.31); 2.28 keeps manylinux_2_28 wheels, the common floor.
DEFAULT_GLIBC = "2.28"
DEFAULT_OSX = "12.0"


@dataclass(frozen=True)
class TargetPlatform:
    """A platform a lock is made for, with the virtual packages its machines provide."""

    conda: str
    virtual_packages: tuple[tuple[str, str], ...]

    @property
    def system(self) -> str:
        return self.conda.split("-")[0]

    @property
    def machine(self) -> str:
        return {"64": "x86_64", "aarch64": "aarch64", "arm64": "arm64"}[self.conda.split("-")[1]]

    def virtual_version(self, name: str) -> str | None:
        return dict(self.virtual_packages).get(name)

    def uv_python_platform(self) -> str:
        """The `--python-platform` value uv resolves for."""
        if self.system == "linux":
            glibc = self.virtual_version("__glibc") or DEFAULT_GLIBC
            arch = "aarch64" if self.machine == "aarch64" else "x86_64"
            return f"{arch}-manylinux_{glibc.replace('.', '_')}"
        if self.system == "osx":
            return "aarch64-apple-darwin" if self.machine == "arm64" else "x86_64-apple-darwin"
        return "x86_64-pc-windows-msvc"

    def wheel_platform_tags(self) -> list[str]:
        """Wheel platform tags installable here, most specific first."""
        if self.system == "linux":
            major, minor = (int(part) for part in (self.virtual_version("__glibc") or DEFAULT_GLIBC).split(".")[:2])
            arch = self.machine
            tags = [f"manylinux_{major}_{m}_{arch}" for m in range(minor, 4, -1)]
            legacy = {17: "manylinux2014", 12: "manylinux2010", 5: "manylinux1"}
            ordered = []
            for tag in tags:
                ordered.append(tag)
                glibc_minor = int(tag.split("_")[2])
                if glibc_minor in legacy and (arch == "x86_64" or glibc_minor == 17):
                    ordered.append(f"{legacy[glibc_minor]}_{arch}")
            return ordered
        if self.system == "osx":
            from packaging.tags import mac_platforms

            major, minor = (int(part) for part in (self.virtual_version("__osx") or DEFAULT_OSX).split(".")[:2])
            return list(mac_platforms((major, minor), self.machine))
        return ["win_amd64"]


def target_platform(conda_platform: str, declared: tuple[tuple[str, str], ...]) -> TargetPlatform:
    """The platform with its virtual packages: defaults for the system, then what is declared."""
    system = conda_platform.split("-")[0]
    packages: dict[str, str] = {}
    if system == "linux":
        packages.update({"__linux": "5.10", "__glibc": DEFAULT_GLIBC, "__unix": "0"})
    elif system == "osx":
        packages.update({"__osx": DEFAULT_OSX, "__unix": "0"})
    else:
        packages.update({"__win": "0"})
    only_on = {"__glibc": "linux", "__linux": "linux", "__osx": "osx", "__win": "win", "__unix": None}
    for name, version in declared:
        owner = only_on.get(name, "any")
        if owner in ("any", system) or (owner is None and system != "win"):
            packages[name] = version
    return TargetPlatform(conda_platform, tuple(sorted(packages.items())))
