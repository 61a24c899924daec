"""The rule clock (task `rules`): time-driven rules, one transaction per round.

Every `tick_s` it runs `hub.rules.tick` at the current time: conditions that have held
for their duration, absences (blind sites, silent canaries, devices that never
reported), escalations of unacknowledged alerts. Under `RULES_LOCK`, one hub at a time
runs a round, so hubs sharing a database never open the same absence alert twice;
everything it reads and writes is in PostgreSQL, so a restarted hub carries on.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

import psycopg

from hub._loop import BackgroundLoop
from hub.backoff import Backoff
from hub.rules.engine import tick

if TYPE_CHECKING:
    from collections.abc import Callable

    from psycopg import AsyncConnection
    from psycopg_pool import AsyncConnectionPool

    from hub.health import Liveness
    from hub.leases import Leases
    from hub.rules.engine import Rules

__all__ = ["RULES_LOCK", "RuleClock"]

logger = logging.getLogger(__name__)

RULES_LOCK: Final = 0x5368_6F75_7275_6C65
"""Advisory lock of a rule-clock round."""


def _utc_now() -> datetime:
    return datetime.now(UTC)


class RuleClock(BackgroundLoop):
    """Runs the time-driven rules every `tick_s` (task `rules`)."""

    task_name = "rules"

    def __init__(
        self,
        *,
        pool: AsyncConnectionPool[AsyncConnection[Any]],
        rules: Rules,
        liveness: Liveness,
        on_transitions: Callable[[], None],
        tasks: asyncio.TaskGroup,
        tick_s: float = 1.0,
        clock: Callable[[], datetime] = _utc_now,
        leases: Leases | None = None,
    ) -> None:
        self._pool = pool
        self._rules = rules
        self._liveness = liveness
        self._on_transitions = on_transitions
        self._tick_s = tick_s
        self._clock = clock
        self._leases = leases
        super().__init__(tasks)

    async def run_once(self) -> int | None:
        """One round now: the transitions written, or None if another hub ran it."""
        if self._leases is not None and not await self._leases.claim("rules"):
            return None  # another hub leads the rule clock
        async with self._pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
            await cur.execute("SELECT pg_try_advisory_xact_lock(%s)", [RULES_LOCK])
            row = await cur.fetchone()
            held = bool(row and row[0])
            if self._leases is not None:
                self._leases.record("rules", held=held)
            if not held:
                return None
            written = await tick(cur, self._rules.current, now=self._clock())
        if written:
            self._on_transitions()
        return written

    async def _run(self) -> None:
        backoff = Backoff(initial=0.5, maximum=30.0)
        self._liveness.beat("started")
        while True:
            try:
                await self.run_once()
            except psycopg.Error as exc:
                self._liveness.trouble(f"rule clock round failed: {exc}")
                logger.warning("rule clock round failed, will retry: %s", exc)
                await asyncio.sleep(backoff.next_delay())
                continue
            backoff.reset()
            self._liveness.beat()
            await asyncio.sleep(self._tick_s)
