"""Reading a rules file into a `RuleSet`, the compiled rules the hub runs.

A file that does not validate raises `RulesError` listing every problem as
`file:line: key: reason`; the hub refuses to start on it, and a reload (SIGHUP) that
fails keeps the rules it had.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib.resources import files
from typing import TYPE_CHECKING

from pydantic import ValidationError

from hub._yaml import YamlError, compose, describe
from hub.errors import HubError
from hub.rules.absence import Absence
from hub.rules.correlation import Correlation
from hub.rules.count import Count
from hub.rules.duration import Duration
from hub.rules.immediate import Immediate
from hub.rules.model import (
    AbsenceRule,
    CorrelationRule,
    CountRule,
    DurationRule,
    ImmediateRule,
    Link,
    RuleFile,
)

if TYPE_CHECKING:
    from pathlib import Path

    from hub.rules.model import AnyRule

__all__ = ["DEFAULTS", "RuleSet", "RulesError", "default_rules", "load_rules", "parse_rules"]

DEFAULTS = "defaults.yaml"
"""The rules shipped with the hub (`hub/rules/defaults.yaml`), used when none is named."""


class RulesError(HubError):
    """A rules file that cannot be read or does not validate."""


@dataclass(frozen=True)
class RuleSet:
    """The rules of one file, compiled, with where they came from."""

    source: str
    rules: tuple[AnyRule, ...]
    links: tuple[Link, ...] = ()
    immediate: tuple[Immediate, ...] = field(default=(), repr=False)
    duration: tuple[Duration, ...] = field(default=(), repr=False)
    absence: tuple[Absence, ...] = field(default=(), repr=False)
    correlation: tuple[Correlation, ...] = field(default=(), repr=False)
    count: tuple[Count, ...] = field(default=(), repr=False)

    @classmethod
    def of(cls, source: str, document: RuleFile) -> RuleSet:
        """Compile the rules of a validated file."""
        rules = document.rules
        links = frozenset(
            pair
            for link in document.links
            for other in link.to
            for pair in ((link.site, link.device, other), (link.site, other, link.device))
        )
        return cls(
            source=source,
            rules=rules,
            links=document.links,
            immediate=tuple(Immediate(r) for r in rules if isinstance(r, ImmediateRule)),
            duration=tuple(Duration(r) for r in rules if isinstance(r, DurationRule)),
            absence=tuple(Absence(r) for r in rules if isinstance(r, AbsenceRule)),
            correlation=tuple(
                Correlation(r, links) for r in rules if isinstance(r, CorrelationRule)
            ),
            count=tuple(Count(r) for r in rules if isinstance(r, CountRule)),
        )

    @property
    def inhibitors(self) -> tuple[str, ...]:
        """The rules whose open alert mutes its site's device alerts."""
        return tuple(
            r.name for r in self.rules if isinstance(r, AbsenceRule) and r.inhibits_devices
        )

    def get(self, name: str) -> AnyRule | None:
        """The rule called `name`, if there is one."""
        return next((r for r in self.rules if r.name == name), None)


def parse_rules(text: str, *, source: str) -> RuleSet:
    """Validate the YAML `text` of a rules file; `RulesError` lists every problem."""
    try:
        raw, lines = compose(text, source)
    except YamlError as exc:
        raise RulesError(str(exc)) from exc
    if not isinstance(raw, dict):
        message = f"{source}:1: a rules file is a mapping with one key, `rules`"
        raise RulesError(message)
    try:
        document = RuleFile.model_validate(raw)
    except ValidationError as exc:
        tags = ("immediate", "duration", "absence", "correlation", "count")
        problems = "\n".join(describe(error, source, lines, tags=tags) for error in exc.errors())
        raise RulesError(f"invalid rules:\n{problems}") from exc
    return RuleSet.of(source, document)


def load_rules(path: Path) -> RuleSet:
    """Read and validate the rules file at `path`."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RulesError(f"{path}: cannot read the rules: {exc}") from exc
    return parse_rules(text, source=str(path))


def default_rules() -> RuleSet:
    """The rules shipped with the hub."""
    text = files("hub.rules").joinpath(DEFAULTS).read_text(encoding="utf-8")
    return parse_rules(text, source=f"hub/rules/{DEFAULTS}")
