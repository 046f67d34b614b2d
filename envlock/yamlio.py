"""YAML reading for declarations: fast loading, and line numbers looked up only for errors."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from envlock.errors import DeclarationError

# libyaml's loader when PyYAML was built with it: several times faster (check reads every file).
_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

KeyPath = Sequence[str | int]


def load_yaml(path: Path) -> Any:
    """Parse a YAML file; invalid YAML becomes a DeclarationError naming the line."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DeclarationError(path, "file not found") from None
    try:
        return yaml.load(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else None
        raise DeclarationError(
            path, f"invalid YAML: {exc.problem}", line=line, fix="correct the YAML syntax"
        ) from None
    except yaml.YAMLError as exc:
        raise DeclarationError(path, f"invalid YAML: {exc}", fix="correct the YAML syntax") from None


def line_of(path: Path, key_path: KeyPath) -> int | None:
    """1-based line of the node at `key_path` (mapping keys and list indexes), if it exists."""
    try:
        node = yaml.compose(path.read_text(encoding="utf-8"), Loader=_Loader)
    except (OSError, yaml.YAMLError):
        return None
    line = None
    for key in key_path:
        if isinstance(node, yaml.MappingNode) and isinstance(key, str):
            match = next((pair for pair in node.value if pair[0].value == key), None)
            if match is None:
                return line
            line = match[0].start_mark.line + 1
            node = match[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
            line = node.start_mark.line + 1
        else:
            return line
    return line


def declaration_error(
    path: Path, key_path: KeyPath, problem: str, fix: str, field: str | None = None
) -> DeclarationError:
    """A DeclarationError for the field at `key_path`, with its line looked up in `path`."""
    name = field or ".".join(str(part) for part in key_path)
    return DeclarationError(path, problem, field=name, line=line_of(path, key_path), fix=fix)


def suggest(word: str, choices: Sequence[str]) -> str:
    """'did you mean ...? ' for a near miss, else ''."""
    import difflib

    close = difflib.get_close_matches(word, list(choices), n=1)
    return f"did you mean '{close[0]}'? " if close else ""


def reject_unknown_keys(path: Path, prefix: Sequence[str | int], data: dict[str, Any], allowed: Sequence[str],
                        kind: str = "allowed keys") -> None:
    """The first key not in `allowed` becomes an error naming its line and the nearest allowed key."""
    for key in data:
        if key not in allowed:
            raise declaration_error(path, [*prefix, str(key)], f"unknown key '{key}'",
                                    f"{suggest(str(key), allowed)}{kind}: {', '.join(allowed)}")


def dump_yaml(value: Any) -> str:
    return yaml.safe_dump(value, sort_keys=False, default_flow_style=False, allow_unicode=True)
