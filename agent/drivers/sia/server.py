"""The SIA DC-09 receiver's sockets: one TCP and one UDP listener for every panel.

`SiaReceiver` is an async context manager: on entry it opens its sequence memory and
starts listening; its connections, datagrams and the supervision loop run as named tasks
in one `asyncio.TaskGroup`; on exit it stops listening, closes every connection (a frame
being stored finishes storing, its ACK may be lost: the panel sends it again and the
sequence memory recognises it) and waits for its tasks.

Bounds: at most `max_connections` TCP connections (more are closed at once), each
closed after `idle_timeout_s` of silence; frames of at most `framing.MAX_FRAME` bytes;
at most `MAX_DATAGRAMS` UDP datagrams being handled at once (more are dropped: the
panel sends again).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Self

import wire
from agent.drivers.sia.dedup import SequenceMemory
from agent.drivers.sia.framing import FrameSplitter
from agent.drivers.sia.receiver import FrameHandler, Tally
from agent.drivers.sia.routing import Routes, presence_draft
from agent.drivers.sia.supervision import Supervisor
from agent.errors import DriverError
from wire import DriverState, EventType

if TYPE_CHECKING:
    from collections.abc import Sequence
    from types import TracebackType

    from agent.config import DeviceConfig
    from agent.drivers.sia.config import SiaConfig
    from agent.outbox import Outbox

__all__ = ["MAX_DATAGRAMS", "Ports", "SiaReceiver"]

logger = logging.getLogger(__name__)

MAX_DATAGRAMS: Final = 1000
_READ: Final = 4096
_SHUTDOWN_S: Final = 5.0


@dataclass(frozen=True, slots=True)
class Ports:
    """The ports listened on (None: that transport is off)."""

    tcp: int | None
    udp: int | None


class _Datagrams(asyncio.DatagramProtocol):
    """Hands each UDP datagram to the receiver."""

    def __init__(self, receiver: SiaReceiver) -> None:
        self._receiver = receiver

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        self._receiver.on_datagram(data, addr)


class SiaReceiver:
    """The SIA DC-09 receiver, as an async context manager: listening from entry to exit."""

    def __init__(self, config: SiaConfig, devices: Sequence[DeviceConfig], outbox: Outbox) -> None:
        self._config = config
        self._outbox = outbox
        self._routes = Routes(config, devices)
        self._supervisor = Supervisor(config.accounts)
        self._memory = SequenceMemory(
            config.state_path,
            window_s=config.dedup_window_s,
            max_entries=config.dedup_max_entries,
        )
        self._handler: FrameHandler | None = None
        self._group: asyncio.TaskGroup | None = None
        self._server: asyncio.Server | None = None
        self._udp: asyncio.DatagramTransport | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._datagrams = 0
        self._supervising: asyncio.Task[None] | None = None
        self._ports = Ports(None, None)

    async def __aenter__(self) -> Self:
        await self._memory.__aenter__()
        self._handler = FrameHandler(self._routes, self._outbox, self._memory, self._supervisor)
        group = asyncio.TaskGroup()
        await group.__aenter__()
        self._group = group
        try:
            await self._listen()
        except BaseException:
            await self._stop()
            raise
        self._supervising = group.create_task(self._supervise(), name="sia:supervision")
        logger.info(
            "sia: listening on %s (tcp %s, udp %s) for %d accounts",
            self._config.host,
            self._ports.tcp,
            self._ports.udp,
            len(self._routes),
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._stop()

    @property
    def ports(self) -> Ports:
        """The TCP and UDP ports listened on (the picked ones when configured with 0)."""
        return self._ports

    @property
    def tally(self) -> Tally:
        """What the receiver did with the frames so far."""
        if self._handler is None:
            return Tally()
        return self._handler.tally

    def health(self) -> wire.DriverHealth:
        """The driver's health for the agent status (offline panels are events, not this)."""
        if self._server is None and self._udp is None:
            return wire.DriverHealth(state=DriverState.DOWN, detail="not listening")
        t = self.tally
        detail = (
            f"tcp {self._ports.tcp}, udp {self._ports.udp}: {t.frames} frames, {t.acked} acked,"
            f" {t.nak} NAK, {t.duh} DUH, {t.silent} bad CRC, {t.not_stored} not stored;"
            f" {len(self._supervisor.offline())} panels offline"
        )
        return wire.DriverHealth(state=DriverState.OK, detail=detail)

    # Listening and stopping.

    async def _listen(self) -> None:
        config = self._config
        loop = asyncio.get_running_loop()
        tcp = udp = None
        try:
            if config.tcp:
                self._server = await asyncio.start_server(
                    self._accept, config.host, config.port, limit=_READ * 2
                )
                tcp = int(self._server.sockets[0].getsockname()[1])
            if config.udp:
                port = tcp if config.port == 0 and tcp is not None else config.port
                try:
                    udp_transport, _ = await loop.create_datagram_endpoint(
                        lambda: _Datagrams(self), local_addr=(config.host, port)
                    )
                except OSError:
                    if config.port != 0:
                        raise
                    # The TCP port picked for us is taken on UDP: any free one will do.
                    udp_transport, _ = await loop.create_datagram_endpoint(
                        lambda: _Datagrams(self), local_addr=(config.host, 0)
                    )
                self._udp = udp_transport
                udp = int(udp_transport.get_extra_info("sockname")[1])
        except OSError as exc:
            raise DriverError(f"sia: cannot listen on {config.host}:{config.port}: {exc}") from exc
        self._ports = Ports(tcp, udp)

    async def _stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
        udp, self._udp = self._udp, None
        if udp is not None:
            udp.close()
        for writer in list(self._writers):
            writer.close()  # its reader sees the end; a frame being stored finishes first
        if self._supervising is not None:
            self._supervising.cancel()
        group, self._group = self._group, None
        try:
            if group is not None:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(_SHUTDOWN_S):
                        # Not the caller's exception: the group's tasks were ended above,
                        # and only a failure of their own belongs in its ExceptionGroup.
                        await group.__aexit__(None, None, None)
            if server is not None:
                await server.wait_closed()
        finally:
            await self._memory.__aexit__(None, None, None)

    # TCP.

    def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        if self._group is None or len(self._writers) >= self._config.max_connections:
            logger.warning("sia: connection from %s refused: at the limit", peer)
            writer.close()
            return
        self._writers.add(writer)
        self._group.create_task(self._serve(reader, writer, peer), name=f"sia:tcp:{peer}")

    async def _serve(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, peer: object
    ) -> None:
        """Frame, answer and store everything one connection sends, until it ends or idles."""
        splitter = FrameSplitter()
        try:
            while True:
                async with asyncio.timeout(self._config.idle_timeout_s):
                    data = await reader.read(_READ)
                if not data:
                    break
                for frame in splitter.feed(data):
                    answer = await self._answer(frame)
                    if answer is not None and not writer.is_closing():
                        writer.write(answer)
                        async with asyncio.timeout(self._config.idle_timeout_s):
                            await writer.drain()
        except TimeoutError:
            logger.info("sia: connection from %s idle, closed", peer)
        except (ConnectionError, OSError) as exc:
            logger.info("sia: connection from %s lost: %s", peer, exc)
        finally:
            self._writers.discard(writer)
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()
            if splitter.dropped:
                logger.info("sia: %d bytes from %s were not frames", splitter.dropped, peer)

    async def _answer(self, frame: bytes) -> bytes | None:
        if self._handler is None:
            return None
        try:
            return await self._handler.handle(frame)
        except Exception:  # no answer loses nothing: the panel sends again
            # A bug on one frame must not take the receiver (and every other panel) down.
            logger.exception("sia: frame not handled")
            return None

    # UDP.

    def on_datagram(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        """Handle one datagram (its frames, their answers) in a task of its own."""
        if self._group is None or self._datagrams >= MAX_DATAGRAMS:
            logger.warning("sia: datagram from %s dropped: busy", addr)
            return
        self._datagrams += 1
        self._group.create_task(self._datagram(data, addr), name=f"sia:udp:{addr}")

    async def _datagram(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        try:
            for frame in FrameSplitter().feed(data):
                answer = await self._answer(frame)
                if answer is not None and self._udp is not None:
                    self._udp.sendto(answer, addr)
        finally:
            self._datagrams -= 1

    # Supervision.

    async def _supervise(self) -> None:
        """Report `device.offline` for each panel silent past its limit, once stored."""
        while True:
            await asyncio.sleep(self._supervisor.tick_s)
            for account in self._supervisor.overdue():
                route = self._routes.get(account)
                if route is None or self._handler is None:
                    continue
                draft = presence_draft(route, EventType.DEVICE_OFFLINE, None)
                if await self._handler.store_presence(draft):
                    self._supervisor.went_offline(account)
                    logger.warning(
                        "sia: account %s (%s) missed supervision", account, route.panel.id
                    )
