"""A software bill of materials of a locked environment for one platform: CycloneDX (through
cyclonedx-python-lib) or SPDX 2.3 JSON.

The document is a function of the lock alone: no random serial number and no timestamp (the
serial number is derived from the lock hash), so the SBOM of a registered version can be
reproduced byte for byte and checked against the hash `register` stored in its tags.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
import warnings
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from envlock import __version__
from envlock.hashing import sha256_text
from envlock.lockfile import Lock, LockedPackage

SBOM_TAG = "envlock.sbom-sha256"
FORMATS = ("cyclonedx", "spdx")
DIGEST_IMAGE = re.compile(r"^(?P<repository>[^@]+)@(?P<digest>sha256:[0-9a-f]{64})$")


@dataclass(frozen=True)
class Sbom:
    """A software bill of materials for one platform of a lock."""

    text: str
    sha256: str
    format: str
    platform: str


def conda_purl(package: LockedPackage) -> str:
    """pkg:conda/<channel>/<name>@<version>?build=<build>&subdir=<subdir>."""
    from packageurl import PackageURL

    channel, subdir = _channel_and_subdir(package)
    qualifiers = {"build": package.build or "", "subdir": subdir}
    return str(PackageURL(type="conda", namespace=channel, name=package.name, version=package.version,
                          qualifiers={k: v for k, v in qualifiers.items() if v}))


def pypi_purl(package: LockedPackage) -> str:
    from packageurl import PackageURL

    return str(PackageURL(type="pypi", name=package.name.lower(), version=package.version))


def _channel_and_subdir(package: LockedPackage) -> tuple[str | None, str]:
    """conda-forge and linux-64 from https://conda.anaconda.org/conda-forge/linux-64/<file>."""
    parts = [p for p in urlsplit(package.url).path.split("/") if p]
    if len(parts) >= 3:
        return parts[-3], parts[-2]
    return None, package.platform


def serial_number(lock: Lock, platform: str, sbom_format: str) -> uuid.UUID:
    """A stable serial number: the same lock, platform and format always give the same one."""
    return uuid.UUID(bytes=hashlib.sha256(f"{lock.lock_sha256}/{platform}/{sbom_format}".encode()).digest()[:16],
                     version=5)


def build_sbom(lock: Lock, platform: str, sbom_format: str = "cyclonedx", tool_version: str = __version__) -> Sbom:
    if platform not in lock.platforms:
        from envlock.errors import UsageError

        raise UsageError(f"{lock.name} is not locked for {platform}; its platforms: {', '.join(lock.platforms)}")
    from envlock.extras import require_extra

    require_extra("sbom", "an SBOM")
    packages = sorted(lock.for_platform(platform), key=lambda p: (p.manager, p.name.lower()))
    text = (_cyclonedx(lock, platform, packages, tool_version) if sbom_format == "cyclonedx"
            else _spdx(lock, platform, packages, tool_version))
    return Sbom(text, sha256_text(text), sbom_format, platform)


def registered_sbom_sha256(lock: Lock) -> str:
    """What `register` stores in a version's tags: the hash of the CycloneDX SBOM of what AML runs."""
    from envlock.render import AML_PLATFORM

    return build_sbom(lock, AML_PLATFORM).sha256


def _properties(lock: Lock, platform: str) -> list[tuple[str, str]]:
    return [("envlock:lock-sha256", lock.lock_sha256), ("envlock:platform", platform),
            ("envlock:image", lock.image or "none")]


def _image(image: str) -> tuple[str, str | None]:
    match = DIGEST_IMAGE.match(image)
    if match:
        return match["repository"], match["digest"]
    return image, None


def _cyclonedx(lock: Lock, platform: str, packages: list[LockedPackage], tool_version: str) -> str:
    from cyclonedx.model import ExternalReference, ExternalReferenceType, HashAlgorithm, HashType, Property, XsUri
    from cyclonedx.model.bom import Bom, BomMetaData
    from cyclonedx.model.component import Component, ComponentType
    from cyclonedx.model.tool import ToolRepository
    from cyclonedx.output.json import JsonV1Dot6
    from packageurl import PackageURL

    def hashes(package: LockedPackage) -> list[HashType]:
        found = [HashType(alg=HashAlgorithm.SHA_256, content=package.sha256)] if package.sha256 else []
        if package.md5:
            found.append(HashType(alg=HashAlgorithm.MD5, content=package.md5))
        return found

    components = []
    for package in packages:
        purl = conda_purl(package) if package.manager == "conda" else pypi_purl(package)
        references = [ExternalReference(type=ExternalReferenceType.DISTRIBUTION, url=XsUri(package.url))] \
            if package.url.startswith("https://") else []
        components.append(Component(
            name=package.name, version=package.version, type=ComponentType.LIBRARY, bom_ref=purl,
            purl=PackageURL.from_string(purl), hashes=hashes(package), external_references=references,
            properties=[Property(name="envlock:manager", value=package.manager)],
        ))
    if lock.image:
        repository, digest = _image(lock.image)
        last = repository.rsplit("/", 1)[-1]
        image_purl = PackageURL(type="oci", name=last, version=digest, qualifiers={"repository_url": repository}) \
            if digest else None
        components.append(Component(
            name=repository, version=digest or (last.split(":", 1)[1] if ":" in last else "latest"),
            type=ComponentType.CONTAINER, bom_ref=f"image:{lock.image}", purl=image_purl,
            hashes=[HashType(alg=HashAlgorithm.SHA_256, content=digest.split(":", 1)[1])] if digest else [],
            properties=[Property(name="envlock:base-image", value="by digest" if digest else
                                 "by tag (not pinned: pin it by digest to make the SBOM exact)")],
        ))
    environment = Component(
        name=lock.name, version=lock.lock_sha256, type=ComponentType.APPLICATION, bom_ref=f"environment:{lock.name}",
        hashes=[HashType(alg=HashAlgorithm.SHA_256, content=lock.lock_sha256)] if lock.lock_sha256 else [],
    )
    tools = ToolRepository(components=[Component(name="envlock", version=tool_version,
                                                 type=ComponentType.APPLICATION)])
    bom = Bom(
        components=components, serial_number=serial_number(lock, platform, "cyclonedx"),
        metadata=BomMetaData(component=environment, tools=tools,
                             properties=[Property(name=k, value=v) for k, v in _properties(lock, platform)]),
    )
    # The library stamps "now" into metadata.timestamp; a reproducible SBOM has none.
    _ignore_missing_dependency_graph()
    document = json.loads(JsonV1Dot6(bom).output_as_string())
    document["metadata"].pop("timestamp", None)
    document["metadata"]["tools"]["components"] = [
        tool for tool in document["metadata"]["tools"]["components"] if tool.get("name") == "envlock"
    ]
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def _ignore_missing_dependency_graph() -> None:
    """The lock has no dependency graph to give, which cyclonedx warns about; that is not an error.
    A process-wide filter (adding it again replaces it): catch_warnings() is not thread-safe, and
    register writes SBOMs from several threads."""
    warnings.filterwarnings("ignore", message="The Component this BOM is describing", category=UserWarning)


def _spdx(lock: Lock, platform: str, packages: list[LockedPackage], tool_version: str) -> str:
    spdx_packages: list[dict[str, Any]] = []
    relationships = []
    for index, package in enumerate(packages, start=1):
        spdx_id = f"SPDXRef-Package-{package.manager}-{index}"
        purl = conda_purl(package) if package.manager == "conda" else pypi_purl(package)
        checksums = [{"algorithm": "SHA256", "checksumValue": package.sha256}] if package.sha256 else []
        if package.md5:
            checksums.append({"algorithm": "MD5", "checksumValue": package.md5})
        spdx_packages.append({
            "SPDXID": spdx_id, "name": package.name, "versionInfo": package.version,
            "downloadLocation": package.url if package.url.startswith("https://") else "NOASSERTION",
            "filesAnalyzed": False, "checksums": checksums, "licenseConcluded": "NOASSERTION",
            "externalRefs": [{"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl",
                              "referenceLocator": purl}],
        })
        relationships.append({"spdxElementId": "SPDXRef-DOCUMENT", "relationshipType": "DESCRIBES",
                              "relatedSpdxElement": spdx_id})
    if lock.image:
        repository, digest = _image(lock.image)
        spdx_packages.append({
            "SPDXID": "SPDXRef-Image", "name": repository, "versionInfo": digest or lock.image,
            "downloadLocation": "NOASSERTION", "filesAnalyzed": False, "licenseConcluded": "NOASSERTION",
            "checksums": [{"algorithm": "SHA256", "checksumValue": digest.split(":", 1)[1]}] if digest else [],
        })
        relationships.append({"spdxElementId": "SPDXRef-DOCUMENT", "relationshipType": "DESCRIBES",
                              "relatedSpdxElement": "SPDXRef-Image"})
    document = {
        "spdxVersion": "SPDX-2.3", "dataLicense": "CC0-1.0", "SPDXID": "SPDXRef-DOCUMENT",
        "name": f"{lock.name} ({platform})",
        "documentNamespace": f"https://envlock.invalid/spdx/{lock.name}/{platform}/"
                             f"{serial_number(lock, platform, 'spdx')}",
        # SPDX requires a creation time; the epoch keeps the document a function of the lock
        "creationInfo": {"created": "1970-01-01T00:00:00Z", "creators": [f"Tool: envlock-{tool_version}"],
                         "comment": "; ".join(f"{k}={v}" for k, v in _properties(lock, platform))},
        "packages": spdx_packages, "relationships": relationships,
    }
    return json.dumps(document, indent=2, sort_keys=True) + "\n"
