"""A TCP proxy that can delay, drop, reset or black-hole the link it stands in for.

Put it between a client and a server (a broker, a database) and point the client at
`proxy.port`. Its asyncio loop runs in a thread of its own, so sync tests and async tests
(on their own loop) drive it alike; every control method is thread-safe and returns once
the change has taken effect on the proxy's loop.

Modes (the current one applies to every connection, existing and new):

- `pass_through()`: forward bytes both ways as they come. Also heals every other mode.
- `delay(seconds)`: each chunk read from either side is written to the other `seconds`
  after it was read; order is kept within each direction, and reading goes on meanwhile,
  so this is latency, not throughput loss. Chunks already queued keep their deadlines
  when the delay changes.
- `drop()`: close every open connection (FIN both sides, or RST where the proxy holds
  unread bytes, as the kernel does); new connections are accepted and closed at once,
  so clients see an immediate EOF.
- `blackhole()`: connections stay open, but every byte read from either side from now on
  is discarded (an EOF too); new connections are accepted and hear nothing, with no
  upstream behind them. Leaving the black hole (any other mode) resets (RST) each
  connection that lost bytes or has no upstream, since its byte stream is torn;
  connections that stayed idle carry on.

One action, not a mode:

- `reset()`: abort every open connection with RST on both sides (SO_LINGER 0); the mode
  is unchanged, so new connections are handled as before (they pass after
  `pass_through()`).

A read or write error on one side of a connection (a peer's RST) is passed on as an RST
to the other side; an EOF is passed on as an EOF (half-close) after the queued bytes.
"""

import asyncio
import contextlib
import enum
import socket
import struct
import threading
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self, TypeVar

__all__ = ["FaultProxy", "FaultProxyFactory", "ProxyMode", "ProxyStats"]

_T = TypeVar("_T")
_CHUNK = 65536
_CONTROL_TIMEOUT = 10.0
# (deadline on the proxy loop's clock, bytes), or None for an EOF to pass on.
_Item = tuple[float, bytes] | None


class ProxyMode(enum.Enum):
    """What the proxy does with the bytes and connections it sees."""

    PASS_THROUGH = "pass_through"
    DELAY = "delay"
    DROP = "drop"
    BLACKHOLE = "blackhole"


@dataclass(frozen=True, slots=True)
class ProxyStats:
    """Counters since the proxy started; bytes are counted when written to the far side."""

    connections_accepted: int
    connections_open: int
    bytes_to_upstream: int
    bytes_to_client: int
    bytes_discarded: int


@dataclass(eq=False)
class _Link:
    """One proxied connection: the client's streams and, unless black-holed at accept,
    the upstream's."""

    client_reader: asyncio.StreamReader
    client: asyncio.StreamWriter
    upstream_reader: asyncio.StreamReader | None = None
    upstream: asyncio.StreamWriter | None = None
    torn: bool = False
    task: asyncio.Task[None] | None = None

    def writers(self) -> list[asyncio.StreamWriter]:
        """Both sides' writers (one while black-holed at accept)."""
        return [w for w in (self.client, self.upstream) if w is not None]

    def close(self) -> None:
        """Close both sides with FIN once their buffers are flushed."""
        for writer in self.writers():
            writer.close()

    def abort(self) -> None:
        """Close both sides at once with RST."""
        for writer in self.writers():
            _abort_with_rst(writer)


def _abort_with_rst(writer: asyncio.StreamWriter) -> None:
    """Abort `writer`'s connection so the peer gets an RST, not a FIN."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        # Linger on, timeout 0: close() discards the buffers and sends RST. An OSError
        # means the socket is already closed: nothing left to reset.
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


@dataclass
class _Counters:
    """Mutable counters, touched only on the proxy's loop."""

    accepted: int = 0
    to_upstream: int = 0
    to_client: int = 0
    discarded: int = 0


@dataclass
class _State:
    """Everything the proxy's loop owns."""

    mode: ProxyMode = ProxyMode.PASS_THROUGH
    delay: float = 0.0
    links: set[_Link] = field(default_factory=set)
    counters: _Counters = field(default_factory=_Counters)


class FaultProxy:
    """A loopback TCP proxy to `upstream_host:upstream_port` with switchable faults.

    See the module docstring for the exact behaviour of each mode. Use as a context
    manager (or `start()`/`close()`); closing aborts every connection.
    """

    def __init__(
        self,
        upstream_host: str,
        upstream_port: int,
        *,
        listen_host: str = "127.0.0.1",
        connect_timeout: float = 5.0,
    ) -> None:
        self.upstream_host = upstream_host
        self.upstream_port = upstream_port
        self._listen_host = listen_host
        self._connect_timeout = connect_timeout
        self._state = _State()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stopping: asyncio.Event | None = None
        self._port: int | None = None
        self._started = threading.Event()
        self._start_error: BaseException | None = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # --- lifecycle -------------------------------------------------------------------

    def start(self) -> None:
        """Start the proxy's thread and return once it listens."""
        if self._thread is not None:
            msg = "this FaultProxy was already started"
            raise RuntimeError(msg)
        self._thread = threading.Thread(
            target=asyncio.run,
            args=(self._main(),),
            name=f"fault-proxy->{self.upstream_host}:{self.upstream_port}",
            daemon=True,  # never keeps the interpreter alive; close() is the real exit
        )
        self._thread.start()
        self._started.wait(timeout=_CONTROL_TIMEOUT)
        if self._start_error is not None:
            msg = "the fault proxy failed to start"
            raise RuntimeError(msg) from self._start_error
        if self._port is None:
            raise RuntimeError(f"the fault proxy did not listen within {_CONTROL_TIMEOUT} s")

    def close(self) -> None:
        """Stop listening, abort every connection and join the thread. Idempotent."""
        loop, stopping, thread = self._loop, self._stopping, self._thread
        if loop is None or stopping is None or thread is None or not thread.is_alive():
            return
        loop.call_soon_threadsafe(stopping.set)
        thread.join(timeout=_CONTROL_TIMEOUT)

    async def _main(self) -> None:
        """The proxy thread's loop body: listen until `close()`, then tear down."""
        try:
            self._loop = asyncio.get_running_loop()
            self._stopping = asyncio.Event()
            server = await asyncio.start_server(self._accept, self._listen_host, 0)
        except BaseException as exc:
            self._start_error = exc
            self._started.set()
            raise
        self._port = int(server.sockets[0].getsockname()[1])
        self._started.set()
        async with server:
            await self._stopping.wait()
            server.close()
            await self._end_links(lambda _link: True, abort=True)
        # Let the transports' connection_lost callbacks run before the loop closes.
        await asyncio.sleep(0)

    # --- public surface ----------------------------------------------------------------

    @property
    def host(self) -> str:
        """The address clients connect to."""
        return self._listen_host

    @property
    def port(self) -> int:
        """The port clients connect to."""
        if self._port is None:
            msg = "the fault proxy is not listening"
            raise RuntimeError(msg)
        return self._port

    @property
    def mode(self) -> ProxyMode:
        """The current mode."""
        return self._state.mode

    def pass_through(self) -> None:
        """Forward everything immediately (heal). Ends a black hole: see the module doc."""
        self._control(self._set_mode(ProxyMode.PASS_THROUGH))

    def delay(self, seconds: float) -> None:
        """Deliver each chunk `seconds` after it was read, both directions, order kept."""
        if seconds < 0:
            raise ValueError(f"a delay cannot be negative, got {seconds}")
        self._control(self._set_mode(ProxyMode.DELAY, seconds))

    def drop(self) -> None:
        """Close all connections (FIN) and close each new one as soon as it is accepted."""
        self._control(self._set_mode(ProxyMode.DROP))

    def blackhole(self) -> None:
        """Keep connections open but discard every byte both ways, new connections too."""
        self._control(self._set_mode(ProxyMode.BLACKHOLE))

    def reset(self) -> None:
        """Abort every open connection with RST on both sides; the mode stays as it is."""
        self._control(self._end_links(lambda _link: True, abort=True))

    def stats(self) -> ProxyStats:
        """A consistent snapshot of the counters."""
        return self._control(self._snapshot())

    # --- on the proxy's loop --------------------------------------------------------------

    def _control(self, coroutine: Coroutine[Any, Any, _T]) -> _T:
        """Run `coroutine` on the proxy's loop and wait for its result (thread-safe)."""
        loop = self._loop
        if loop is None or self._thread is None or not self._thread.is_alive():
            coroutine.close()
            msg = "the fault proxy is not running"
            raise RuntimeError(msg)
        if threading.current_thread() is self._thread:
            coroutine.close()
            msg = "control the fault proxy from outside its own thread"
            raise RuntimeError(msg)
        return asyncio.run_coroutine_threadsafe(coroutine, loop).result(_CONTROL_TIMEOUT)

    def _mode_now(self) -> ProxyMode:
        """The mode at this instant (a call, so type narrowing cannot outlive an await)."""
        return self._state.mode

    async def _snapshot(self) -> ProxyStats:
        """The counters, read on the loop that writes them."""
        counters = self._state.counters
        return ProxyStats(
            connections_accepted=counters.accepted,
            connections_open=len(self._state.links),
            bytes_to_upstream=counters.to_upstream,
            bytes_to_client=counters.to_client,
            bytes_discarded=counters.discarded,
        )

    async def _set_mode(self, mode: ProxyMode, delay: float = 0.0) -> None:
        """Switch modes and apply what the switch does to open connections."""
        leaving_blackhole = (
            self._state.mode is ProxyMode.BLACKHOLE and mode is not ProxyMode.BLACKHOLE
        )
        self._state.mode, self._state.delay = mode, delay
        if mode is ProxyMode.DROP:
            await self._end_links(lambda _link: True, abort=False)
        elif leaving_blackhole:
            await self._end_links(lambda link: link.torn, abort=True)

    async def _end_links(self, which: Callable[[_Link], bool], *, abort: bool) -> None:
        """Close (FIN) or abort (RST) the chosen links and wait for their tasks to end."""
        chosen = [link for link in self._state.links if which(link)]
        for link in chosen:
            if abort:
                link.abort()
            else:
                link.close()
            if link.task is not None:
                link.task.cancel()
        await asyncio.gather(
            *(link.task for link in chosen if link.task is not None), return_exceptions=True
        )

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Handle a new client connection according to the current mode."""
        self._state.counters.accepted += 1
        link = _Link(client_reader=reader, client=writer)
        if self._state.mode is ProxyMode.DROP:
            writer.close()
            return
        if self._state.mode is ProxyMode.BLACKHOLE:
            link.torn = True  # no upstream: it cannot outlive the black hole
        else:
            try:
                async with asyncio.timeout(self._connect_timeout):
                    link.upstream_reader, link.upstream = await asyncio.open_connection(
                        self.upstream_host, self.upstream_port
                    )
            except (OSError, TimeoutError):
                _abort_with_rst(writer)  # the client sees what a refused upstream means
                return
            except asyncio.CancelledError:
                _abort_with_rst(writer)  # the proxy is closing: leave no transport behind
                raise
            if self._mode_now() is ProxyMode.DROP:  # dropped while we were connecting
                link.close()
                return
        self._state.links.add(link)
        link.task = asyncio.create_task(self._serve(link), name=f"fault-proxy-link-{id(link)}")

    async def _serve(self, link: _Link) -> None:
        """Pump both directions of `link` until both ended; pass a reset on as a reset."""
        try:
            async with asyncio.TaskGroup() as pumps:
                pumps.create_task(
                    self._pump(link, link.client_reader, link.upstream, upstream=True)
                )
                if link.upstream_reader is not None:
                    pumps.create_task(
                        self._pump(link, link.upstream_reader, link.client, upstream=False)
                    )
        except* (OSError, RuntimeError):
            # A peer reset or a write after close: the other side hears a reset too.
            link.abort()
        finally:
            link.close()
            self._state.links.discard(link)

    async def _pump(
        self,
        link: _Link,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter | None,
        *,
        upstream: bool,
    ) -> None:
        """Move one direction: a reader task queues chunks, a writer task delivers them."""
        queue: asyncio.Queue[_Item] = asyncio.Queue()
        async with asyncio.TaskGroup() as sides:
            sides.create_task(self._read_side(link, reader, queue), name="read")
            if writer is not None:
                sides.create_task(self._write_side(writer, queue, upstream=upstream), name="write")

    async def _read_side(
        self, link: _Link, reader: asyncio.StreamReader, queue: asyncio.Queue[_Item]
    ) -> None:
        """Read chunks and queue each with its delivery deadline, or discard it."""
        loop = asyncio.get_running_loop()
        while True:
            data = await reader.read(_CHUNK)
            match self._state.mode:
                case ProxyMode.BLACKHOLE:
                    # Discarded, an EOF too: the far side's stream now has a hole in it.
                    link.torn = True
                    self._state.counters.discarded += len(data)
                case ProxyMode.DELAY:
                    queue.put_nowait((loop.time() + self._state.delay, data) if data else None)
                case _:
                    queue.put_nowait((loop.time(), data) if data else None)
            if not data:
                return

    async def _write_side(
        self, writer: asyncio.StreamWriter, queue: asyncio.Queue[_Item], *, upstream: bool
    ) -> None:
        """Deliver queued chunks at their deadlines, in order; pass an EOF on as an EOF."""
        loop = asyncio.get_running_loop()
        while (item := await queue.get()) is not None:
            deliver_at, data = item
            if (wait := deliver_at - loop.time()) > 0:
                await asyncio.sleep(wait)
            # Count before writing, so a peer that has read the bytes sees them counted.
            if upstream:
                self._state.counters.to_upstream += len(data)
            else:
                self._state.counters.to_client += len(data)
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()


FaultProxyFactory = Callable[[str, int], FaultProxy]
"""What the `fault_proxy` fixture yields: `make(upstream_host, upstream_port)` → a started proxy."""
