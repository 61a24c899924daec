"""The errors the agent raises at its boundaries.

::

    Exception
     └── AgentError            something keeps the agent from starting or running
          ├── ConfigError      the config file is missing, is not YAML, or is not a valid
          │                    config; carries `file` and `problems` (line, key, reason);
          │                    `python -m agent run` exits with code 2
          ├── OutboxError      the outbox database cannot be opened, read or written
          ├── EventShed        the outbox is full and shed the incoming event itself
          │                    (counted in its lane's `shed`); the device is told so
          └── DriverError      a driver cannot start (its port is taken, say)

Losing the broker is not an error: the link retries for ever. A device sending a bad
request is not an error either: its driver answers it (HTTP 4xx) and carries on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from wire import Lane

__all__ = [
    "AgentError",
    "ConfigError",
    "ConfigProblem",
    "DriverError",
    "EventShed",
    "OutboxError",
]


class AgentError(Exception):
    """Something keeps the agent from starting or running."""


@dataclass(frozen=True, slots=True)
class ConfigProblem:
    """One thing wrong with a config file: where (1-based line, dotted key) and why."""

    line: int | None
    key: str | None
    reason: str

    def render(self, file: str) -> str:
        """`file:line: key: reason`, leaving out what is unknown."""
        where = file if self.line is None else f"{file}:{self.line}"
        return (
            f"{where}: {self.reason}" if self.key is None else f"{where}: {self.key}: {self.reason}"
        )


class ConfigError(AgentError):
    """A config file the agent cannot start with; the message has one line per problem.

    `file`, `line`, `key` and `reason` describe the first problem; `problems` has them all.
    """

    def __init__(self, file: str, problems: tuple[ConfigProblem, ...]) -> None:
        if not problems:
            message = "a ConfigError needs at least one problem"
            raise ValueError(message)
        super().__init__("\n".join(problem.render(file) for problem in problems))
        self.file = file
        self.problems = problems

    @property
    def line(self) -> int | None:
        """The line of the first problem (1-based), if known."""
        return self.problems[0].line

    @property
    def key(self) -> str | None:
        """The key of the first problem (`devices[1].token`), if any."""
        return self.problems[0].key

    @property
    def reason(self) -> str:
        """What is wrong in the first problem."""
        return self.problems[0].reason


class OutboxError(AgentError):
    """The outbox database cannot be opened, read or written."""


class EventShed(AgentError):  # noqa: N818 - an outcome the device is told, not a fault
    """The outbox is full: the incoming event was shed (not stored) and counted.

    Only P1 and P2 events are ever shed; `lane` is the event's lane.
    """

    def __init__(self, lane: Lane, size: int) -> None:
        super().__init__(
            f"the outbox is full: this {lane.label} event ({size} bytes) was shed, not stored"
        )
        self.lane = lane
        self.size = size


class DriverError(AgentError):
    """A driver cannot start."""
