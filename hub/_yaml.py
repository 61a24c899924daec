"""YAML read with the line of every key, and pydantic errors told as `file:line: key: why`.

The hub's configuration and its rules files both fail fast with the file, the line, the
key and the value (never a secret's).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

import yaml

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

__all__ = ["Lines", "YamlError", "compose", "describe"]

Lines = dict[tuple[str | int, ...], int]
_SCALARS: Final = (str, int, float, bool)


class YamlError(ValueError):
    """Text that is not YAML, with where and why (`str()` is the one-line message)."""


def _to_python(node: yaml.Node, path: tuple[str | int, ...], lines: Lines) -> object:
    """The plain value of a composed YAML `node`, recording each key's line in `lines`."""
    lines[path] = node.start_mark.line + 1
    match node:
        case yaml.MappingNode():
            result: dict[object, object] = {}
            for key_node, value_node in node.value:
                key = yaml.safe_load(yaml.serialize(key_node))
                result[key] = _to_python(value_node, (*path, key), lines)
                # A key's error points at the key, not at where its value starts.
                lines[(*path, key)] = key_node.start_mark.line + 1
            return result
        case yaml.SequenceNode():
            return [_to_python(item, (*path, i), lines) for i, item in enumerate(node.value)]
        case _:
            return yaml.safe_load(yaml.serialize(node))


def compose(text: str, source: str) -> tuple[object, Lines]:
    """The data of the YAML `text` and the line of each key path; `YamlError` if invalid."""
    lines: Lines = {}
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark is not None else source
        problem = getattr(exc, "problem", None) or str(exc)
        raise YamlError(f"{where}: not valid YAML: {problem}") from exc
    return (None if node is None else _to_python(node, (), lines)), lines


def _line_of(loc: tuple[str | int, ...], lines: Lines) -> int | None:
    """The line of the deepest known key along `loc`."""
    for end in range(len(loc), -1, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return None


def describe(
    error: Mapping[str, Any],
    source: str,
    lines: Lines,
    *,
    secret_keys: Iterable[str] = (),
    tags: Iterable[str] = (),
    hint: str = "",
) -> str:
    """One pydantic error as `file:line: key: message (got value)`; a value under a key
    of `secret_keys` is never shown, nor any non-scalar (it could hold one).

    `tags` are the values of a tagged union's discriminator: pydantic puts the tag in the
    location (`rules.0.immediate.match`), where the file has no such key; it is dropped.
    """
    drop = set(tags)
    loc: tuple[str | int, ...] = ()
    for part in error["loc"]:
        if isinstance(part, str | int) and not (part in drop and (*loc, part) not in lines):
            loc = (*loc, part)
    key = ".".join(str(part) for part in loc) or "(top level)"
    line = _line_of(loc, lines)
    where = f"{source}:{line}" if line is not None else source
    message = str(error["msg"]).removeprefix("Value error, ") + hint
    value = error.get("input")
    shown = ""
    if isinstance(value, _SCALARS) and not set(secret_keys).intersection(map(str, loc)):
        text = repr(value)
        shown = f" (got {text[:80]}{'…' if len(text) > 80 else ''})"
    return f"{where}: {key}: {message}{shown}"
