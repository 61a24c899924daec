"""Which hub runs each periodic duty: session advisory locks on a connection of its own.

Several hubs share one database (docs/scale.md). Each periodic duty — the rule clock
(durations, absences, escalations, incident notifications), the relay, the webhook
fan-out, event and snapshot retention — is led by one hub: the one holding the duty's
session-level advisory lock (`pg_try_advisory_lock`) on its `Leases` connection. The
holder keeps it round after round; the others try again every round and take it over as
soon as PostgreSQL releases it, which it does when the holder's connection ends (the hub
stopped, was killed, or lost the database). A holder checks its connection every round
(`SELECT 1`): one that broke has lost its locks, and so stands down.

Leading only says who should run a duty: each round still takes the duty's
transaction-scoped lock (`RULES_LOCK`, `RELAY_LOCK`, ...), so two hubs never run a round
at once even while one of them has not noticed yet that it lost its lease, nor when a hub
without leases (an older version) shares the database.

`pg_locks` joined with `pg_stat_activity` shows the holders: the connections are named
`shouwang-hub {hub_id} leases`.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any, Final

import psycopg

if TYPE_CHECKING:
    from hub.health import Duties

__all__ = ["LEASE_KEY_PREFIX", "Leases"]

logger = logging.getLogger(__name__)

LEASE_KEY_PREFIX: Final = "shouwang-lease|"
"""A duty's lease is the advisory lock `hashtextextended(prefix || duty, 0)`."""

_TRY: Final = "SELECT pg_try_advisory_lock(hashtextextended(%s, 0))"
_UNLOCK: Final = "SELECT pg_advisory_unlock(hashtextextended(%s, 0))"


class Leases:
    """This hub's leases on the periodic duties, on one dedicated connection."""

    def __init__(
        self, url: str, *, hub_id: str, duties: Duties, connect_timeout_s: float = 5.0
    ) -> None:
        self._url = url
        self._name = f"shouwang-hub {hub_id} leases"[:63]
        self._timeout_s = connect_timeout_s
        self.duties = duties
        self._conn: psycopg.AsyncConnection[Any] | None = None
        self._held: set[str] = set()
        self._lock = asyncio.Lock()

    async def _connection(self) -> psycopg.AsyncConnection[Any]:
        if self._conn is None or self._conn.closed:
            self._held.clear()
            self._conn = await psycopg.AsyncConnection.connect(
                self._url,
                autocommit=True,
                application_name=self._name,
                connect_timeout=max(1, round(self._timeout_s)),
            )
        return self._conn

    async def _drop(self, why: Exception) -> None:
        """The connection failed: every lease it held is gone with it."""
        if self._held:
            logger.warning("leases %s lost with the database connection: %s", self._held, why)
        self._held.clear()
        if self._conn is not None:
            await self._conn.close()
        self._conn = None

    async def claim(self, duty: str) -> bool:
        """Whether this hub leads `duty` now: keep the lease, or try to take it."""
        async with self._lock:
            try:
                conn = await self._connection()
                if duty in self._held:
                    await conn.execute("SELECT 1")
                    return True
                cursor = await conn.execute(_TRY, [LEASE_KEY_PREFIX + duty])
                row = await cursor.fetchone()
            except psycopg.Error as exc:
                await self._drop(exc)
                self.duties.record(duty, held=False)
                return False
            if row and row[0]:
                self._held.add(duty)
                logger.info("this hub now leads %s", duty)
                return True
            self.duties.record(duty, held=False)
            return False

    def record(self, duty: str, *, held: bool) -> None:
        """How the latest round of `duty` went here (see `hub.health.Duties`)."""
        self.duties.record(duty, held=held)

    async def close(self) -> None:
        """Give every lease up (the others take over at their next round)."""
        async with self._lock:
            conn, self._conn = self._conn, None
            if conn is None:
                return
            try:
                for duty in sorted(self._held):
                    await conn.execute(_UNLOCK, [LEASE_KEY_PREFIX + duty])
            except psycopg.Error as exc:
                logger.warning("leases not released (they end with the connection): %s", exc)
            finally:
                self._held.clear()
                await conn.close()
