"""The hub's own status, retained on `shouwang/v1/_hub/status`: the watcher is watched.

The LWT (set on the connection) says `offline`; after every connection the link
publishes `online` (its birth message); `StatusPublisher` republishes it every
`status_interval_s` with the liveness of ingest, rules and relay, and on a clean
shutdown publishes `offline` with the reason `shutdown` before disconnecting.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Final

from hub._loop import BackgroundLoop
from hub.errors import BrokerUnavailable
from wire import HubStatus, Presence, encode, format_time

if TYPE_CHECKING:
    from types import TracebackType

    from hub.health import Health
    from hub.mqtt import MqttLink

__all__ = ["StatusPublisher", "StatusReport"]

logger = logging.getLogger(__name__)

_SHUTDOWN_PUBLISH_S: Final = 5.0
WILL_REASON: Final = "connection to the broker lost"


def _now() -> str:
    return format_time(datetime.now(UTC))


class StatusReport:
    """Builds this hub's status payloads."""

    def __init__(self, *, hub_id: str, version: str, health: Health) -> None:
        self._hub_id = hub_id
        self._version = version
        self._health = health
        self._started_at = _now()

    def payload(self, state: Presence, reason: str | None = None) -> bytes:
        """The encoded hub status now."""
        return encode(
            HubStatus(
                v=1,
                hub=self._hub_id,
                state=state,
                reason=reason,
                version=self._version,
                started_at=self._started_at,
                clock=_now(),
                components=self._health.components(),
            )
        )


class StatusPublisher(BackgroundLoop):
    """Republishes the hub status every `interval_s` (task `status`); offline on exit."""

    task_name = "status"

    def __init__(
        self,
        *,
        report: StatusReport,
        link: MqttLink,
        topic: str,
        interval_s: float,
        tasks: asyncio.TaskGroup,
    ) -> None:
        self._report = report
        self._link = link
        self._topic = topic
        self._interval_s = interval_s
        super().__init__(tasks)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await super().__aexit__(exc_type, exc, tb)
        # Cancelled from outside means another part of the hub failed (see hub.runtime).
        reason = "shutdown" if exc_type is None else "stopped on an error"
        with contextlib.suppress(BrokerUnavailable, TimeoutError):
            async with asyncio.timeout(_SHUTDOWN_PUBLISH_S):
                await self._link.publish(
                    self._topic, self._report.payload(Presence.OFFLINE, reason), retain=True
                )

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval_s)
            try:
                await self._link.publish(
                    self._topic, self._report.payload(Presence.ONLINE), retain=True
                )
            except BrokerUnavailable as exc:
                logger.warning("hub status not published: %s", exc)
