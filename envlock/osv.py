"""OSV advisories: which versions a record affects, its severity, its first fixed version.

The same functions judge a record fetched from the OSV API and one read from an offline
export, so both give the same findings. Only PyPI records are read (conda packages of Python
projects are checked under their PyPI names).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.version import InvalidVersion, Version

from envlock.errors import DeclarationError
from envlock.solvers.pip_uv import normalize_name

ECOSYSTEM = "PyPI"
LEVELS = ("low", "medium", "high", "critical")

Record = Mapping[str, Any]


@dataclass(frozen=True)
class Advisory:
    """What a report needs of one OSV record for one package."""

    id: str
    aliases: tuple[str, ...]
    summary: str
    severity: str | None  # one of LEVELS, or None when the record gives none
    severity_source: str | None  # the CVSS vector or the database's own word
    fixed: tuple[str, ...]  # every fixed version in the package's ECOSYSTEM ranges, ascending
    url: str


def record_problem(record: object) -> str | None:
    """What makes `record` unreadable as an OSV record (the fields envlock reads), or None.

    Checked where a record enters (an export's file, the service's answer), so matching never
    meets a string where the schema has a list or an object.
    """
    if not isinstance(record, Mapping):
        return "is not a JSON object"
    checks: list[tuple[str, object, type | tuple[type, ...]]] = [
        ("affected", record.get("affected"), list), ("severity", record.get("severity"), list),
        ("aliases", record.get("aliases"), list), ("database_specific", record.get("database_specific"), Mapping),
    ]
    for index, entry in enumerate(record.get("affected") or []):
        at = f"affected[{index}]"
        checks.append((at, entry, Mapping))
        if not isinstance(entry, Mapping):
            continue
        checks += [(f"{at}.package", entry.get("package"), Mapping), (f"{at}.versions", entry.get("versions"), list),
                   (f"{at}.ranges", entry.get("ranges"), list), (f"{at}.severity", entry.get("severity"), list)]
        for number, affected_range in enumerate(entry.get("ranges") or []):
            checks.append((f"{at}.ranges[{number}]", affected_range, Mapping))
            if isinstance(affected_range, Mapping):
                events = affected_range.get("events")
                checks.append((f"{at}.ranges[{number}].events", events, list))
                checks += [(f"{at}.ranges[{number}].events[{n}]", event, Mapping)
                           for n, event in enumerate(events if isinstance(events, list) else [])]
    checks += [(f"severity[{n}]", item, Mapping) for n, item in enumerate(record.get("severity") or [])]
    for field_name, value, kind in checks:
        if value is not None and not isinstance(value, kind):
            wanted = "a list" if kind is list else "an object"
            return f"field '{field_name}' is {type(value).__name__}, not {wanted} as in the OSV schema"
    return None


def _version(text: str) -> Version | None:
    try:
        return Version(text)
    except InvalidVersion:
        return None


def _package_entries(record: Record, name: str) -> list[Mapping[str, Any]]:
    wanted = normalize_name(name)
    return [
        entry for entry in record.get("affected") or []
        if (entry.get("package") or {}).get("ecosystem") == ECOSYSTEM
        and normalize_name(str((entry.get("package") or {}).get("name", ""))) == wanted
    ]


def affects(record: Record, name: str, version: str) -> bool:
    """OSV's rule: the version is listed in `versions`, or lies in an ECOSYSTEM range.

    Range events are read in version order: `introduced` opens, `fixed` closes before itself
    (the fixed version is not affected), `last_affected` closes after itself.
    """
    parsed = _version(version)
    for entry in _package_entries(record, name):
        listed = entry.get("versions") or []
        if version in listed or (parsed is not None and any(_version(str(v)) == parsed for v in listed)):
            return True
        if parsed is None:
            continue
        for affected_range in entry.get("ranges") or []:
            if affected_range.get("type") in ("ECOSYSTEM", "SEMVER") and _in_range(affected_range, parsed):
                return True
    return False


def _in_range(affected_range: Mapping[str, Any], version: Version) -> bool:
    """The OSV schema's evaluation: walk the events in version order, switching in and out."""
    events: list[tuple[Version, str]] = []
    for event in affected_range.get("events") or []:
        for kind in ("introduced", "fixed", "last_affected"):
            if kind in event:
                text = str(event[kind])
                at = Version("0") if text == "0" else _version(text)
                if at is not None:
                    events.append((at, kind))
    inside = False
    for at, kind in sorted(events, key=lambda item: item[0]):
        if kind == "introduced" and version >= at:
            inside = True
        elif kind == "fixed" and version >= at or kind == "last_affected" and version > at:
            inside = False
    return inside


def fixed_versions(record: Record, name: str) -> tuple[str, ...]:
    found = {
        str(event["fixed"])
        for entry in _package_entries(record, name)
        for affected_range in entry.get("ranges") or [] if affected_range.get("type") in ("ECOSYSTEM", "SEMVER")
        for event in affected_range.get("events") or [] if "fixed" in event
    }
    return tuple(sorted(found, key=lambda v: (_version(v) or Version("0"), v)))


def first_fixed_after(advisory: Advisory, version: str) -> str | None:
    """The smallest fixed version above the locked one (a record may fix several release lines)."""
    current = _version(version)
    for fixed in advisory.fixed:
        parsed = _version(fixed)
        if current is None or (parsed is not None and parsed > current):
            return fixed
    return None


def advisory_for(record: Record, name: str) -> Advisory:
    severity, source = severity_of(record, name)
    summary = str(record.get("summary") or record.get("details") or "").strip().splitlines()
    record_id = str(record["id"])
    return Advisory(
        id=record_id, aliases=tuple(sorted(str(a) for a in record.get("aliases") or [])),
        summary=summary[0][:160] if summary else "", severity=severity, severity_source=source,
        fixed=fixed_versions(record, name), url=f"https://osv.dev/vulnerability/{record_id}",
    )


def severity_of(record: Record, name: str) -> tuple[str | None, str | None]:
    """A level from the record's CVSS vector, else from database_specific.severity (GHSA's word)."""
    for entry in [*(record.get("severity") or []),
                  *(s for e in _package_entries(record, name) for s in e.get("severity") or [])]:
        score = str(entry.get("score", ""))
        if str(entry.get("type", "")).startswith("CVSS_V3") and score.startswith("CVSS:3"):
            base = cvss3_base_score(score)
            if base is not None:
                return level_of_score(base), score
    word = str((record.get("database_specific") or {}).get("severity") or "").lower()
    if word == "moderate":
        word = "medium"
    if word in LEVELS:
        return word, f"database_specific.severity: {word}"
    return None, None


def level_of_score(score: float) -> str | None:
    """CVSS v3 qualitative rating (0.0 is "none", which is no finding level)."""
    if score >= 9.0:
        return "critical"
    if score >= 7.0:
        return "high"
    if score >= 4.0:
        return "medium"
    return "low" if score > 0 else None


_WEIGHTS = {
    "AV": {"N": 0.85, "A": 0.62, "L": 0.55, "P": 0.2},
    "AC": {"L": 0.77, "H": 0.44},
    "UI": {"N": 0.85, "R": 0.62},
    "C": {"H": 0.56, "L": 0.22, "N": 0.0},
    "I": {"H": 0.56, "L": 0.22, "N": 0.0},
    "A": {"H": 0.56, "L": 0.22, "N": 0.0},
}


def cvss3_base_score(vector: str) -> float | None:
    """The CVSS v3.x base score of a vector string (FIRST's specification, section 7.1)."""
    try:
        metrics = dict(part.split(":", 1) for part in vector.split("/")[1:])
        changed = metrics["S"] == "C"
        privileges = {"N": 0.85, "L": 0.68 if changed else 0.62, "H": 0.5 if changed else 0.27}[metrics["PR"]]
        impact_sub = 1 - ((1 - _WEIGHTS["C"][metrics["C"]]) * (1 - _WEIGHTS["I"][metrics["I"]])
                          * (1 - _WEIGHTS["A"][metrics["A"]]))
        exploitability = (8.22 * _WEIGHTS["AV"][metrics["AV"]] * _WEIGHTS["AC"][metrics["AC"]] * privileges
                          * _WEIGHTS["UI"][metrics["UI"]])
    except (KeyError, ValueError):
        return None
    impact = 7.52 * (impact_sub - 0.029) - 3.25 * (impact_sub - 0.02) ** 15 if changed else 6.42 * impact_sub
    if impact <= 0:
        return 0.0
    total = 1.08 * (impact + exploitability) if changed else impact + exploitability
    return _round_up(min(total, 10.0))


def _round_up(value: float) -> float:
    scaled = round(value * 100000)
    return scaled / 100000.0 if scaled % 10000 == 0 else (math.floor(scaled / 10000) + 1) / 10.0


# ---------------------------------------------------------------- an offline export


REEXPORT = "export the advisories again, or remove this file from the folder"


class OfflineDatabase:
    """Every PyPI record under a folder (OSV's per-ecosystem export: one JSON or YAML file each)."""

    def __init__(self, records: Iterable[Record]) -> None:
        self.by_id: dict[str, Record] = {}
        self.by_package: dict[str, list[Record]] = {}
        for record in records:
            if not isinstance(record, Mapping) or "id" not in record:
                continue
            self.by_id[str(record["id"])] = record
            names = {normalize_name(str((e.get("package") or {}).get("name", "")))
                     for e in record.get("affected") or [] if (e.get("package") or {}).get("ecosystem") == ECOSYSTEM}
            for name in names:
                self.by_package.setdefault(name, []).append(record)

    @classmethod
    def load(cls, folder: Path) -> OfflineDatabase:
        import yaml

        loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        records = []
        for path in sorted(folder.rglob("*")):
            if path.suffix not in (".json", ".yaml", ".yml"):
                continue
            try:
                text = path.read_text(encoding="utf-8")
                record = json.loads(text) if path.suffix == ".json" else yaml.load(text, Loader=loader)
            except (OSError, UnicodeDecodeError, ValueError, yaml.YAMLError) as exc:
                raise DeclarationError(path, f"not an OSV record: {str(exc).splitlines()[0]}",
                                       fix=REEXPORT) from None
            problem = record_problem(record) if isinstance(record, Mapping) and "id" in record else None
            if problem:
                raise DeclarationError(path, f"not an OSV record: {problem}", fix=REEXPORT)
            records.append(record)
        return cls(records)

    def matching(self, name: str, version: str) -> list[str]:
        """Ids of the records affecting name==version, sorted."""
        return sorted(str(r["id"]) for r in self.by_package.get(normalize_name(name), [])
                      if affects(r, name, version))
