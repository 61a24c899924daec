"""The agent as a whole: its outbox, its drivers and its link, started and stopped in order.

Start: the outbox (nothing can be accepted before it is open), then the drivers (so
that the first status already reports them), then the link. Stop in reverse: the link
says `offline` and disconnects, the drivers stop taking events, the outbox closes.
Each part is an async context manager owning its own tasks; a part whose task fails
(the outbox failing under the link, say) cancels the agent, which then stops in order
and raises that failure.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Self

import wire
from agent._version import VERSION
from agent.canary import Canary
from agent.drivers.camera import Cameras, SnapshotSpool, publish_snapshots
from agent.drivers.http import DRIVER as HTTP_DRIVER
from agent.drivers.http import HttpPushServer
from agent.drivers.modbus import ModbusPoller
from agent.drivers.sia import SiaReceiver
from agent.errors import AgentError, DriverError
from agent.link import Link
from agent.outbox import Bounds, Outbox
from agent.state import StateBoard

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine, Mapping
    from types import TracebackType

    import aiomqtt

    from agent.config import AgentConfig, OutboxConfig

__all__ = ["Agent", "run_agent"]

logger = logging.getLogger(__name__)

_NOT_RUNNING = "the agent is not running"


class Agent:
    """A running agent, as an async context manager (start on entry, stop on exit)."""

    def __init__(self, config: AgentConfig) -> None:
        self._config = config
        self._stack: contextlib.AsyncExitStack | None = None
        self._outbox: Outbox | None = None
        self._http: HttpPushServer | None = None
        self._sia: SiaReceiver | None = None
        self._modbus: ModbusPoller | None = None
        self._cameras: Cameras | None = None
        self._spool: SnapshotSpool | None = None
        self._link: Link | None = None
        self._states = StateBoard(config.site, capacity=len(config.devices))

    async def __aenter__(self) -> Self:
        config = self._config
        started_at = datetime.now(UTC)
        async with contextlib.AsyncExitStack() as stack:
            self._outbox = await stack.enter_async_context(
                Outbox(
                    config.outbox.path,
                    site=config.site,
                    lock_timeout_s=config.outbox.lock_timeout_s,
                    bounds=_bounds(config.outbox),
                )
            )
            if any(device.driver == HTTP_DRIVER for device in config.devices):
                self._http = await stack.enter_async_context(
                    HttpPushServer(config.http, config.devices, self._outbox)
                )
            if config.canary.enabled:
                await stack.enter_async_context(Canary(config.canary, self._outbox))
            if config.sia is not None:
                self._sia = await stack.enter_async_context(
                    SiaReceiver(config.sia, config.devices, self._outbox)
                )
            if config.modbus is not None:
                self._modbus = await stack.enter_async_context(
                    ModbusPoller(config.modbus, config.devices, self._outbox, states=self._states)
                )
            if config.camera is not None:
                spool_dir = config.camera.snapshot_dir or config.outbox.path.with_name(
                    config.outbox.path.name + ".snapshots"
                )
                try:
                    self._spool = SnapshotSpool(
                        spool_dir, max_files=config.camera.snapshot_max_files
                    )
                except OSError as exc:
                    message = f"camera: cannot use the snapshot directory {spool_dir}: {exc}"
                    raise DriverError(message) from exc
                self._cameras = await stack.enter_async_context(
                    Cameras(config.camera, config.devices, self._outbox, spool=self._spool)
                )
            self._link = await stack.enter_async_context(
                Link(
                    config,
                    self._outbox,
                    version=VERSION,
                    started_at=started_at,
                    drivers=self._driver_health,
                    states=self._states,
                    publishers=self._publishers(),
                )
            )
            self._stack = stack.pop_all()
        logger.info("agent %s for site %s started", VERSION, config.site)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        stack, self._stack = self._stack, None
        if stack is None:
            return None
        try:
            return await stack.__aexit__(exc_type, exc, tb)
        finally:
            logger.info("agent for site %s stopped", self._config.site)

    @property
    def outbox(self) -> Outbox:
        """The agent's outbox."""
        if self._outbox is None:
            raise AgentError(_NOT_RUNNING)
        return self._outbox

    @property
    def http(self) -> HttpPushServer | None:
        """The HTTP push driver, when some device uses it."""
        return self._http

    @property
    def sia(self) -> SiaReceiver | None:
        """The SIA DC-09 receiver, when the config has a `sia` section."""
        return self._sia

    @property
    def modbus(self) -> ModbusPoller | None:
        """The Modbus TCP poller, when the config has a `modbus` section."""
        return self._modbus

    @property
    def cameras(self) -> Cameras | None:
        """The camera driver, when the config has a `camera` section."""
        return self._cameras

    @property
    def states(self) -> StateBoard:
        """The latest state of each device, which the link publishes retained."""
        return self._states

    @property
    def link(self) -> Link:
        """The agent's MQTT link."""
        if self._link is None:
            raise AgentError(_NOT_RUNNING)
        return self._link

    def _publishers(self) -> list[Callable[[aiomqtt.Client], Coroutine[Any, Any, None]]]:
        """What the link publishes besides events and states: camera snapshots."""
        spool = self._spool
        if spool is None:
            return []
        topics = wire.TopicSpace(self._config.mqtt.topic_prefix)
        site = self._config.site

        def snapshots(client: aiomqtt.Client) -> Coroutine[Any, Any, None]:
            return publish_snapshots(client, spool, topics, site)

        return [snapshots]

    def _driver_health(self) -> Mapping[str, wire.DriverHealth]:
        drivers: dict[str, wire.DriverHealth] = {}
        if self._http is not None:
            drivers[HTTP_DRIVER] = self._http.health()
        if self._sia is not None:
            drivers["sia"] = self._sia.health()
        if self._modbus is not None:
            drivers["modbus"] = self._modbus.health()
        if self._cameras is not None:
            drivers["camera"] = self._cameras.health()
        return drivers


def _bounds(config: OutboxConfig) -> Bounds:
    """The lane bounds the outbox section gives."""
    return Bounds(
        max_bytes=config.max_bytes,
        p0_reserve_bytes=config.p0_reserve_bytes,
        p1_max_rows=config.p1_max_rows,
        p1_max_bytes=config.p1_max_bytes,
        p2_max_rows=config.p2_max_rows,
        p2_max_bytes=config.p2_max_bytes,
    )


async def run_agent(config: AgentConfig) -> None:
    """Run an agent until SIGINT or SIGTERM, then stop it cleanly."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    signals = (signal.SIGINT, signal.SIGTERM)
    for signum in signals:
        loop.add_signal_handler(signum, stop.set)
    try:
        async with Agent(config):
            await stop.wait()
            logger.info("agent: stop requested")
    finally:
        for signum in signals:
            loop.remove_signal_handler(signum)
