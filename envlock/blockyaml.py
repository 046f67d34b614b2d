"""Block-style YAML for lockfiles: the text PyYAML writes, without its per-scalar Python work.

`dump(data)` returns exactly `yaml.dump(data, Dumper=CSafeDumper, sort_keys=False,
default_flow_style=False, width=1000)` for documents of mappings, lists, strings, ints, bools and
None. PyYAML represents every scalar in Python before its C emitter writes it; that took 50 ms for
the 3-platform `training` lock, more than the rest of writing it. Here the structure is laid out
directly, and PyYAML itself still decides how each distinct string is written (plain or quoted), in
one call for all of them. Anything outside that shape goes to PyYAML whole.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

_DUMPER: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
# Written plain by any YAML emitter and resolved as a string by PyYAML's resolver: starts with a
# letter, no spaces or indicators, and not one of YAML 1.1's boolean or null words.
_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_.+/=@~%-]*(?::[A-Za-z0-9_.+/=@~%-]+)*")
_NOT_STRINGS = frozenset(
    word for base in ("yes", "no", "true", "false", "on", "off", "null")
    for word in (base, base.capitalize(), base.upper())
)
_WIDTH = 1000
# Far from the line width, so no scalar is folded wherever it sits in the document (dump checks).
_LONGEST = 400
_LONGEST_KEY = 120
_BREAKS = re.compile("[\n\r\x85\u2028\u2029]")


def pyyaml_dump(data: Any) -> str:
    return yaml.dump(data, Dumper=_DUMPER, sort_keys=False, default_flow_style=False, width=_WIDTH)


def dump(data: Any) -> str:
    strings: set[str] = set()
    if type(data) is not dict or not data or not _collect(data, strings, set()):
        return pyyaml_dump(data)
    written = _written_forms(strings)
    if written is None:
        return pyyaml_dump(data)
    lines: list[str] = []
    _mapping(data, "", lines, written)
    if any(len(line) > _WIDTH for line in lines):  # PyYAML would fold it at a space
        return pyyaml_dump(data)
    return "\n".join(lines) + "\n"


def _collect(value: Any, strings: set[str], containers: set[int]) -> bool:
    """Gather every string; False where the document holds something this writer does not lay out:
    a type other than exactly these (PyYAML's safe dumper refuses subclasses, and so does this
    writer by handing them over), or a container met twice (PyYAML writes an anchor and alias)."""
    kind = type(value)
    if kind is dict or kind is list:
        if id(value) in containers:
            return False
        containers.add(id(value))
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str or not key or _BREAKS.search(key) \
                    or len(key.encode("utf-8", "surrogatepass")) > _LONGEST_KEY:
                return False  # PyYAML writes such a key as a complex key ("? key"); it counts bytes
            strings.add(key)
            if not _collect(item, strings, containers):
                return False
        return True
    if kind is list:
        return all(type(item) is not list and _collect(item, strings, containers) for item in value)
    if kind is str:
        if len(value) > _LONGEST:
            return False
        strings.add(value)
        return True
    return value is None or kind is bool or kind is int


def _written_forms(strings: set[str]) -> dict[str, str] | None:
    """How PyYAML writes each string; None when one of them takes more than one line."""
    written = {s: s for s in strings if s not in _NOT_STRINGS and _PLAIN.fullmatch(s)}
    rest = sorted(strings - written.keys())
    if rest:
        lines = pyyaml_dump(rest).split("\n")
        if lines[-1] != "" or len(lines) != len(rest) + 1 or not all(line.startswith("- ") for line in lines[:-1]):
            return None
        written.update(zip(rest, (line[2:] for line in lines), strict=False))
    return written


def _scalar(value: Any, written: dict[str, str]) -> str:
    if isinstance(value, str):
        return written[value]
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(int(value))


def _mapping(data: dict[str, Any], indent: str, lines: list[str], written: dict[str, str],
             first_prefix: str | None = None) -> None:
    """A block mapping at `indent`; its first line starts with `first_prefix` (a sequence's "- ")."""
    for index, (key, value) in enumerate(data.items()):
        start = (first_prefix if index == 0 and first_prefix is not None else indent) + written[key] + ":"
        if isinstance(value, dict) and value:
            lines.append(start)
            _mapping(value, indent + "  ", lines, written)
        elif isinstance(value, list) and value:
            lines.append(start)
            _sequence(value, indent, lines, written)  # PyYAML does not indent a sequence in a mapping
        else:
            lines.append(f"{start} {_empty_or_scalar(value, written)}")


def _sequence(items: list[Any], indent: str, lines: list[str], written: dict[str, str]) -> None:
    for item in items:
        if isinstance(item, dict) and item:
            _mapping(item, indent + "  ", lines, written, first_prefix=indent + "- ")
        else:
            lines.append(f"{indent}- {_empty_or_scalar(item, written)}")


def _empty_or_scalar(value: Any, written: dict[str, str]) -> str:
    if isinstance(value, dict):
        return "{}"
    if isinstance(value, list):
        return "[]"
    return _scalar(value, written)
