"""The one shape of the hub's long-lived parts: a named task in the hub's task group."""

import asyncio
from types import TracebackType
from typing import ClassVar, Self

__all__ = ["BackgroundLoop"]


class BackgroundLoop:
    """A part of the hub whose `_run` loop is a named task of the hub's task group.

    Entering starts the task; leaving cancels it and waits until it has finished, so a
    part never outlives its `async with`. A task that fails fails the whole task group
    (see `hub.runtime`), which is how one broken part stops the hub loudly.
    """

    task_name: ClassVar[str]

    def __init__(self, tasks: asyncio.TaskGroup) -> None:
        self._tasks = tasks
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        self._task = self._tasks.create_task(self._run(), name=self.task_name)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.wait([self._task])
