"""The end-to-end canary: a `test.periodic` event from the device `canary`, every interval.

It goes the whole way a real event goes (outbox, link, broker, hub, database), so the
hub's `canary` absence rule can tell a broken path from a quiet site: when the canary
stops arriving, something between this agent and the hub's database is broken, even if
every part reports itself up. It travels in lane P2 (periodic tests), so an outbox that
is shedding drops it first, which the hub then sees too.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Self

from agent.errors import EventShed, OutboxError
from agent.outbox import Draft
from wire import EventType, Kind

if TYPE_CHECKING:
    from types import TracebackType

    from agent.config import CanaryConfig
    from agent.outbox import Outbox

__all__ = ["DRIVER", "Canary"]

logger = logging.getLogger(__name__)

DRIVER = "canary"


class Canary:
    """Appends the canary event every `config.interval_s` while entered (task `canary`)."""

    def __init__(self, config: CanaryConfig, outbox: Outbox) -> None:
        self._config = config
        self._outbox = outbox
        self._task: asyncio.Task[None] | None = None
        self.sent = 0
        self.failed = 0

    async def _run(self) -> None:
        config = self._config
        while True:
            await asyncio.sleep(config.interval_s)
            draft = Draft(
                device=config.device,
                kind=Kind.PANEL,
                type=EventType.TEST_PERIODIC,
                source={"driver": DRIVER},
                data={"canary": True, "interval_s": config.interval_s},
            )
            try:
                await self._outbox.append(draft)
            except (EventShed, OutboxError) as exc:
                # The hub notices the missing canary; that is the point of it.
                logger.warning("canary not stored: %s", exc)
                self.failed += 1
                continue
            self.sent += 1

    async def __aenter__(self) -> Self:
        self._task = asyncio.create_task(self._run(), name="canary")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
