"""envlock's block YAML writer gives PyYAML's text, byte for byte, for any document it is given."""

from __future__ import annotations

import random
import string
from typing import Any

import pytest

from envlock import blockyaml
from envlock.lockfile import conda_lock_metadata, conda_lock_packages, read_lock
from tests.test_lockfile_writer import ROOT

# Strings YAML treats specially: booleans and nulls of YAML 1.1, numbers, dates, indicators,
# quotes, line breaks, non-ASCII and control characters, and lengths near the folding width.
AWKWARD = [
    "", " a", "a ", "yes", "No", "OFF", "on", "y", "n", "~", "null", "NULL", "1", "01", "1.0", "3.10", "1e3",
    "1.0e+3", "0x1F", "0o17", "1:30", "1_000", "2024-01-01", "2024-01-01 10:00:00", ">=1", "<2", "*", "- a", "-a",
    "a: b", "a:b", "a:", ":a", "a #b", "a#b", "#a", "it's", '"q"', "ü", "Ünicode", "\t", "a\tb", "a\nb", "\n", "=",
    "<<", "%x", "@x", "`x", "!x", "&x", "[x]", "{x}", "|", ">", "?", "? a", ",", "a,b", "x" * 130, "x " * 250,
    "h" * 399, "h" * 401, ".inf", ".nan", "+1", "-1", ".5", "True", "tRUE", "---", "...", "3.10.* *_cp310",
    ">=1.2,<2.0a0", "  ", "\x00", "\x85", "\u2028", "a\rb", "_x", "a=b", "a~b", "a%b", "a@b", "A:B:C", "a::b",
    "http://u:p@h:1/x", "0", "0.0.1", "d41d8cd98f00b204e9800998ecf8427e", "12345678901234567890123456789012",
]


def awkward_string(rng: random.Random) -> str:
    if rng.random() < 0.6:
        return rng.choice(AWKWARD)
    return "".join(rng.choice(string.printable[:95] + "üé") for _ in range(rng.randint(0, 12)))


def awkward_value(rng: random.Random, depth: int = 0) -> Any:
    roll = rng.random()
    if depth > 3 or roll < 0.45:
        return awkward_string(rng) if rng.random() < 0.8 else rng.choice([None, True, False, 0, 1, 42, -3, 1.5])
    if roll < 0.75:
        return {awkward_string(rng) or "k": awkward_value(rng, depth + 1) for _ in range(rng.randint(0, 4))}
    return [awkward_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]


def handed_to_pyyaml(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """What blockyaml hands to PyYAML from now on (the test's own record of it)."""
    handed: list[Any] = []
    real = blockyaml.pyyaml_dump

    def recorded(data: Any) -> str:
        handed.append(data)
        return real(data)

    monkeypatch.setattr(blockyaml, "pyyaml_dump", recorded)
    return handed


def test_any_document_is_written_as_pyyaml_writes_it(monkeypatch: pytest.MonkeyPatch) -> None:
    real = blockyaml.pyyaml_dump
    whole = handed_to_pyyaml(monkeypatch)
    rng = random.Random(20261127)
    documents = [{awkward_string(rng) or "k": awkward_value(rng) for _ in range(rng.randint(1, 5))}
                 for _ in range(4000)]
    for document in documents:
        assert blockyaml.dump(document) == real(document), document
    handed_over = sum(1 for data in whole if isinstance(data, dict))
    assert 0 < handed_over < len(documents) * 0.7  # most documents are laid out here, the odd ones by PyYAML


@pytest.mark.parametrize("name", ["training", "gpu-train"])
def test_a_real_lock_is_laid_out_without_pyyaml_representing_it(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    lock = read_lock(name, ROOT / "environments" / name)
    assert lock is not None
    document = {"version": 1, "metadata": conda_lock_metadata(lock, {"envlock.version": "0"}),
                "package": conda_lock_packages(lock)}
    expected = blockyaml.pyyaml_dump(document)
    whole = handed_to_pyyaml(monkeypatch)
    assert blockyaml.dump(document) == expected
    assert all(isinstance(data, list) for data in whole)  # only the strings it does not write plain itself


def test_types_pyyaml_refuses_are_refused_the_same_way() -> None:
    import collections

    import yaml

    for odd in (collections.OrderedDict(a=1), (1, 2), {"a": 1.5}, {"a": [[1]]}, {"k": b"bytes"}):
        document = odd if isinstance(odd, dict) else {"k": odd}
        try:
            expected: str | type[Exception] = blockyaml.pyyaml_dump(document)
        except yaml.YAMLError as exc:
            expected = type(exc)
        try:
            got: str | type[Exception] = blockyaml.dump(document)
        except yaml.YAMLError as exc:
            got = type(exc)
        assert got == expected, odd


def test_what_pyyaml_writes_differently_goes_to_pyyaml() -> None:
    shared: dict[str, Any] = {"x": 1}
    looped: dict[str, Any] = {}
    looped["self"] = looped
    for document in (
        {"é" * 65: 1},  # 130 bytes: libyaml writes it as a complex key
        {"k" * 100: "\x01" * 230 + " x"},  # folded at a space past column 1000
        {"a": shared, "b": shared},  # anchor and alias
        {"a": [], "b": {"c": []}},
        looped,
    ):
        assert blockyaml.dump(document) == blockyaml.pyyaml_dump(document)
