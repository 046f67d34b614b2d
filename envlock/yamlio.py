"""YAML reading for declarations: fast, bounded loading, and line numbers looked up only for errors.

Every file a user gives envlock is read through `read_text`: a size limit, UTF-8 with the
line of a bad byte named. YAML loading counts nodes with aliases expanded, so an alias bomb of
a few hundred bytes is refused instead of expanding into gigabytes downstream.
"""

from __future__ import annotations

import stat
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from envlock.errors import DeclarationError
from envlock.fileread import read_regular

# libyaml's loader when PyYAML was built with it: several times faster (check reads every file).
_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

KeyPath = Sequence[str | int]


# Declarations and job files are small; locks of big environments for several platforms are not.
MAX_FILE_BYTES = 2 * 1024 * 1024
MAX_LOCK_BYTES = 32 * 1024 * 1024
# Nodes in a document with every alias expanded: far above any real declaration or lock.
MAX_YAML_NODES = 500_000


def read_bytes(path: Path, limit: int = MAX_FILE_BYTES) -> bytes:
    """A user's file; missing, unreadable or larger than `limit` is a DeclarationError."""
    try:
        status, data = read_regular(path, limit + 1)
    except FileNotFoundError:
        raise DeclarationError(path, "file not found", fix="create it or correct the path") from None
    except IsADirectoryError:
        raise DeclarationError(path, "is a folder, not a file", fix="name a file") from None
    except OSError as exc:
        raise _unreadable(path, exc) from None
    if stat.S_ISDIR(status.st_mode):
        raise DeclarationError(path, "is a folder, not a file", fix="name a file")
    if not stat.S_ISREG(status.st_mode):  # a pipe, a device (/dev/zero never ends), a socket
        raise DeclarationError(path, "is not a regular file (a pipe, device or socket)",
                               fix="replace it with the YAML file, or remove it")
    if len(data) > limit:
        raise DeclarationError(path, f"is larger than {limit // (1024 * 1024)} MB, more than envlock reads "
                               "from such a file", fix="check that this is the right file; split or shrink it")
    return data


def _unreadable(path: Path, error: OSError) -> DeclarationError:
    return DeclarationError(path, f"cannot be read: {error.strerror or error}", fix="check the file's permissions")


def read_text(path: Path, limit: int = MAX_FILE_BYTES) -> str:
    """A user's text file as UTF-8 with LF line endings; too big, unreadable or not UTF-8 is a DeclarationError."""
    return decode_text(path, read_bytes(path, limit))


def decode_text(path: Path, data: bytes) -> str:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise DeclarationError(path, f"is not UTF-8 text (byte 0x{data[exc.start]:02x})", line=line,
                               fix="save the file as UTF-8") from None
    # str.replace scans at a fraction of bytes' speed: most files have no CR to find
    return text.replace("\r\n", "\n") if b"\r" in data else text


def parse_yaml(text: str, path: Path | str) -> Any:
    """YAML text to data, refusing documents whose aliases expand past MAX_YAML_NODES."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        if "&" in text:  # without an anchor there is no alias to expand
            _check_expanded_size(node, path)
        return loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else None
        raise DeclarationError(
            path, f"invalid YAML: {exc.problem}", line=line, fix="correct the YAML syntax"
        ) from None
    except yaml.YAMLError as exc:
        raise DeclarationError(path, f"invalid YAML: {exc}", fix="correct the YAML syntax") from None
    except RecursionError:
        raise DeclarationError(path, "YAML nested too deeply", fix="flatten the document") from None
    finally:
        loader.dispose()


def _check_expanded_size(root: yaml.Node, path: Path | str) -> None:
    sizes: dict[int, int] = {}
    active: set[int] = set()

    def size(node: yaml.Node) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in active:
            raise DeclarationError(path, "a YAML alias refers to its own anchor (a recursive document)",
                                   line=node.start_mark.line + 1, fix="remove the recursive alias")
        active.add(key)
        total = 1
        if isinstance(node, yaml.SequenceNode):
            total += sum(size(child) for child in node.value)
        elif isinstance(node, yaml.MappingNode):
            total += sum(size(key_node) + size(value) for key_node, value in node.value)
        active.discard(key)
        if total > MAX_YAML_NODES:
            raise DeclarationError(path, f"YAML aliases expand to more than {MAX_YAML_NODES:,} values "
                                   "(an alias bomb?)", line=node.start_mark.line + 1,
                                   fix="write the values out instead of nesting aliases")
        sizes[key] = total
        return total

    size(root)


def load_yaml(path: Path, limit: int = MAX_FILE_BYTES) -> Any:
    """Parse a YAML file; invalid YAML becomes a DeclarationError naming the line."""
    return parse_yaml(read_text(path, limit), path)


def line_of(path: Path, key_path: KeyPath) -> int | None:
    """1-based line of the node at `key_path` (mapping keys and list indexes), if it exists."""
    try:
        node = yaml.compose(read_text(path), Loader=_Loader)
    except (DeclarationError, yaml.YAMLError, RecursionError):
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


def line_of_list_item(path: Path, item: str) -> int | None:
    """1-based line of the first YAML list item or text line that reads exactly `item`."""
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.split(" #")[0].strip().lstrip("-").strip().strip("'\"") == item:
            return number
    return None


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
