"""What drivers made of many units (door controllers, cameras) share: a task pair per
unit under one task group, and a health computed from the units that fail."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Final, Protocol

import wire
from wire import DriverState

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence
    from types import TracebackType

__all__ = ["MAX_DETAIL", "Unit", "UnitTasks", "unit_health"]

MAX_DETAIL: Final = 1024  # the contract's bound on a driver's health detail


class Unit(Protocol):
    """One unit: `run` reads it, `deliver` appends its events to the outbox in order."""

    async def run(self) -> None:
        """Read the unit until cancelled."""

    async def deliver(self) -> None:
        """Append the unit's events until cancelled."""


class UnitTasks:
    """Each unit's `run` (task `{name}`) and `deliver` (`{name}:events`), from `start` to
    `stop`, in one task group: a unit whose task fails fails the driver."""

    def __init__(self) -> None:
        self._tasks: asyncio.TaskGroup | None = None
        self._running: list[asyncio.Task[None]] = []

    @property
    def running(self) -> bool:
        """Whether the tasks are started and not yet stopped."""
        return self._tasks is not None

    async def start(self, units: Iterable[tuple[str, Unit]]) -> None:
        """Start the task pair of every (name, unit)."""
        tasks = asyncio.TaskGroup()
        await tasks.__aenter__()
        self._tasks = tasks
        for name, unit in units:
            self._running.append(tasks.create_task(unit.run(), name=name))
            self._running.append(tasks.create_task(unit.deliver(), name=f"{name}:events"))

    async def stop(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Cancel every task and wait for them (a second call does nothing)."""
        tasks, self._tasks = self._tasks, None
        if tasks is None:
            return
        for task in self._running:
            task.cancel()
        self._running = []
        await tasks.__aexit__(exc_type, exc, tb)


def unit_health(
    total: int, failing: Sequence[str], *, running: bool, ok: str, trouble: str
) -> wire.DriverHealth:
    """`ok` when no unit fails, `degraded` when some do, `down` when all do (or not
    running); the detail names the failing ones, `trouble` saying what is wrong."""
    if not running:
        return wire.DriverHealth(state=DriverState.DOWN, detail="not running")
    if not failing:
        return wire.DriverHealth(state=DriverState.OK, detail=ok)
    state = DriverState.DOWN if len(failing) == total else DriverState.DEGRADED
    detail = f"{len(failing)} of {total} {trouble}: {', '.join(failing)}"
    if len(detail) > MAX_DETAIL:
        detail = detail[: MAX_DETAIL - 1] + "…"
    return wire.DriverHealth(state=state, detail=detail)
