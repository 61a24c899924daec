"""What `check` prints: one row per thing probed, its verdict and the specific reason."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["Row", "Verdict", "render"]

_WIDTHS: Final = (10, 34, 6)


class Verdict(StrEnum):
    """How a probe went: `ok`, `warn` (works, but look at it) or `FAIL`."""

    OK = "ok"
    WARN = "warn"
    FAIL = "FAIL"


@dataclass(frozen=True, slots=True)
class Row:
    """One line of the table: what was checked, where, the verdict and why."""

    check: str
    target: str
    verdict: Verdict
    detail: str

    @classmethod
    def ok(cls, check: str, target: str, detail: str) -> Row:
        """A probe that worked."""
        return cls(check, target, Verdict.OK, detail)

    @classmethod
    def warn(cls, check: str, target: str, detail: str) -> Row:
        """A probe that worked with something to look at."""
        return cls(check, target, Verdict.WARN, detail)

    @classmethod
    def fail(cls, check: str, target: str, detail: str) -> Row:
        """A probe that failed, with the specific reason."""
        return cls(check, target, Verdict.FAIL, detail)


def render(rows: Sequence[Row]) -> str:
    """The rows as a fixed-width table with a header and a closing summary line."""
    header = ("CHECK", "TARGET", "RESULT", "DETAIL")
    lines = [_line(header)]
    lines += [_line((r.check, r.target, r.verdict.value, r.detail)) for r in rows]
    failed = sum(r.verdict is Verdict.FAIL for r in rows)
    warned = sum(r.verdict is Verdict.WARN for r in rows)
    lines.append(f"{len(rows)} checked: {failed} failed, {warned} warnings")
    return "\n".join(lines) + "\n"


def _line(cells: tuple[str, str, str, str]) -> str:
    check, target, verdict, detail = cells
    target = target if len(target) <= _WIDTHS[1] else target[: _WIDTHS[1] - 1] + "…"
    return (
        f"{check:<{_WIDTHS[0]}} {target:<{_WIDTHS[1]}} {verdict:<{_WIDTHS[2]}}  {detail}".rstrip()
    )
