"""YAML files read with their node tree kept, so that a key can be traced to its line."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import yaml

from agent.errors import ConfigError, ConfigProblem

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["YamlDocument", "read_yaml"]


@dataclass(frozen=True, slots=True)
class YamlDocument:
    """The data of a YAML document and its node tree (`None` for an empty file)."""

    data: object
    root: yaml.Node | None

    def line_of(self, loc: tuple[str | int, ...]) -> int | None:
        """The 1-based line of the key at `loc`, or of its nearest present ancestor.

        A key's line is where the key is written (a nested section starts on the next
        line); a list item's line is where the item starts.
        """
        node, mark = self.root, None if self.root is None else self.root.start_mark
        for step in loc:
            found = None if node is None else _child(node, step)
            if found is None:
                break
            node, mark = found
        return None if mark is None else mark.line + 1


def _child(node: yaml.Node, step: str | int) -> tuple[yaml.Node, yaml.Mark] | None:
    """The node at `step` under `node`, with the mark of the key (or list item) naming it."""
    match node, step:
        case yaml.MappingNode(), str():
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode) and key.value == step:
                    return value, key.start_mark
        case yaml.SequenceNode(), int() if 0 <= step < len(node.value):
            item: yaml.Node = node.value[step]
            return item, item.start_mark
    return None


def _repeated_keys(node: yaml.Node | None, path: str = "") -> list[ConfigProblem]:
    """Keys given twice in one mapping: PyYAML keeps the last silently; we refuse."""
    problems: list[ConfigProblem] = []
    match node:
        case yaml.MappingNode():
            seen: dict[str, int] = {}
            for key, value in node.value:
                name = key.value if isinstance(key, yaml.ScalarNode) else "?"
                line = key.start_mark.line + 1
                dotted = f"{path}.{name}" if path else name
                if name in seen:
                    reason = f"key repeats the one on line {seen[name]}"
                    problems.append(ConfigProblem(line=line, key=dotted, reason=reason))
                seen.setdefault(name, line)
                problems += _repeated_keys(value, dotted)
        case yaml.SequenceNode():
            for index, item in enumerate(node.value):
                problems += _repeated_keys(item, f"{path}[{index}]")
    return problems


def read_yaml(path: Path, name: str) -> YamlDocument:
    """Parse the YAML file at `path` (named `name` in messages); `ConfigError` if unusable."""
    root: yaml.Node | None = None
    data: object = None
    text, problem = _read_text(path)
    if problem is None:
        root, data, problem = _parse(text)
    # Raised outside any `except`: the low-level errors quote file contents, and must
    # not ride along as the `__context__` of what gets logged.
    if problem is not None:
        raise ConfigError(name, (problem,))
    repeated = _repeated_keys(root)
    if repeated:
        raise ConfigError(name, tuple(repeated))
    return YamlDocument(data=data, root=root)


def _read_text(path: Path) -> tuple[str, ConfigProblem | None]:
    try:
        return path.read_text(encoding="utf-8"), None
    except FileNotFoundError:
        return "", ConfigProblem(None, None, "no such file")
    except UnicodeDecodeError as exc:
        return "", ConfigProblem(None, None, f"not UTF-8 text (byte {exc.start})")
    except OSError as exc:
        return "", ConfigProblem(None, None, f"cannot be read: {exc.strerror or exc}")


def _parse(text: str) -> tuple[yaml.Node | None, object, ConfigProblem | None]:
    """The root node and data of `text`, or the problem that stops it being YAML."""
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        return root, None if root is None else loader.construct_document(root), None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = None if mark is None else mark.line + 1
        reason = "; ".join(part for part in (exc.context, exc.problem) if part) or "not YAML"
        return None, None, ConfigProblem(line, None, f"not valid YAML: {reason}")
    except yaml.YAMLError as exc:
        return None, None, ConfigProblem(None, None, f"not valid YAML: {type(exc).__name__}")
    finally:
        loader.dispose()
